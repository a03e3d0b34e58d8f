"""Deciding when certificates renew, and retrying failures without hammering the CA."""
