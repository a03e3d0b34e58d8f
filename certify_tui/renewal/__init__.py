"""What renewing rests on, below the use cases: when a certificate is due (policy), one renewer at a time
(leases), putting `live/` back in line after a crash (repair), and the background worker and daily
maintenance a TUI or service runs on the Core it is given. Renewing itself is a use case: lifecycle/renew.py."""
