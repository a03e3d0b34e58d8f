"""When a certificate is due, as pure functions of its dates and settings.

Works on the certificate's real lifetime so a 6-day certificate renews in time as surely
as a 90-day one; fixed day counts are honoured only when the user sets them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from certify_tui.model import RenewalPolicy

FIRST_RETRY = timedelta(minutes=5)
MAX_RETRY = timedelta(days=1)


def renewal_due(not_before: datetime, not_after: datetime, renewal: RenewalPolicy | None = None) -> datetime:
    """The moment renewal becomes due (default: at 75% of the lifetime); never after expiry minus a tenth
    of the lifetime, never before issuance."""
    renewal = renewal or RenewalPolicy()
    lifetime = not_after - not_before
    latest = not_after - lifetime / 10
    if renewal.kind == "days_before":
        due = not_after - timedelta(days=float(renewal.value))
    elif renewal.kind == "days_after":
        due = not_before + timedelta(days=float(renewal.value))
    else:
        due = not_before + lifetime * (min(max(float(renewal.value), 1.0), 99.0) / 100)
    return max(not_before, min(due, latest))


def planned_renewal(*, status: str, not_before: datetime | None, not_after: datetime | None,
                    renewal: RenewalPolicy | None, ari_renew_at: datetime | None = None,
                    next_attempt: datetime | None = None, failure_count: int = 0,
                    rate_limited_until: datetime | None = None) -> datetime | None:
    """When renewal is planned, for people: the end of a CA's rate limit, else the retry time after a failure,
    else the policy's due time, brought forward to the CA's ARI pick when that is earlier. None before the first
    issuance."""
    if rate_limited_until is not None and next_attempt is not None and next_attempt >= rate_limited_until:
        return next_attempt  # not before the CA said (a passed limit leaves next_attempt to the rest)
    if status == "failed" and failure_count and next_attempt is not None:
        return next_attempt
    if not_before is None or not_after is None:
        return None
    due = renewal_due(not_before, not_after, renewal)
    return min(due, ari_renew_at) if ari_renew_at else due


def describe(renewal: RenewalPolicy | None = None) -> str:
    renewal = renewal or RenewalPolicy()
    if renewal.kind == "days_before":
        return f"{renewal.value} days before expiry"
    if renewal.kind == "days_after":
        return f"{renewal.value} days after issuance"
    return f"at {float(renewal.value):g}% of the lifetime"


def retry_after_failure(failures: int, now: datetime, lifetime: timedelta | None = None) -> datetime:
    """Retry soon at first, then wait longer (5 min doubling), capped at a day or a tenth of the lifetime."""
    cap = MAX_RETRY if lifetime is None else min(MAX_RETRY, max(lifetime / 10, FIRST_RETRY))
    # Clamp the exponent first: 2**40 five-minute waits overflow timedelta long before the cap applies.
    wait = FIRST_RETRY * (1 << min(max(failures - 1, 0), 20))
    return now + min(wait, cap)
