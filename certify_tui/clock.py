"""The current time, in one place, so tests and snapshots can fix it."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)
