"""Make a certificate issued elsewhere (certbot, a PFX, a bundle) the current version of a managed certificate.

The one way in for existing files: verified (key matches, chain links), archived and recorded exactly as an issued
version is, so deployment, renewal and repair treat it like any other."""

from __future__ import annotations

from datetime import UTC, datetime

from certify_tui.certfiles import CertificateFiles, StoredVersion
from certify_tui.lifecycle.request import store_version
from certify_tui.paths import DataDir
from certify_tui.store.models import ManagedCertificate


def adopt_version(data: DataDir, cert: ManagedCertificate, fullchain_pem: bytes, key_pem: bytes,
                  *, now: datetime | None = None) -> StoredVersion:
    """Archive and record `fullchain_pem` + `key_pem` as the next version of `cert` and point `live` at it.

    StorageError (one line) when the files are unfit; nothing is recorded then. An expired certificate is
    recorded too (its files still deploy), marked expired and due for renewal at once."""
    files = CertificateFiles(data.certificates, cert.name)
    stored = store_version(data, cert, files, fullchain_pem, key_pem, ari_supported=False)
    now = now or datetime.now(UTC)
    cert.date_issued = stored.not_before  # it was issued then, not now: the renewal policy counts from it
    if stored.not_after <= now:
        cert.status = "expired"
        cert.next_attempt, cert.renew_reason = now, "the imported certificate has expired"
    cert.save()
    return stored
