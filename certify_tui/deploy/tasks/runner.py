"""Run a certificate's stored deployment tasks in order, with triggers, retries and stop-on-failure.

A task is a TaskConfig (or its JSON form {"type": id, "options": {...}, "title": optional}). Every task is checked before any
runs: invalid stored options raise UsageError and nothing runs. A task failing is not an exception
here: it is an outcome (ok=False), and the caller decides what the request's status becomes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from certify_tui.deploy.base import DeploymentTask, TaskContext
from certify_tui.deploy.tasks import get_task
from certify_tui.deploy.tasks.credentials import task_options
from certify_tui.errors import CertifyError, UsageError
from certify_tui.events import in_step, task_step_id
from certify_tui.model import TaskConfig
from certify_tui.plugins import StepLogger
from certify_tui.store.sealed import require_open


@dataclass(frozen=True)
class TaskOutcome:
    title: str
    ok: bool
    message: str
    skipped: bool = False  # not run because an earlier task failed with stop_on_failure (or a cancel)
    type: str = ""
    attempts: int = 0


def selected(trigger: str, context: TaskContext, manual: bool) -> bool:
    """Whether a task with this trigger runs now."""
    if context.before or trigger == "before":
        return context.before and trigger == "before"
    if trigger == "manual":
        return manual
    if trigger == "always":
        return True
    return trigger == ("success" if context.succeeded else "failure")


def prepare(tasks: Sequence[TaskConfig | Mapping[str, Any]]) -> list[tuple[str, DeploymentTask]]:
    """(title, task) for each task; UsageError naming the task (and its field "tasks[i]") for anything invalid."""
    prepared = []
    for number, given in enumerate(tasks, 1):
        field = f"tasks[{number - 1}]"
        try:
            task = given if isinstance(given, TaskConfig) else TaskConfig.from_json(given)
        except ValueError:  # not an object, or options that are not key/value pairs
            raise UsageError(f"Deployment task {number} is not a task definition.", field=field) from None
        label = task.title or task.type or "?"
        try:
            cls = get_task(task.type)
            # Its credential's current values under its own, secrets opened (or the error naming the key).
            instance = cls(require_open(task_options(task, cls.id)))
        except UsageError as exc:
            raise UsageError(f"Deployment task {number} ({label}): {exc.message}", field=field) from None
        prepared.append((task.title or cls.title, instance))
    return prepared


def run_tasks(tasks: Sequence[TaskConfig | Mapping[str, Any]], context: TaskContext, log: StepLogger, *, manual: bool = False,
              sleep: Callable[[float], object] | None = None) -> list[TaskOutcome]:
    """Run the tasks whose trigger matches; one outcome per selected task, in order.

    `sleep` waits between retries (tests pass their own); by default it is time.sleep, or the log's
    cancel event when it has one, so a cancel cuts the wait short and skips what is left."""
    prepared = prepare(tasks)
    cancel: threading.Event | None = getattr(log, "cancel", None)
    if sleep is None:
        sleep = cancel.wait if cancel is not None else time.sleep
    outcomes: list[TaskOutcome] = []
    stop_reason: str | None = None
    for number, (title, task) in enumerate(prepared, 1):
        options = task.options
        if not selected(options.get("trigger", "success"), context, manual):
            continue
        if stop_reason is None and cancel is not None and cancel.is_set():
            stop_reason = "cancelled"
        if stop_reason is not None:
            with in_step(log, task_step_id(number)):
                log.step("task", f"{title}: skipped ({stop_reason})")
            outcomes.append(TaskOutcome(title, False, f"skipped ({stop_reason})", skipped=True, type=task.id))
            continue
        with in_step(log, task_step_id(number)):  # the plan's "run task <number>"
            outcome = _run_one(title, task, context, log, sleep, cancel)
        outcomes.append(outcome)
        if not outcome.ok and options.get("stop_on_failure", True):
            stop_reason = f"'{title}' failed"
    return outcomes


def _run_one(title: str, task: DeploymentTask, context: TaskContext, log: StepLogger,
             sleep: Callable[[float], object], cancel: threading.Event | None) -> TaskOutcome:
    attempts = 1 + int(task.options.get("retries", 0))
    delay = int(task.options.get("retry_delay", 0))
    log.step("task", f"{title}: {_describe(task)}")
    message = ""
    for attempt in range(1, attempts + 1):
        try:
            task.run(context, log)
        except CertifyError as exc:
            message = exc.message
        except Exception as exc:  # a bug or an unforeseen library error: still one outcome, never a crash
            message = f"unexpected error ({type(exc).__name__}: {exc})"
        else:
            done = "done" if attempt == 1 else f"done on attempt {attempt} of {attempts}"
            log.step("task", f"{title}: {done}", ok=True)
            return TaskOutcome(title, True, done, type=task.id, attempts=attempt)
        if attempt < attempts and not (cancel is not None and cancel.is_set()):
            log.step("task", f"{title}: attempt {attempt} of {attempts} failed: {message}; retrying in {delay} s")
            sleep(delay)
            if cancel is not None and cancel.is_set():
                break
        else:
            break
    log.step("task", f"{title}: {message}", ok=False)
    return TaskOutcome(title, False, message, type=task.id, attempts=attempt)


def _describe(task: DeploymentTask) -> str:
    try:
        return task.describe()
    except Exception:  # the preview line is a courtesy; never let it stop the task
        return task.title
