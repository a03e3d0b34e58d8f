"""Renewing what is due: one indexed query, ARI consulted, a bounded pool of threads.

`next_attempt` is the single "look at this certificate again at" time: the worker selects
rows whose time has come (an index range scan, never every row), decides with the policy and
the CA's ARI window whether renewal is really due, and either renews or moves the time on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

import peewee

from certify_tui.ca import ari
from certify_tui.certfiles import CertificateFiles
from certify_tui.challenges import http_listener
from certify_tui.errors import CertifyError
from certify_tui.lifecycle.certificates import get_certificate
from certify_tui.lifecycle.request import cached_session, request_certificate
from certify_tui.oserrors import explain
from certify_tui.paths import DataDir
from certify_tui.renewal import leases, policy
from certify_tui.store.models import ManagedCertificate

log = logging.getLogger("certify_tui")


@dataclass(frozen=True)
class RenewOutcome:
    name: str
    action: str  # renewed, not-due, would-renew (dry run), busy, failed, deploy-failed
    message: str
    serial: str | None = None

    @property
    def ok(self) -> bool:
        return self.action not in ("failed", "deploy-failed")


def due_names(now: datetime | None = None, limit: int = 1000) -> list[str]:
    """Certificates whose next look has come, oldest first (uses the next_attempt index)."""
    now = now or datetime.now(UTC)
    m = ManagedCertificate
    query = (m.select(m.name).where((m.auto_renew == True) & (m.next_attempt <= now))  # noqa: E712
             .order_by(m.next_attempt).limit(limit))
    return [row.name for row in query]


@dataclass(frozen=True)
class Decision:
    due: bool
    reason: str  # what sets the renewal time: the policy, the CA's window, a retry
    next_look: datetime | None = None
    renew_at: datetime | None = None


def decide(data: DataDir, cert: ManagedCertificate, now: datetime) -> Decision:
    """Is renewal due now? Consults the CA's ARI window when it offers one; never fails the caller."""
    if cert.not_before is None or cert.not_after is None:
        return Decision(True, "never issued")
    if cert.not_after <= now:
        return Decision(True, "expired")
    if cert.status == "failed" and cert.failure_count:
        return Decision(True, f"retry after failure {cert.failure_count}")
    due = policy.renewal_due(cert.not_before, cert.not_after, cert.renewal)
    reason = policy.describe(cert.renewal)
    next_look = due
    try:
        window = _ari_window(data, cert, now)
    except CertifyError as exc:
        log.info("%s: renewal information unavailable (%s); using the policy alone", cert.name, exc.message)
        window = None
    if window is not None:
        if cert.ari_window_start != window.start or cert.ari_window_end != window.end or not cert.ari_renew_at:
            cert.ari_window_start, cert.ari_window_end = window.start, window.end
            cert.ari_renew_at = window.pick()
        cert.ari_recheck_at, cert.ari_explanation = window.recheck_at, window.explanation_url
        if cert.ari_renew_at < due:
            due, reason = cert.ari_renew_at, "the CA's suggested renewal window (ARI)"
        next_look = min(due, window.recheck_at)
    if due <= now:
        return Decision(True, reason, renew_at=due)
    return Decision(False, reason, next_look, due)


def _ari_window(data: DataDir, cert: ManagedCertificate, now: datetime) -> ari.RenewalWindow | None:
    files = CertificateFiles(data.certificates, cert.name)
    if not files.has_live():
        return None
    session = cached_session(cert.account)
    if not ari.supports_ari(session):
        return None
    if cert.ari_recheck_at and cert.ari_recheck_at > now and cert.ari_window_start and cert.ari_window_end:
        return ari.RenewalWindow(cert.ari_window_start, cert.ari_window_end, cert.ari_explanation,
                                 cert.ari_recheck_at)
    return ari.fetch_window(session, files.live_files()["cert"].read_bytes(), now)


def renew_one(data: DataDir, name: str, *, force: bool = False, dry_run: bool = False,
              cancel: threading.Event | None = None) -> RenewOutcome:
    owner = leases.owner_id()
    try:
        if not force:
            cert = get_certificate(name)
            decision = decide(data, cert, datetime.now(UTC))
            if not decision.due:
                if not dry_run:
                    cert.next_attempt, cert.renew_reason = decision.next_look, decision.reason
                    cert.save()
                return RenewOutcome(name, "not-due", f"not due: renews {decision.renew_at:%Y-%m-%d %H:%M} UTC "
                                                     f"({decision.reason}); next check "
                                                     f"{decision.next_look:%Y-%m-%d %H:%M} UTC")
            reason = decision.reason
        else:
            reason = "forced"
        if dry_run:
            return RenewOutcome(name, "would-renew", f"would renew: {reason}")
        result = request_certificate(data, name, cancel=cancel, owner=owner, reason=reason)
    except leases.Busy as exc:
        return RenewOutcome(name, "busy", exc.message)
    except CertifyError as exc:
        return RenewOutcome(name, "failed", exc.message)
    except (peewee.PeeweeException, OSError) as exc:  # e.g. the database cannot be written: disk full
        known = explain(exc, data.database_path, data.root)
        if known is None:
            raise
        return RenewOutcome(name, "failed", known.message)
    if result.deploy_error:
        return RenewOutcome(name, "deploy-failed", f"issued, but deployment failed: {result.deploy_error}",
                            result.version.serial)
    return RenewOutcome(name, "renewed", f"renewed: serial {result.version.serial}, valid until "
                                         f"{result.version.not_after:%Y-%m-%d %H:%M} UTC", result.version.serial)


def renew_certificates(data: DataDir, names: list[str] | None = None, *, force: bool = False,
                       dry_run: bool = False, pool_size: int = 4, cancel: threading.Event | None = None,
                       on_outcome: Callable[[RenewOutcome], None] | None = None) -> list[RenewOutcome]:
    """Renew the named certificates (or every due one) with at most `pool_size` at once."""
    targets = names if names else due_names()
    if names:
        known = {row.name for row in ManagedCertificate.select(ManagedCertificate.name).where(
            ManagedCertificate.name.in_(names))}
        for name in names:
            if name not in known:  # unknown names are a usage error before anything starts
                get_certificate(name)
    if not targets:
        return []

    def run(name: str) -> RenewOutcome:
        if cancel is not None and cancel.is_set():
            return RenewOutcome(name, "busy", "stopped before starting: the worker is shutting down")
        outcome = renew_one(data, name, force=force, dry_run=dry_run, cancel=cancel)
        log.info("%s: %s", name, outcome.message)
        if on_outcome is not None:
            on_outcome(outcome)
        return outcome

    with http_listener.batch():
        if pool_size <= 1 or len(targets) == 1:
            return [run(n) for n in targets]
        with ThreadPoolExecutor(max_workers=pool_size, thread_name_prefix="renew") as pool:
            return list(pool.map(run, targets))
