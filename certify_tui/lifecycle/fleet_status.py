"""Status at a glance: counts by state, the next renewals, what is in warning, the last run, the alert channels.

One function for `certify-tui status`, the API's /api/summary and the digest, so they always agree. It reads
the database only (no CA, no network), so it answers in a moment for thousands of certificates.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

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
    counts: dict[str, int] = {}
    warnings: list[dict[str, Any]] = []
    upcoming: list[tuple[datetime, str]] = []
    expiries: list[tuple[datetime, str]] = []
    rows = m.select(m.name, m.status, m.auto_renew, m.not_before, m.not_after, m.next_attempt, m.failure_count,
                    m.last_error, m.renewal, m.ari_renew_at, m.rate_limited_until, m.deploy_error, m.revoked_at)
    for cert in rows:
        counts[cert.status] = counts.get(cert.status, 0) + 1
        if cert.auto_renew and cert.next_attempt is not None:
            upcoming.append((cert.next_attempt, cert.name))
        if cert.not_after is not None:
            expiries.append((cert.not_after, cert.name))
        warnings += _warnings(cert, policy, horizon, now)
    upcoming.sort()
    expiries.sort()
    warnings.sort(key=lambda w: (WARNING_ORDER.index(w["kind"]), w["name"]))
    return {
        "at": now.isoformat(), "total": sum(counts.values()), "counts": dict(sorted(counts.items())),
        "next_renewals": [{"name": name, "at": at.isoformat()} for at, name in upcoming[:NEXT_RENEWALS]],
        "soonest_expiries": [{"name": name, "not_after": at.isoformat()} for at, name in expiries[:SOONEST_EXPIRIES]],
        "warnings": warnings,
        "worker": worker_status(),
        "last_run": get_record(LAST_RUN_KEY),
        "alerts": {"channels": notify.channel_names(settings), "last_delivery": get_record(LAST_DELIVERY_KEY),
                   "failures_before_alert": policy.failures, "expiry_days": list(policy.expiry_days),
                   "digest": policy.digest},
    }


def _warnings(cert: ManagedCertificate, policy: AlertPolicy, horizon: timedelta,
              now: datetime) -> list[dict[str, Any]]:
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
