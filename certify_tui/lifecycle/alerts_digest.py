"""The daily or weekly digest of the fleet: counts by state, the soonest expiries, what is in warning."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from certify_tui.lifecycle import fleet_status
from certify_tui.lifecycle.alerts_records import DIGEST_SENT_KEY, get_record, put_record

PERIODS = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}
# A run a few minutes early still counts: the worker's checks drift by their own duration.
SLACK = timedelta(minutes=30)


def due_digest(settings: dict[str, Any], now: datetime) -> tuple[str, str] | None:
    """(title, body) when a digest is due now, else None."""
    period = PERIODS.get(str(settings.get("alert_digest", "off")))
    if period is None:
        return None
    sent = get_record(DIGEST_SENT_KEY)
    if sent and sent.get("at") and datetime.fromisoformat(sent["at"]) + period - SLACK > now:
        return None
    return build(fleet_status.summary(settings, now), str(settings.get("alert_digest")))


def mark_sent(now: datetime) -> None:
    put_record(DIGEST_SENT_KEY, {"at": now.isoformat()})


def build(summary: dict[str, Any], period: str) -> tuple[str, str]:
    counts = ", ".join(f"{n} {status}" for status, n in summary["counts"].items()) or "none"
    warnings = summary["warnings"]
    lines = [f"Certificates: {summary['total']} ({counts}).", ""]
    lines += ["In warning:"] + [f"- {w['name']}: {w['detail']}" for w in warnings] if warnings else \
        ["Nothing in warning."]
    lines += ["", "Soonest expiries:"] + [f"- {e['name']}: {e['not_after'][:16].replace('T', ' ')} UTC"
                                          for e in summary["soonest_expiries"]]
    run = summary.get("last_run")
    if run:
        lines += ["", f"Last renewal run: {run['at'][:16].replace('T', ' ')} UTC ({run.get('by', '?')})."]
    lines += ["", "Details: certify-tui status; a certificate's log: certify-tui cert log NAME"]
    title = f"{period} digest: {summary['total']} certificates, {len(warnings)} in warning"
    return title, "\n".join(lines)
