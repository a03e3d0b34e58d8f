"""The background service's faces: the local HTTP API (`api`) and how clients find it (`discovery`)."""
