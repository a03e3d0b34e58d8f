"""Deployment tasks, found by id.

Tasks are plug-ins declared as entry points in the group `certify_tui.deployment_tasks`: ours in
pyproject.toml, others by any installed package (see plugins/registry.py); forms come from the declared
parameters, so adding one needs no UI code. Task modules import their heavy libraries (paramiko,
requests) only when a task runs, so listing the types stays cheap.
"""

from __future__ import annotations

from certify_tui.deploy.base import DeploymentTask
from certify_tui.errors import UsageError
from certify_tui.plugins.registry import DEPLOYMENT_TASKS, PluginGroup, SkippedPlugin
from certify_tui.store.sealed import register_secret_options

TASKS: PluginGroup[str, DeploymentTask] = PluginGroup(DEPLOYMENT_TASKS, DeploymentTask, key=lambda cls: cls.id)


def all_tasks() -> dict[str, type[DeploymentTask]]:
    """Every usable task type by id, loaded on first use, in the order the forms offer them (ours first)."""
    ordered = sorted(TASKS.classes().values(), key=lambda cls: (not TASKS.is_own(cls), cls.listing_order))
    return {cls.id: cls for cls in ordered}


def task_types() -> list[type[DeploymentTask]]:
    """Every task type, in the order the forms offer them."""
    return list(all_tasks().values())


def skipped_tasks() -> list[SkippedPlugin]:
    """Task plug-ins that could not be loaded, and why."""
    return TASKS.skipped()


def get_task(type_id: str) -> type[DeploymentTask]:
    found = all_tasks()
    cls = found.get(type_id or "")
    if cls is None:
        what = f"Unknown deployment task type '{type_id}'." if type_id else "A deployment task needs a type."
        raise UsageError(f"{what} Choose one of: {', '.join(found)}.")
    return cls


def _secret_options(kind: str, type_id: str) -> frozenset[str]:
    """The store seals these options of a task (store/sealed.py)."""
    cls = all_tasks().get(type_id) if kind == "task" else None
    return frozenset(p.key for p in cls.params if p.secret) if cls is not None else frozenset()


register_secret_options(_secret_options)


__all__ = ["TASKS", "DeploymentTask", "all_tasks", "get_task", "skipped_tasks", "task_types"]
