"""Status at a glance: counts by state, the next renewals, what is in warning, the last run, the alert channels.

One function for `certify-tui status`, the API's /api/summary and the digest, so they always agree. It reads
the database only (no CA, no network), so it answers in a moment for thousands of certificates.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import peewee

from certify_tui.lifecycle.alerts_policy import AlertPolicy, parse_days, renewal_overdue
from certify_tui.lifecycle.alerts_records import LAST_DELIVERY_KEY, LAST_RUN_KEY, get_record
from certify_tui.renewal import policy as renewal_policy
from certify_tui.store.models import ManagedCertificate

NEXT_RENEWALS = 5
SOONEST_EXPIRIES = 5
WARNING_ORDER = ("expired", "expiring", "failing", "rate-limited", "revoked", "deploy-failed")


def summary(settings: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    from certify_tui import notify  # apprise loads only here, not for every import of the core
    from certify_tui.renewal.worker import worker_status

    now = now or datetime.now(UTC)
    policy = AlertPolicy.from_settings(settings)
    horizon = timedelta(days=max(parse_days(settings.get("alert_expiry_days", "14,7,3,1")) or (14,)))
    m = ManagedCertificate
    by_state: Iterable[tuple[Any, ...]] = m.select(m.status, peewee.fn.COUNT(m.id)).group_by(m.status).order_by(
        m.status).tuples().execute()
    counts = {str(status): int(n) for status, n in by_state}
    upcoming = (m.select(m.name, m.next_attempt).where((m.auto_renew == True) & m.next_attempt.is_null(False))  # noqa: E712
                .order_by(m.next_attempt).limit(NEXT_RENEWALS))
    expiries = m.select(m.name, m.not_after).where(m.not_after.is_null(False)).order_by(m.not_after).limit(
        SOONEST_EXPIRIES)
    # Only the rows that can be in warning are read (a large healthy fleet is a few indexed queries).
    suspects = m.select(m.name, m.status, m.not_before, m.not_after, m.failure_count, m.last_error, m.renewal,
                        m.ari_renew_at, m.rate_limited_until, m.deploy_error, m.revoked_at).where(
        (m.status == "revoked") | (m.failure_count >= policy.failures) | (m.not_after <= now + horizon)
        | (m.rate_limited_until > now) | m.deploy_error.is_null(False)).namedtuples()
    warnings = [warning for cert in suspects for warning in _warnings(cert, policy, horizon, now)]
    warnings.sort(key=lambda w: (WARNING_ORDER.index(w["kind"]), w["name"]))
    return {
        "at": now.isoformat(), "total": sum(counts.values()), "counts": counts,
        "next_renewals": [{"name": row.name, "at": row.next_attempt.isoformat()} for row in upcoming],
        "soonest_expiries": [{"name": row.name, "not_after": row.not_after.isoformat()} for row in expiries],
        "warnings": warnings,
        "worker": worker_status(),
        "last_run": get_record(LAST_RUN_KEY),
        "alerts": {"channels": notify.channel_names(settings), "last_delivery": get_record(LAST_DELIVERY_KEY),
                   "failures_before_alert": policy.failures, "expiry_days": list(policy.expiry_days),
                   "digest": policy.digest},
    }


def _warnings(cert: Any, policy: AlertPolicy, horizon: timedelta,
              now: datetime) -> list[dict[str, Any]]:
    """`cert`: a row of the query above (a named tuple with the certificate's column names)."""
    out: list[dict[str, Any]] = []

    def add(kind: str, detail: str) -> None:
        out.append({"name": cert.name, "kind": kind, "detail": detail})

    if cert.status == "revoked":
        add("revoked", f"revoked by its CA{f' at {cert.revoked_at:%Y-%m-%d %H:%M} UTC' if cert.revoked_at else ''}")
    elif cert.not_after is not None and cert.not_after <= now:
        add("expired", f"expired {cert.not_after:%Y-%m-%d %H:%M} UTC")
    elif cert.not_after is not None and cert.not_before is not None and cert.not_after - now <= horizon:
        due = renewal_policy.renewal_due(cert.not_before, cert.not_after, cert.renewal)
        if cert.ari_renew_at is not None:
            due = min(due, cert.ari_renew_at)
        if renewal_overdue(due, cert.failure_count or 0, cert.not_after - cert.not_before, now):
            days = (cert.not_after - now).total_seconds() / 86400
            add("expiring", f"expires {cert.not_after:%Y-%m-%d %H:%M} UTC ({days:.1f} days), not renewed yet")
    if cert.failure_count and cert.failure_count >= policy.failures:
        add("failing", f"failed {cert.failure_count} times in a row: {cert.last_error or 'unknown error'}")
    if cert.rate_limited_until is not None and cert.rate_limited_until > now:
        add("rate-limited", f"rate limited until {cert.rate_limited_until:%Y-%m-%d %H:%M} UTC")
    if cert.deploy_error:
        add("deploy-failed", f"deployment failed: {cert.deploy_error}")
    return out
