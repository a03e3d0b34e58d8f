"""dns-01 providers: each publishes `_acme-challenge` TXT records through some DNS API, then removes them.

Shared machinery lives in base.py (the DnsProvider contract: create/delete one TXT record, with
propagation checks and CNAME delegation handled once for every provider).
"""
