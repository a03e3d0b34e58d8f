"""What one daily maintenance step reports, and the one app-log line it writes.

Its own module because the steps live in two: maintenance.py (backup, integrity, prune, logs) and
repair.py (the cleanup sweep), and maintenance runs repair's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import ClassVar, TypeVar

log = logging.getLogger("certify_tui")


@dataclass
class StepResult:
    step: ClassVar[str] = "maintenance"
    ok: bool
    message: str
    skipped: bool = False


R = TypeVar("R", bound=StepResult)


def report(result: R) -> R:
    log.log(logging.INFO if result.ok else logging.WARNING, "maintenance %s: %s", result.step, result.message)
    return result
