"""Small records the alerts keep in Setting rows, shown by `status`: the last delivery, the last run, the digest."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from certify_tui.store.models import Setting

log = logging.getLogger("certify_tui")
LAST_DELIVERY_KEY = "alerts.last_delivery"  # {at, kind, name, title, ok, channels, failed}
LAST_RUN_KEY = "renew.last_run"  # {at, by: service/tui/cron, outcomes: {action: count}}
DIGEST_SENT_KEY = "alerts.digest_sent"  # {at}


def get_record(key: str) -> dict[str, Any] | None:
    row = Setting.get_or_none(Setting.key == key)
    return dict(row.value) if row is not None and isinstance(row.value, dict) else None


def put_record(key: str, value: dict[str, Any]) -> None:
    try:
        Setting.insert(key=key, value=value, updated_at=datetime.now(UTC)).on_conflict(
            conflict_target=[Setting.key], update={Setting.value: value,
                                                   Setting.updated_at: datetime.now(UTC)}).execute()
    except Exception as exc:  # noqa: BLE001 - a record for `status` must never break a renewal run
        log.warning("cannot record %s: %s", key, exc)
