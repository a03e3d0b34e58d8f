"""Deployment tasks, found by id.

Each task module exposes `tasks() -> list[type[DeploymentTask]]`; adding a task is adding a module to
TASK_MODULES, with no UI code (forms come from the declared parameters). Task modules import their
heavy libraries (paramiko, requests) only when a task runs, so listing the types stays cheap.
"""

from __future__ import annotations

import importlib

from certify_tui.deploy.base import DeploymentTask
from certify_tui.errors import UsageError

TASK_MODULES = (
    "certify_tui.deploy.tasks.export",
    "certify_tui.deploy.tasks.command",
    "certify_tui.deploy.tasks.service",
    "certify_tui.deploy.tasks.webhook",
    "certify_tui.deploy.tasks.ssh",
)


def _load() -> dict[str, type[DeploymentTask]]:
    found: dict[str, type[DeploymentTask]] = {}
    for name in TASK_MODULES:
        for cls in importlib.import_module(name).tasks():
            found.setdefault(cls.id, cls)
    return found


TASK_TYPES: dict[str, type[DeploymentTask]] = _load()


def task_types() -> list[type[DeploymentTask]]:
    """Every task type, in the order the forms offer them."""
    return list(TASK_TYPES.values())


def get_task(type_id: str) -> type[DeploymentTask]:
    cls = TASK_TYPES.get(type_id or "")
    if cls is None:
        what = f"Unknown deployment task type '{type_id}'." if type_id else "A deployment task needs a type."
        raise UsageError(f"{what} Choose one of: {', '.join(TASK_TYPES)}.")
    return cls


__all__ = ["TASK_MODULES", "TASK_TYPES", "DeploymentTask", "get_task", "task_types"]
