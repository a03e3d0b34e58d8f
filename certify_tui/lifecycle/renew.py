"""Renewing what is due: one indexed query, ARI consulted, a bounded pool of threads.

A use case beside request.py (it orders through request_certificate), called by Core.renew; the
renewal package below holds what it decides and locks with (policy, leases).

`next_attempt` is the single "look at this certificate again at" time: the worker selects
rows whose time has come (an index range scan, never every row), decides with the policy and
the CA's ARI window whether renewal is really due, and either renews or moves the time on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import peewee

from certify_tui.ca import ari
from certify_tui.ca.problems import failure_kind
from certify_tui.certfiles import CertificateFiles
from certify_tui.challenges import http_listener
from certify_tui.errors import CertifyError, Transient
from certify_tui.lifecycle import failover
from certify_tui.lifecycle.certificates import get_certificate
from certify_tui.lifecycle.request import cached_session, request_certificate
from certify_tui.oserrors import explain
from certify_tui.paths import DataDir
from certify_tui.plan import Plan
from certify_tui.renewal import leases, policy
from certify_tui.store.models import ManagedCertificate

log = logging.getLogger("certify_tui")


@dataclass(frozen=True)
class RenewOutcome:
    name: str
    action: str  # renewed, not-due, would-renew (dry run), busy, skipped, backoff, rate-limited, failed,
    # deploy-failed
    message: str
    serial: str | None = None

    @property
    def ok(self) -> bool:
        # A certificate waiting out a failure backoff is still failing: a cron run must not report success.
        return self.action not in ("failed", "deploy-failed", "backoff", "rate-limited")


def due_names(now: datetime | None = None, limit: int = 1000) -> list[str]:
    """Certificates whose next look has come, oldest first (uses the next_attempt index)."""
    now = now or datetime.now(UTC)
    m = ManagedCertificate
    query = (m.select(m.name).where((m.auto_renew == True) & (m.next_attempt <= now))  # noqa: E712
             .order_by(m.next_attempt).limit(limit))
    return [row.name for row in query]


def auto_renewed_names() -> list[str]:
    """Every certificate the worker renews (what `renew --force` without names means)."""
    m = ManagedCertificate
    return [row.name for row in m.select(m.name).where(m.auto_renew == True).order_by(m.name)]  # noqa: E712


def left_out(force: bool, now: datetime | None = None) -> list[RenewOutcome]:
    """What a run without names leaves out, each with its reason (so nothing is skipped silently):
    with force, the certificates whose auto-renew is off; without, those waiting out a failure backoff or a
    CA's rate limit."""
    now = now or datetime.now(UTC)
    m = ManagedCertificate
    if force:
        return [RenewOutcome(row.name, "skipped", "auto-renew is off; name it to renew it anyway")
                for row in m.select(m.name).where(m.auto_renew == False).order_by(m.name)]  # noqa: E712
    rows = (m.select(m.name, m.failure_count, m.next_attempt, m.last_error)
            .where((m.auto_renew == True) & (m.status == "failed") & (m.failure_count > 0)  # noqa: E712
                   & (m.next_attempt > now)).order_by(m.next_attempt))
    limited = (m.select(m.name, m.rate_limited_until).where((m.auto_renew == True)  # noqa: E712
                                                            & (m.rate_limited_until > now))
               .order_by(m.rate_limited_until))
    return [RenewOutcome(row.name, "backoff",
                         f"in failure backoff after {row.failure_count} failure(s), next try "
                         f"{row.next_attempt:%Y-%m-%d %H:%M} UTC; last error: {row.last_error or 'unknown'} "
                         f"(renew it with --force to retry now)") for row in rows] + [
        RenewOutcome(row.name, "rate-limited", f"rate limited until {row.rate_limited_until:%Y-%m-%d %H:%M:%S} "
                                               f"UTC: the CA asked to wait; the next try is then")
        for row in limited]


@dataclass(frozen=True)
class Decision:
    due: bool
    reason: str  # what sets the renewal time: the policy, the CA's window, a retry
    next_look: datetime | None = None
    renew_at: datetime | None = None


def decide(data: DataDir, cert: ManagedCertificate, now: datetime) -> Decision:
    """Is renewal due now? Consults the CA's ARI window when it offers one; never fails the caller."""
    if cert.rate_limited_until is not None and cert.rate_limited_until > now:  # before anything: the CA's word
        until = cert.rate_limited_until
        return Decision(False, f"rate limited until {until:%Y-%m-%d %H:%M:%S} UTC", until, until)
    if cert.not_before is None or cert.not_after is None:
        return Decision(True, "never issued")
    if cert.not_after <= now:
        return Decision(True, "expired")
    if cert.status == "revoked":
        return Decision(True, "revoked")
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
    session = cached_session(failover.issuing_account(cert))  # only the CA that issued it knows it
    if not ari.supports_ari(session):
        return None
    if cert.ari_recheck_at and cert.ari_recheck_at > now and cert.ari_window_start and cert.ari_window_end:
        return ari.RenewalWindow(cert.ari_window_start, cert.ari_window_end, cert.ari_explanation,
                                 cert.ari_recheck_at)
    return ari.fetch_window(session, files.live_files()["cert"].read_bytes(), now)


def renew_one(data: DataDir, name: str, *, force: bool = False, dry_run: bool = False,
              cancel: threading.Event | None = None, started: datetime | None = None,
              previewed: Plan | None = None) -> RenewOutcome:
    """Renew `name` if due (or forced). `started`: when the command began; a forced renewal skips a
    certificate issued since then by another process (a second order would count against the CA's
    duplicate-certificate limit). `previewed`: the plan a face showed (see request_certificate)."""
    owner = leases.owner_id()
    started = started or datetime.now(UTC)
    try:
        if dry_run:  # changes nothing, so needs no lease
            plan = _plan(data, get_certificate(name), force=force, started=started, save=False)
            return replace(plan, message=f"would renew: {plan.message}") if plan.action == "would-renew" else plan
        # The decision is taken (again) under the lease: another process may have renewed the certificate
        # between our listing it as due and our turn, and it must not be ordered twice.
        with leases.lease(name, owner):
            plan = _plan(data, get_certificate(name), force=force, started=started, save=True)
            if plan.action != "would-renew":
                return plan
            # Same owner: request_certificate's own lease is re-entrant and the row stays ours throughout.
            result = request_certificate(data, name, cancel=cancel, owner=owner, reason=plan.message,
                                         plan=previewed)
    except (leases.Busy, Transient) as exc:
        return RenewOutcome(name, "busy", exc.message)
    except CertifyError as exc:
        return RenewOutcome(name, "rate-limited" if failure_kind(exc) == "rate-limited" else "failed", exc.message)
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


def _plan(data: DataDir, cert: ManagedCertificate, *, force: bool, started: datetime, save: bool) -> RenewOutcome:
    """would-renew (message: the reason), not-due, or skipped (renewed by another process since `started`)."""
    now = datetime.now(UTC)
    if force:
        if cert.date_issued is not None and cert.date_issued > started:
            return RenewOutcome(cert.name, "skipped", f"renewed by another process at "
                                                      f"{cert.date_issued:%H:%M:%S} UTC, after this run started")
        return RenewOutcome(cert.name, "would-renew", "forced")
    decision = decide(data, cert, now)
    if decision.due:
        return RenewOutcome(cert.name, "would-renew", decision.reason)
    if save:
        cert.next_attempt, cert.renew_reason = decision.next_look, decision.reason
        cert.save()
    return RenewOutcome(cert.name, "not-due", f"not due: renews {decision.renew_at:%Y-%m-%d %H:%M} UTC "
                                              f"({decision.reason}); next check "
                                              f"{decision.next_look:%Y-%m-%d %H:%M} UTC")


def renew_certificates(data: DataDir, names: list[str] | None = None, *, force: bool = False,
                       dry_run: bool = False, pool_size: int = 4, cancel: threading.Event | None = None,
                       on_outcome: Callable[[RenewOutcome], None] | None = None,
                       started: datetime | None = None, report_skipped: bool = False,
                       plans: Mapping[str, Plan] | None = None) -> list[RenewOutcome]:
    """Renew the named certificates (or every due one; forced: every auto-renewed one) with at most
    `pool_size` at once. `started`: when the command began (default now); see renew_one.
    `report_skipped`: add what a run without names leaves out (see left_out) after the outcomes.
    `plans`: by name, the plan a face showed for it (see request_certificate)."""
    started = started or datetime.now(UTC)
    # Forced without names: every auto-renewed certificate, due or not (not only the due ones).
    targets = names if names else (auto_renewed_names() if force else due_names())
    skipped = left_out(force) if report_skipped and not names else []
    if names:
        known = {row.name for row in ManagedCertificate.select(ManagedCertificate.name).where(
            ManagedCertificate.name.in_(names))}
        for name in names:
            if name not in known:  # unknown names are a usage error before anything starts
                get_certificate(name)
    if not targets:
        return skipped

    def run(name: str) -> RenewOutcome:
        if cancel is not None and cancel.is_set():
            return RenewOutcome(name, "busy", "stopped before starting: the worker is shutting down")
        outcome = renew_one(data, name, force=force, dry_run=dry_run, cancel=cancel, started=started,
                            previewed=(plans or {}).get(name))
        log.info("%s: %s", name, outcome.message)
        if on_outcome is not None:
            on_outcome(outcome)
        return outcome

    with http_listener.batch():
        if pool_size <= 1 or len(targets) == 1:
            return [run(n) for n in targets] + skipped
        with ThreadPoolExecutor(max_workers=pool_size, thread_name_prefix="renew") as pool:
            return list(pool.map(run, targets)) + skipped
