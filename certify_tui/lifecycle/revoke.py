"""Revoking a certificate's current version at its CA (RFC 8555 7.6), optionally once a replacement is in place.

Signed by the certificate's account key; for keyCompromise by the certificate's own key (a jwk header), which
proves the key is in the hands of whoever asks, as the CA requires for that reason. Without a replacement the
certificate becomes "revoked" and waits for someone to request it; with one (`renew`), the replacement is
ordered and deployed through the normal request path first, and only then is the old version revoked: the
certificate stays valid on its new version.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from certify_tui.certfiles import FILE_NAMES
from certify_tui.errors import CAError, OperationError, UsageError
from certify_tui.events import ProgressCallback, RequestLog
from certify_tui.keys import load_key
from certify_tui.lifecycle.accounts import session_for
from certify_tui.lifecycle.certificates import current_version, get_certificate
from certify_tui.lifecycle.revoked import mark_revoked
from certify_tui.paths import DataDir
from certify_tui.renewal import leases
from certify_tui.store.models import ManagedCertificate

# The RFC 5280 reasons a subscriber may give an ACME CA, by name -> CRLReason code.
REVOKE_REASONS = {"unspecified": 0, "keyCompromise": 1, "superseded": 4, "cessationOfOperation": 5}
KEY_COMPROMISE = "keyCompromise"


@dataclass(frozen=True)
class IssuedVersion:
    """What is revoked: one issued version's serial, certificate and key, read before anything changes."""

    serial: str
    cert_pem: bytes
    key_pem: bytes


@dataclass(frozen=True)
class RevokeResult:
    name: str
    serial: str  # the revoked version's
    reason: str
    signed_by: str  # "account key" or "certificate key"
    revoked_at: datetime
    replacement_serial: str | None = None  # with renew: the new current version, valid

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "serial": self.serial, "reason": self.reason, "signed_by": self.signed_by,
                "revoked_at": self.revoked_at.isoformat(), "replacement_serial": self.replacement_serial}


def check_reason(reason: str | None) -> str:
    """The reason as the CA takes it; UsageError (field "reason") naming the choices."""
    reason = reason or "unspecified"
    if reason not in REVOKE_REASONS:
        raise UsageError(f"'{reason}' is not a revocation reason: use one of {', '.join(REVOKE_REASONS)}.",
                         field="reason")
    return reason


def issued_version(cert: ManagedCertificate) -> IssuedVersion:
    """The current version's files, from its archive folder (never changed once written)."""
    version = current_version(cert)
    if version is None:
        raise OperationError(f"'{cert.name}' has no issued certificate to revoke.")
    folder = Path(version.archive_dir)
    try:
        cert_pem = (folder / FILE_NAMES["cert"]).read_bytes()
        key_pem = (folder / FILE_NAMES["privkey"]).read_bytes()
    except OSError as exc:
        raise OperationError(f"Cannot read the files of {cert.name}'s version {version.version} in {folder}: "
                             f"{exc.strerror or exc}.") from exc
    return IssuedVersion(version.serial, cert_pem, key_pem)


def check_revocable(cert: ManagedCertificate) -> None:
    """Refuse what must not be sent: a version already revoked."""
    if cert.status == "revoked":
        when = f" on {cert.revoked_at:%Y-%m-%d %H:%M} UTC" if cert.revoked_at else ""
        why = f" ({cert.revocation_reason})" if cert.revocation_reason else ""
        raise OperationError(f"'{cert.name}' is already revoked{when}{why}: request it to replace it "
                             f"(certify-tui cert request {cert.name}).")


def stop_key_reuse(cert: ManagedCertificate, reason: str, log: RequestLog) -> None:
    """A compromised key is never used again: the next version (the replacement too) gets a new one."""
    if reason == KEY_COMPROMISE and cert.reuse_key:
        cert.reuse_key = False
        cert.save()
        log.info("key reuse switched off: the compromised key is not used for the next certificate")


def revocation_target(name: str, reason: str | None = None) -> tuple[str, str]:
    """(exact name, serial) of what `revoke_certificate` would revoke, checked as it checks: for a face to
    name in its confirmation before anything is sent."""
    check_reason(reason)
    cert = get_certificate(name)
    check_revocable(cert)
    version = current_version(cert)
    if version is None:
        raise OperationError(f"'{cert.name}' has no issued certificate to revoke.")
    return cert.name, version.serial


def revoke_certificate(data: DataDir, name: str, *, reason: str | None = None, renew: bool = False,
                       on_event: ProgressCallback | None = None, owner: str | None = None) -> RevokeResult:
    """Revoke the current version of `name` at its CA; with `renew`, after its replacement is deployed."""
    reason = check_reason(reason)
    cert = get_certificate(name)
    check_revocable(cert)
    if renew:
        return _replace_then_revoke(data, cert, reason, on_event, owner)
    with leases.lease(cert.name, owner):
        cert = get_certificate(cert.name)  # read under the lease: a renewal may just have replaced it
        check_revocable(cert)
        old = issued_version(cert)
        with _log(data, cert, on_event) as log:
            log.step("start", f"revoking {old.serial} ({reason})")
            signed_by = _revoke_at_ca(cert, old, reason, log)
            stop_key_reuse(cert, reason, log)
            mark_revoked(cert, reason=reason, renew=False)
            log.step("done", f"certificate {old.serial} revoked ({reason}); request it to replace it", ok=True)
    return RevokeResult(cert.name, old.serial, reason, signed_by, cert.revoked_at or datetime.now(UTC))


def _replace_then_revoke(data: DataDir, cert: ManagedCertificate, reason: str, on_event: ProgressCallback | None,
                         owner: str | None) -> RevokeResult:
    from certify_tui.lifecycle.request import request_certificate  # the ACME order stack, loaded on use

    old = issued_version(cert)  # kept before the request replaces the live files
    with _log(data, cert, on_event) as log:
        stop_key_reuse(cert, reason, log)
    result = request_certificate(data, cert.name, on_event=on_event, owner=owner,
                                 reason=f"replacing {old.serial} before revoking it ({reason})")
    new_serial = result.version.serial
    with _log(data, cert, on_event) as log:
        if not result.deployed:
            message = (f"The replacement {new_serial} was issued but not deployed ({result.deploy_error}), so "
                       f"{old.serial} was not revoked: fix the deployment (certify-tui cert deploy {cert.name}).")
            log.step("failed", message, ok=False)
            raise OperationError(message)
        log.step("start", f"revoking the replaced certificate {old.serial} ({reason}); {new_serial} is in place")
        try:
            with leases.lease(cert.name, owner):
                signed_by = _revoke_at_ca(cert, old, reason, log, replaced_by=new_serial)
        except CAError as exc:  # the replacement stands: say so, with the CA's answer
            raise CAError(f"{new_serial} replaced it, but {old.serial} was not revoked: {exc.message}",
                          problem_type=exc.problem_type, detail=exc.detail) from exc
        log.step("done", f"certificate {old.serial} revoked ({reason}); {new_serial} is current", ok=True)
    return RevokeResult(cert.name, old.serial, reason, signed_by, datetime.now(UTC), new_serial)


def _revoke_at_ca(cert: ManagedCertificate, old: IssuedVersion, reason: str, log: RequestLog,
                  replaced_by: str | None = None) -> str:
    """Send the revocation; the signer's name. A CA that already had it revoked: recorded as revoked (unless
    a replacement is current), and the CA's answer raised."""
    from certify_tui.ca.client import AcmeSession

    account = cert.account
    try:
        if reason == KEY_COMPROMISE:
            signed_by = "certificate key"
            session = AcmeSession(account.directory_url, load_key(old.key_pem), ca_bundle=account.ca_bundle)
        else:
            signed_by = "account key"
            session = session_for(account)
        log.info(f"signed by the {signed_by}")
        session.revoke(old.cert_pem, REVOKE_REASONS[reason])
    except CAError as exc:
        log.step("failed", exc.message, ok=False)
        if exc.problem_type == "alreadyRevoked" and replaced_by is None:
            mark_revoked(cert, reason=reason, renew=False)
        raise
    except OperationError as exc:
        log.step("failed", exc.message, ok=False)
        raise
    return signed_by


@contextlib.contextmanager
def _log(data: DataDir, cert: ManagedCertificate, on_event: ProgressCallback | None) -> Iterator[RequestLog]:
    """The certificate's request log for this revocation, closed afterwards."""
    log = RequestLog(data.certificate_log(cert.name), on_event, name=cert.name)
    try:
        yield log
    finally:
        log.close()
