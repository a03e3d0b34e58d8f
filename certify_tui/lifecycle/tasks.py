"""A certificate's deployment tasks one at a time: list, add, remove, move, run one now.

Tasks are numbered from 1, as people count them; a bad number is a UsageError about the field "tasks".
Every change goes through update_certificate, so the tasks are validated like the editor's (check_tasks).
"""

from __future__ import annotations

from dataclasses import replace

from certify_tui.certfiles import CertificateFiles
from certify_tui.deploy.tasks.runner import TaskOutcome, run_tasks
from certify_tui.errors import OperationError, UsageError
from certify_tui.events import ProgressCallback, RequestLog
from certify_tui.lifecycle.certificates import current_version, get_certificate, spec_of, update_certificate
from certify_tui.model import TaskConfig
from certify_tui.paths import DataDir


def list_tasks(name: str) -> list[TaskConfig]:
    return list(get_certificate(name).deployment.tasks)


def add_task(data: DataDir, name: str, task: TaskConfig) -> list[TaskConfig]:
    """Append a task (run after the others); its options are checked against the task type's parameters."""
    return _save(data, name, [*list_tasks(name), task])


def remove_task(data: DataDir, name: str, number: int) -> TaskConfig:
    tasks = list_tasks(name)
    removed = tasks.pop(_index(tasks, number, name))
    _save(data, name, tasks)
    return removed


def move_task(data: DataDir, name: str, number: int, to: int) -> list[TaskConfig]:
    """Move task `number` to position `to` (both 1-based); the others keep their order."""
    tasks = list_tasks(name)
    task = tasks.pop(_index(tasks, number, name))
    if not 1 <= to <= len(tasks) + 1:
        raise UsageError(f"Cannot move a task to position {to}: positions are 1 to {len(tasks) + 1}.",
                         field="tasks")
    tasks.insert(to - 1, task)
    return _save(data, name, tasks)


def run_task(data: DataDir, name: str, number: int, *, on_event: ProgressCallback | None = None) -> TaskOutcome:
    """Run one task now against the current live files, whatever its trigger (a manual task too), with its
    retries; the outcome says whether it worked. Logged in the certificate's log."""
    from certify_tui.deploy import deployed_files
    from certify_tui.deploy.base import TaskContext

    cert = get_certificate(name)
    tasks = list(cert.deployment.tasks)
    task = tasks[_index(tasks, number, cert.name)]
    live = CertificateFiles(data.certificates, cert.name)
    version = current_version(cert)
    if version is None or not live.has_live():
        raise OperationError(f"'{cert.name}' has no issued certificate for its tasks yet: request it first.")
    files = deployed_files(cert, {role: str(path) for role, path in live.live_files().items()}, version.serial,
                           version.not_after.isoformat())
    now = replace(task, options={**task.options, "trigger": "manual"})  # selected however it is triggered
    log = RequestLog(data.certificate_log(cert.name), on_event, name=cert.name)
    try:
        log.step("start", f"running task {number} by hand")
        outcomes = run_tasks([now], TaskContext(files, succeeded=True), log, manual=True)
    finally:
        log.close()
    return outcomes[0]


def _index(tasks: list[TaskConfig], number: int, name: str) -> int:
    if not 1 <= number <= len(tasks):
        has = f"its tasks are 1 to {len(tasks)}" if tasks else "it has no tasks"
        raise UsageError(f"'{name}' has no task {number}: {has}.", field="tasks")
    return number - 1


def _save(data: DataDir, name: str, tasks: list[TaskConfig]) -> list[TaskConfig]:
    spec = spec_of(get_certificate(name))
    spec.tasks = tasks
    return list(update_certificate(data, name, spec).deployment.tasks)
