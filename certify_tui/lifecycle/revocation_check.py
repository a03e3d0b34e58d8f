"""Noticing that a CA revoked one of our certificates: OCSP first, the CRL as the fallback, once a day.

A use case beside renew.py, run by the daily maintenance (through Core) and by `cert check-revocation`. It is
polite and bounded: each certificate is asked about at most once a day (`revocation_checked_at`), a CRL is
fetched once per run for every certificate that names it, every request has a time limit and a size cap, and
the run stops starting new checks when its time budget is spent (the rest go first next time). Nothing here
raises into the caller for a failed check: failures are reported and logged, and renewals never wait on it.
A certificate found revoked is marked so (renewed at once when it renews automatically) and notified.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import peewee
from cryptography import x509
from cryptography.exceptions import InvalidSignature

from certify_tui.ca import crl, ocsp
from certify_tui.ca.revocation_http import FETCH_TIMEOUT, RevocationAnswer
from certify_tui.certfiles import FILE_NAMES
from certify_tui.errors import CertifyError, OperationError
from certify_tui.lifecycle.certificates import get_certificate
from certify_tui.lifecycle.revoked import mark_revoked
from certify_tui.lifecycle.settings import get_settings
from certify_tui.renewal import leases
from certify_tui.store.models import CertificateVersion, ManagedCertificate

log = logging.getLogger("certify_tui")

CHECK_SPACING = timedelta(hours=23)  # "once a day", with room for a daily run that starts a little early


@dataclass(frozen=True)
class RevocationCheck:
    name: str
    # good, revoked, unknown (the source does not know it), failed (no answer), skipped (not asked: why is in
    # the message), busy (found revoked while another process renews it: that renewal replaces it)
    result: str
    message: str
    via: str | None = None  # ocsp or crl: where the answer came from
    serial: str | None = None
    reason: str | None = None
    revoked_at: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.result != "failed"


@dataclass
class RevocationRun:
    checks: list[RevocationCheck] = field(default_factory=list)
    left: list[str] = field(default_factory=list)  # not reached before the time budget ran out
    crl_fetches: int = 0

    def count(self, result: str) -> int:
        return sum(1 for check in self.checks if check.result == result)

    def summary(self) -> str:
        asked = [c for c in self.checks if c.result != "skipped"]
        text = (f"checked {len(asked)} certificate(s): {self.count('good')} good, {self.count('revoked')} revoked, "
                f"{self.count('unknown')} unknown, {self.count('failed')} failed")
        if self.count("busy"):
            text += f", {self.count('busy')} revoked while being renewed"
        if self.count("revoked"):
            text += f" (revoked: {', '.join(c.name for c in self.checks if c.result == 'revoked')})"
        if self.left:
            text += f"; {len(self.left)} left for the next run (time budget spent)"
        return text


def check_revocations(names: list[str] | None = None, *, force: bool = False, budget_seconds: float | None = None,
                      now: datetime | None = None) -> RevocationRun:
    """Check the named certificates (default: every issued one not checked in the last day, oldest check
    first). `force`: check even those checked in the last day. `budget_seconds`: start no check after that."""
    now = now or datetime.now(UTC)
    deadline = None if budget_seconds is None else time.monotonic() + budget_seconds
    run = RevocationRun()
    cache = crl.CRLCache()
    for cert in _candidates(names, force, now):
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            run.left.append(cert.name)
            continue
        skip = _skip_reason(cert, force, now)
        check = (RevocationCheck(cert.name, "skipped", skip) if skip
                 else _check_one(cert, cache, now, min(FETCH_TIMEOUT, remaining or FETCH_TIMEOUT)))
        if check.result != "skipped" or names:  # a run over everything lists only what it asked about
            run.checks.append(check)
        if check.result in ("failed", "unknown"):
            log.warning("revocation check of %s: %s", cert.name, check.message)
        elif check.result != "skipped":
            log.info("revocation check of %s: %s", cert.name, check.message)
    run.crl_fetches = cache.fetches
    return run


def _candidates(names: list[str] | None, force: bool, now: datetime) -> list[ManagedCertificate]:
    m = ManagedCertificate
    if names:
        return [get_certificate(name) for name in names]  # NotFoundError for a wrong name, before any request
    query = m.select().where((m.status != "revoked") & (m.not_after > now))
    if not force:
        query = query.where(m.revocation_checked_at.is_null() | (m.revocation_checked_at <= now - CHECK_SPACING))
    return list(query.order_by(m.revocation_checked_at.asc(nulls="first"), m.name))


def _skip_reason(cert: ManagedCertificate, force: bool, now: datetime) -> str | None:
    if cert.status == "revoked":
        return "already marked revoked"
    if cert.not_after is None:
        return "never issued"
    if cert.not_after <= now:
        return "expired: a CA no longer reports on it"
    checked = cert.revocation_checked_at
    if not force and checked is not None and checked > now - CHECK_SPACING:
        return f"checked at {checked:%Y-%m-%d %H:%M} UTC; one check a day (--force to check again)"
    return None


def _check_one(cert: ManagedCertificate, cache: crl.CRLCache, now: datetime, timeout: float) -> RevocationCheck:
    try:
        serial, leaf, issuer = _current_version(cert)
    except CertifyError as exc:
        return RevocationCheck(cert.name, "failed", exc.message)
    ocsp_urls, crl_urls = ocsp.ocsp_urls(leaf), crl.crl_urls(leaf)
    if not ocsp_urls and not crl_urls:
        return RevocationCheck(cert.name, "skipped", "the certificate names no OCSP responder or CRL", serial=serial)
    if issuer is None:
        return RevocationCheck(cert.name, "failed", "the stored chain lacks the certificate's issuer, which "
                                                    "signs its OCSP answers and CRL", serial=serial)
    ManagedCertificate.update(revocation_checked_at=now).where(ManagedCertificate.id == cert.id).execute()
    answer, problems = _ask(leaf, issuer, ocsp_urls, crl_urls, cache, now, timeout)
    if answer is None:
        return RevocationCheck(cert.name, "failed", "no answer: " + "; ".join(problems), serial=serial)
    if answer.status == "revoked":
        return _record_revoked(cert, serial, answer)
    message = {"good": "not revoked", "unknown": "the responder does not know this certificate"}[answer.status]
    return RevocationCheck(cert.name, answer.status, f"{message} ({answer.via.upper()} {answer.url})",
                           via=answer.via, serial=serial)


def _ask(leaf: x509.Certificate, issuer: x509.Certificate, ocsp_urls: list[str], crl_urls: list[str],
         cache: crl.CRLCache, now: datetime, timeout: float) -> tuple[RevocationAnswer | None, list[str]]:
    """OCSP first; the CRL when OCSP gives no definite answer. (answer or None, what went wrong on the way)."""
    problems: list[str] = []
    unknown: RevocationAnswer | None = None
    for url in ocsp_urls:
        try:
            answer = ocsp.query(url, leaf, issuer, now, timeout=timeout)
        except OperationError as exc:
            problems.append(f"OCSP: {exc.message}")
            continue
        if answer.status != "unknown":
            return answer, problems
        unknown = unknown or answer
    for url in crl_urls:
        try:
            return cache.lookup(url, leaf, issuer, now, timeout=timeout), problems
        except OperationError as exc:
            problems.append(f"CRL: {exc.message}")
    return unknown, problems


def _current_version(cert: ManagedCertificate) -> tuple[str, x509.Certificate, x509.Certificate | None]:
    """(serial, leaf, its issuer from the stored chain or None) of the certificate's current version."""
    row = (CertificateVersion.select().where(CertificateVersion.certificate == cert)
           .order_by(CertificateVersion.version.desc()).first())
    if row is None:
        raise OperationError("no recorded version to check")
    folder = Path(row.archive_dir)
    try:
        leaf = x509.load_pem_x509_certificate((folder / FILE_NAMES["cert"]).read_bytes())
        chain_pem = (folder / FILE_NAMES["chain"]).read_bytes()
        chain = x509.load_pem_x509_certificates(chain_pem) if b"-----BEGIN CERTIFICATE" in chain_pem else []
    except (OSError, ValueError) as exc:
        raise OperationError(f"the current version's files in {folder} cannot be read", detail=str(exc)) from exc
    return row.serial, leaf, next((c for c in chain if _issued(leaf, c)), None)


def _issued(leaf: x509.Certificate, candidate: x509.Certificate) -> bool:
    try:
        leaf.verify_directly_issued_by(candidate)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _record_revoked(cert: ManagedCertificate, serial: str, answer: RevocationAnswer) -> RevocationCheck:
    """Mark it revoked under the renewal lease, if the version checked is still the current one."""
    reason = answer.reason or "unspecified"
    when = f" at {answer.revoked_at:%Y-%m-%d %H:%M} UTC" if answer.revoked_at else ""
    message = f"revoked by the CA{when}, reason {reason} ({answer.via.upper()} {answer.url})"
    found = RevocationCheck(cert.name, "revoked", message, via=answer.via, serial=serial, reason=reason,
                            revoked_at=answer.revoked_at)
    try:
        with leases.lease(cert.name):
            current = ManagedCertificate.get_by_id(cert.id)
            latest = (CertificateVersion.select(CertificateVersion.serial)
                      .where(CertificateVersion.certificate == current)
                      .order_by(CertificateVersion.version.desc()).first())
            if latest is None or latest.serial != serial:
                return RevocationCheck(cert.name, "skipped", f"serial {serial} was revoked, but it has been "
                                                             f"replaced since", via=answer.via, serial=serial)
            mark_revoked(current, reason=reason, at=answer.revoked_at, renew=True)
    except leases.Busy:
        return RevocationCheck(cert.name, "busy", message + "; it is being renewed right now", via=answer.via,
                               serial=serial, reason=reason, revoked_at=answer.revoked_at)
    except peewee.PeeweeException as exc:
        return RevocationCheck(cert.name, "failed", f"{message}, but it could not be recorded: {exc}",
                               serial=serial)
    log.warning("%s: %s", cert.name, message)
    _notify(cert.name, message, serial, answer)
    return found


def _notify(name: str, message: str, serial: str, answer: RevocationAnswer) -> None:
    from certify_tui import notify  # apprise loads only when something is to be sent

    try:
        notify.notify_revoked(get_settings(), name, f"{message}. It is renewed at once if it renews automatically.",
                              {"serial": serial, "reason": answer.reason, "revoked_at": answer.revoked_at})
    except Exception as exc:  # noqa: BLE001 - a notification failure is logged, never fatal
        log.warning("notification for %s failed: %s", name, exc)
