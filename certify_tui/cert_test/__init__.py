"""`cert test` (Core.test_certificate): find what would make a request fail, before asking the CA.

Each check says passed (ok=True), failed (ok=False, with a remedy) or skipped (ok=None):
- every name resolves (A/AAAA);
- the ports providers listen on themselves can be bound (the built-in http-01 and tls-alpn-01 listeners);
- each rule's provider probes what it publishes, the way the CA will look (its `probe()` hook: an http-01
  file fetched back, a tls-alpn-01 certificate, a dns-01 test TXT record created and deleted);
- CAA at the name (or the closest parent that has CAA) allows the account's CA.

Nothing is sent to the CA. This package orchestrates (checker.py) and looks names up (lookups.py); what is
specific to a provider lives in the provider.
"""

from certify_tui.cert_test.checker import run_checks
from certify_tui.cert_test.lookups import CA_IDENTITIES, caa_decision, caa_lookup, resolve_addresses
from certify_tui.challenges.probing import Check, LookupFailed

__all__ = ["CA_IDENTITIES", "Check", "LookupFailed", "caa_decision", "caa_lookup", "resolve_addresses",
           "run_checks"]
