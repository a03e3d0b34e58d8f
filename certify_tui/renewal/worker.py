"""The renewal worker: APScheduler runs a due-check every few minutes and maintenance daily.

It runs inside the TUI or headless (`certify-tui service`). Its heartbeat is written to the
database so any face can tell whether a worker is running, where, and when it checks next.
The due-check is `Core.renew`, called on the Core the worker is given: the worker never imports
the lifecycle it serves, so it sits below it (and Core.worker_status can read the heartbeat here).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from apscheduler.schedulers.background import BackgroundScheduler

from certify_tui.errors import CertifyError
from certify_tui.store.models import Setting

if TYPE_CHECKING:
    from certify_tui.lifecycle import Core
    from certify_tui.lifecycle.renew import RenewOutcome

log = logging.getLogger("certify_tui")
HEARTBEAT_KEY = "worker.heartbeat"


class RenewalWorker:
    def __init__(self, core: Core, *, where: str = "service", interval_minutes: int | None = None,
                 pool_size: int | None = None, maintenance: bool = True,
                 on_outcome: Callable[[RenewOutcome], object] | None = None) -> None:
        settings = core.settings()
        self.core = core
        self.where = where
        self.interval = timedelta(minutes=interval_minutes or settings["check_interval_minutes"])
        self.pool_size = pool_size or settings["pool_size"]
        self.maintenance = maintenance
        self.on_outcome = on_outcome
        self.stopping = threading.Event()  # passed to requests: in-flight orders stop at the next step
        self.last_check: datetime | None = None
        self.last_outcomes: list[RenewOutcome] = []
        self._check_lock = threading.Lock()
        self._scheduler = BackgroundScheduler(timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1})

    def start(self) -> None:
        now = datetime.now(UTC)
        self._scheduler.add_job(self.check_now, "interval", seconds=self.interval.total_seconds(),
                                next_run_time=now, id="check")
        if self.maintenance:
            self._scheduler.add_job(self.run_maintenance, "interval", days=1,
                                    next_run_time=now + timedelta(hours=1), id="maintenance")
        self._scheduler.start()
        log.info("renewal worker started (%s): every %s, %d at once", self.where, self.interval, self.pool_size)

    def stop(self, wait: bool = True) -> None:
        self.stopping.set()
        if self._scheduler.running:
            self._scheduler.shutdown(wait=wait)
        self._write_heartbeat(running=False)
        log.info("renewal worker stopped")

    def next_check(self) -> datetime | None:
        job = self._scheduler.get_job("check") if self._scheduler.running else None
        return job.next_run_time if job else None

    def check_now(self) -> list[RenewOutcome]:
        """Renew everything due; safe to call from any thread (checks never overlap)."""
        with self._check_lock:
            self._write_heartbeat(running=True)
            try:
                outcomes = self.core.renew(pool_size=self.pool_size, cancel=self.stopping, on_outcome=self._outcome)
            except CertifyError as exc:
                log.error("renewal check failed: %s", exc.message)
                outcomes = []
            self.last_check = datetime.now(UTC)
            self.last_outcomes = outcomes
            self._alert_sweep(outcomes)
            self._write_heartbeat(running=not self.stopping.is_set())
            return outcomes

    def _outcome(self, outcome: RenewOutcome) -> None:
        if outcome.action in ("renewed", "failed", "deploy-failed"):
            try:  # the alert policy decides what to send (lifecycle/alerts.py): never one per retry
                self.core.alert_outcome(outcome)
            except Exception as exc:  # noqa: BLE001 - an alert failure is logged, never fatal
                log.warning("alert for %s failed: %s", outcome.name, exc)
        if self.on_outcome is not None:
            self.on_outcome(outcome)

    def _alert_sweep(self, outcomes: list[RenewOutcome]) -> None:
        try:  # expiry warnings, recoveries by other paths, the digest; records this run for `status`
            self.core.alert_sweep(self.where, outcomes)
        except Exception as exc:  # noqa: BLE001 - alerts must never stop renewals
            log.warning("alert sweep failed: %s", exc)

    def run_maintenance(self) -> None:
        try:
            from certify_tui.renewal import maintenance

            maintenance.run_daily(self.core)
        except Exception as exc:  # noqa: BLE001 - maintenance must never stop renewals
            log.error("daily maintenance failed: %s", exc)

    def _write_heartbeat(self, running: bool) -> None:
        value = {
            "where": self.where, "host": socket.gethostname(), "pid": os.getpid(), "running": running,
            "last_check": self.last_check.isoformat() if self.last_check else None,
            "next_check": (self.next_check() or datetime.now(UTC) + self.interval).isoformat(),
            "interval_minutes": self.interval.total_seconds() / 60, "pool_size": self.pool_size,
            "at": datetime.now(UTC).isoformat(),
        }
        try:
            Setting.insert(key=HEARTBEAT_KEY, value=value).on_conflict(
                conflict_target=[Setting.key], update={Setting.value: value}).execute()
        except Exception as exc:  # noqa: BLE001 - a heartbeat must not break a check
            log.warning("cannot record the worker heartbeat: %s", exc)


def worker_status() -> dict[str, Any] | None:
    """The last heartbeat any worker wrote (in this or another process), with a 'stale' flag."""
    row = Setting.get_or_none(Setting.key == HEARTBEAT_KEY)
    if row is None or not row.value:
        return None
    value = dict(row.value)
    interval = timedelta(minutes=float(value.get("interval_minutes") or 5))
    at = datetime.fromisoformat(value["at"]) if value.get("at") else None
    # A worker that missed two checks is presumed gone (killed, machine off).
    value["stale"] = bool(at is None or datetime.now(UTC) - at > 2 * interval + timedelta(minutes=1))
    return value
