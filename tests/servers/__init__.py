"""Real test servers (Pebble ACME CA + challtestsrv) started by the test suite."""
