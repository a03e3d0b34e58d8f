"""Progress of a request, written to the certificate's log and handed to whichever face asked.

The TUI turns events into messages from its worker; the CLI prints them with -v; the log file
keeps them with timestamps. Secrets never reach here: callers pass redacted text only.

Each event names the step of the request's Plan it belongs to (`plan_step`, one of `Plan.steps` ids),
so a face can show the plan's steps with their state; the ids are made here, below everything that
emits events.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from certify_tui.errors import OperationError
from certify_tui.logfiles import open_private_log

app_log = logging.getLogger("certify_tui")

# The ids of a plan's steps (see plan.PlanStep).
ORDER = "order"  # place the order, then finalize and download once every identifier is validated
STORE = "store"
DEPLOY = "deploy"  # the deployment when it changes no site (files mode, or no site to deploy to)


def validation_step_id(identifier: str) -> str:
    return f"validate:{identifier}"


def site_step_id(site_id: str) -> str:
    return f"deploy:{site_id}"


def task_step_id(number: int) -> str:
    """Tasks are numbered from 1, in their stored order."""
    return f"task:{number}"


@dataclass(frozen=True)
class ProgressEvent:
    step: str  # order, authorization, validation, finalize, download, store, deploy, done, failed, info
    message: str
    identifier: str | None = None
    ok: bool | None = None  # None: in progress or informational; True: done; False: failed
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    plan_step: str | None = None  # the id of the plan step this belongs to; None: the request as a whole

    def line(self) -> str:
        who = f" [{self.identifier}]" if self.identifier else ""
        return f"{self.at.isoformat(timespec='milliseconds')} {self.step:<13}{who} {self.message}"


ProgressCallback = Callable[[ProgressEvent], None]
# Asks a person a yes/no question (the manual DNS provider's "is the record there?"); may block.
ConfirmCallback = Callable[[str], bool]


class Cancelled(OperationError):
    def __init__(self) -> None:
        super().__init__("Cancelled; nothing was replaced.")


class RequestLog:
    """One request's step log: appended to a file, forwarded to a callback, checked for cancellation."""

    def __init__(self, path: Path | None = None, on_event: ProgressCallback | None = None,
                 cancel: threading.Event | None = None, name: str = "",
                 confirm: ConfirmCallback | None = None) -> None:
        self.path = path
        self.on_event = on_event
        self.cancel = cancel
        self.name = name
        self.confirm = confirm  # set by a face that can ask a person; None: nobody can confirm
        self.events: list[ProgressEvent] = []
        self._lock = threading.Lock()
        self._handle: TextIO | None = None
        self._plan_step: str | None = None

    @contextlib.contextmanager
    def in_step(self, step_id: str) -> Iterator[None]:
        """The events emitted inside belong to the plan step `step_id`."""
        outer, self._plan_step = self._plan_step, step_id
        try:
            yield
        finally:
            self._plan_step = outer

    def _step_of(self, identifier: str | None) -> str | None:
        # While ordering, what concerns one identifier is that identifier's validation.
        if identifier is not None and self._plan_step == ORDER:
            return validation_step_id(identifier)
        return self._plan_step

    def step(self, step: str, message: str, identifier: str | None = None, ok: bool | None = None) -> None:
        event = ProgressEvent(step, message, identifier, ok, plan_step=self._step_of(identifier))
        with self._lock:
            self.events.append(event)
            if self.path is not None:
                self._append(event.line())
        app_log.info("%s: %s", self.name, event.line()) if self.name else app_log.info(event.line())
        if self.on_event is not None:
            self.on_event(event)

    def info(self, message: str, identifier: str | None = None) -> None:
        self.step("info", message, identifier)

    def wait_for_confirmation(self, prompt: str, timeout: float) -> bool:
        """Ask whoever watches this request to confirm; False if nobody can, they decline, or time runs out.

        The question runs in its own thread so a timeout or a cancel still ends the wait."""
        if self.confirm is None:
            return False
        confirm, answer, done = self.confirm, [False], threading.Event()

        def ask() -> None:
            try:
                answer[0] = bool(confirm(prompt))
            except Exception as exc:  # noqa: BLE001 - a broken face must not break the request
                app_log.warning("confirmation failed: %s", exc)
            finally:
                done.set()

        threading.Thread(target=ask, name="confirm", daemon=True).start()
        deadline = time.monotonic() + timeout
        while not done.wait(max(0.0, min(0.2, deadline - time.monotonic()))):
            self.check_cancelled()
            if time.monotonic() >= deadline:
                return False
        return answer[0]

    def check_cancelled(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled()

    def _append(self, line: str) -> None:
        if self.path is None:  # a log without a file (callers check first)
            return
        try:
            if self._handle is None:  # opened once per request; line-buffered so `tail -f` sees each step
                self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                self._handle = open_private_log(self.path, line_buffered=True)
            self._handle.write(line + "\n")
        except OSError as exc:
            # A log that cannot be written must not stop a renewal; the app log still has the line.
            self._drop_handle()  # unwritten text is discarded; the next line reopens the file
            app_log.warning("cannot write %s: %s", self.path, exc)

    def close(self) -> None:
        with self._lock:
            self._drop_handle()

    def _drop_handle(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            with contextlib.suppress(OSError, ValueError):  # a full disk fails the final flush too
                handle.close()


def in_step(log: object, step_id: str) -> contextlib.AbstractContextManager[None]:
    """`log.in_step(step_id)` for a RequestLog; nothing for a logger that does not follow a plan."""
    return log.in_step(step_id) if isinstance(log, RequestLog) else contextlib.nullcontext()
