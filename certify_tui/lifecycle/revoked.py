"""Recording that a certificate's current version is revoked, whoever revoked it (we, or the CA noticed later)."""

from __future__ import annotations

from datetime import UTC, datetime

from certify_tui.store.models import ManagedCertificate

# RFC 5280 CRLReason names (the ones ACME clients may send, and the ones OCSP/CRL report back).
REASONS = ("unspecified", "keyCompromise", "cACompromise", "affiliationChanged", "superseded",
           "cessationOfOperation", "certificateHold", "removeFromCRL", "privilegeWithdrawn", "aACompromise")


def mark_revoked(cert: ManagedCertificate, *, reason: str, at: datetime | None = None, renew: bool) -> None:
    """Status "revoked" with when and why. `renew`: due for renewal at once (when it renews automatically);
    otherwise it waits for someone to request it (a certificate revoked because it is no longer needed)."""
    now = datetime.now(UTC)
    cert.status = "revoked"
    cert.revoked_at = at or now
    cert.revocation_reason = reason
    if renew and cert.auto_renew:
        cert.next_attempt, cert.renew_reason = now, "revoked: replace it at once"
    else:
        cert.next_attempt, cert.renew_reason = None, "revoked: not renewed automatically (request it to replace it)"
    cert.save()
