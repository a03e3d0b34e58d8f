"""Sending what the alert policy decides: after each renewal outcome, and in a sweep after each run.

Whatever runs renewals calls these (the service's and the TUI's worker through Core, `certify-tui renew`):
`after_outcome` right after a certificate's renewal failed or succeeded, `sweep` once the run is over (expiry
warnings, recoveries by other paths, the digest). The decision is alerts_policy.decide; this module reads the
rows, sends through notify.send_alert, keeps alert_state, and records the last delivery for `status`.
An alert is marked sent once a channel was tried (a channel that refuses it is reported in `status`, not
retried every few minutes); with no channel configured nothing is decided, so nothing is lost meanwhile.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from certify_tui.lifecycle import alerts_digest
from certify_tui.lifecycle.alerts_policy import Alert, AlertPolicy, CertState, decide
from certify_tui.lifecycle.alerts_records import LAST_DELIVERY_KEY, LAST_RUN_KEY, put_record
from certify_tui.renewal import policy as renewal_policy
from certify_tui.store.models import ManagedCertificate

log = logging.getLogger("certify_tui")


@dataclass(frozen=True)
class Delivery:
    kind: str
    name: str | None
    title: str
    tried: int  # channels tried; 0: none configured
    failed: tuple[str, ...]  # the redacted channels that refused it

    @property
    def ok(self) -> bool:
        return self.tried > 0 and not self.failed


def cert_state(cert: ManagedCertificate) -> CertState:
    due = None
    if cert.not_before is not None and cert.not_after is not None:
        due = renewal_policy.renewal_due(cert.not_before, cert.not_after, cert.renewal)
        if cert.ari_renew_at is not None:
            due = min(due, cert.ari_renew_at)
    return CertState(name=cert.name, status=cert.status, failure_count=cert.failure_count or 0,
                     last_error=cert.last_error, not_after=cert.not_after, renewal_due=due,
                     date_issued=cert.date_issued, deploy_error=cert.deploy_error, next_attempt=cert.next_attempt,
                     lifetime=cert.not_after - cert.not_before if cert.not_after and cert.not_before else None)


def after_outcome(settings: dict[str, Any], name: str, action: str) -> list[Delivery]:
    """The alerts one renewal outcome calls for (renewed, failed, deploy-failed), sent now."""
    if action not in ("renewed", "failed", "deploy-failed"):
        return []
    try:
        return evaluate(settings, [name], renewed={name} if action == "renewed" else set())
    except Exception as exc:  # noqa: BLE001 - e.g. a read-only database: the renewal's own result matters more
        log.warning("alerts for %s could not be decided: %s", name, exc)
        return []


def sweep(settings: dict[str, Any], *, by: str, outcomes: Iterable[Any] = (), send: bool = True,
          now: datetime | None = None) -> list[Delivery]:
    """After a run: every certificate's pending alerts (expiry, recovery...), then the digest when due; the run
    is recorded for `status`. `outcomes`: the run's RenewOutcome list (for the record only). `send`: False
    records the run only (`renew --no-notify`)."""
    now = now or datetime.now(UTC)
    actions: dict[str, int] = {}
    for outcome in outcomes:
        actions[outcome.action] = actions.get(outcome.action, 0) + 1
    put_record(LAST_RUN_KEY, {"at": now.isoformat(), "by": by, "outcomes": actions})
    if not send:
        return []
    sent: list[Delivery] = []
    try:
        sent += evaluate(settings, None, now=now)
        digest = alerts_digest.due_digest(settings, now)
        if digest is not None:
            delivery = _deliver(settings, Alert("digest", "", *digest), now)
            if delivery.tried:
                alerts_digest.mark_sent(now)
            sent.append(delivery)
    except Exception as exc:  # noqa: BLE001 - e.g. a read-only database: the run's own result matters more
        log.warning("alerts could not be decided: %s", exc)
    return sent


def evaluate(settings: dict[str, Any], names: list[str] | None, *, renewed: set[str] | None = None,
             now: datetime | None = None) -> list[Delivery]:
    """Decide and send for the named certificates (None: all). Nothing is decided while no channel is configured,
    so nothing is marked sent meanwhile (the alerts go out once one is)."""
    from certify_tui import notify  # apprise loads only when something is to be sent

    if not notify.channel_names(settings):
        return []
    now = now or datetime.now(UTC)
    policy = AlertPolicy.from_settings(settings)
    m = ManagedCertificate
    query = m.select(m.id, m.name, m.status, m.failure_count, m.last_error, m.not_before, m.not_after, m.renewal,
                     m.ari_renew_at, m.date_issued, m.deploy_error, m.next_attempt, m.alert_state).order_by(m.name)
    if names is not None:
        query = query.where(m.name.in_(names))
    else:  # only what can call for an alert: a large healthy fleet is not even read
        horizon = now + timedelta(days=max(policy.expiry_days, default=0))
        query = query.where((m.failure_count > 0) | m.deploy_error.is_null(False) | (m.not_after <= horizon)
                            | (m.alert_state != {}))
    sent: list[Delivery] = []
    for cert in query:
        before = dict(cert.alert_state or {})
        decision = decide(cert_state(cert), before, policy, now, renewed=cert.name in (renewed or set()))
        # Claimed before sending, only if no other process (the service and a cron run) changed it since we read
        # it: of two processes seeing the same event, one sends.
        unchanged = m.alert_state == before
        if not before:  # a row the schema upgrade left NULL
            unchanged = unchanged | m.alert_state.is_null()
        if decision.state != before and not m.update(alert_state=decision.state).where(
                (m.id == cert.id) & unchanged).execute():
            continue
        sent += [_deliver(settings, alert, now) for alert in decision.alerts]
    return sent


def _deliver(settings: dict[str, Any], alert: Alert, now: datetime) -> Delivery:
    from certify_tui import notify  # apprise loads only when something is to be sent

    tried, failed = notify.send_alert(settings, alert.title, alert.body, alert.kind)
    delivery = Delivery(alert.kind, alert.name or None, alert.title, tried, tuple(failed))
    if tried:
        log.info("alert sent (%s) for %s: %s%s", alert.kind, alert.name or "the fleet", alert.title,
                 f"; refused by {', '.join(failed)}" if failed else "")
        put_record(LAST_DELIVERY_KEY, {"at": now.isoformat(), "kind": alert.kind, "name": alert.name or None,
                                 "title": alert.title, "ok": delivery.ok, "channels": tried,
                                 "failed": list(failed)})
    return delivery
