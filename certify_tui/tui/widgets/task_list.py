"""The certificate's deployment tasks, in the order they run: one line each, keys to add, remove and reorder.

The list only shows; the editor's TaskEditor owns the tasks (plain dicts `{"type", "options", "title"}`)
and does the work behind each key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.text import Text
from textual.binding import Binding

from certify_tui.deploy.base import DeploymentTask
from certify_tui.plugins import SECRET_MASK
from certify_tui.tui.widgets.plugin_items import ItemList

COMMON_KEYS = frozenset(p.key for p in DeploymentTask.COMMON_PARAMS)
WHEN = {"success": "on success", "failure": "on failure", "always": "always", "manual": "by hand only",
        "before": "before ordering"}


def task_summary(options: Mapping[str, Any], cls: type[DeploymentTask] | None) -> str:
    """What the task acts on, from its first filled-in own option (a path, a URL, a command); secrets masked."""
    if cls is None:
        return ""
    for param in cls.params:
        value = options.get(param.key)
        if param.key in COMMON_KEYS or value in (None, "") or param.type == "bool":
            continue
        if param.secret:
            return SECRET_MASK
        text = str(value)
        scheme, sep, rest = text.partition("://")
        if sep and "@" in rest.partition("/")[0]:  # never show credentials in a URL
            text = f"{scheme}://{rest.partition('@')[2]}"
        return text
    return ""


def task_prompt(number: int, task: Mapping[str, Any], cls: type[DeploymentTask] | None) -> Text:
    """'1. Export files → /srv/certs (on success)'."""
    line = Text(f"{number}. ")
    if cls is None:
        line.append(f"unknown task type '{task.get('type')}': remove it", style="bold red")
        return line
    options = task.get("options") or {}
    line.append(task.get("title") or cls.title, style="bold")
    summary = task_summary(options, cls)
    if summary:
        line.append(f" → {summary}")
    trigger = options.get("trigger") or "success"
    line.append(f" ({WHEN.get(trigger, trigger)})", style="dim")
    return line


class TaskList(ItemList):
    """Deployment tasks, in the order they run; the keys act on the highlighted one."""

    EMPTY = "No tasks yet: a adds one."
    BINDINGS = [
        Binding("a,insert", "add_item", "Add task"),
        Binding("delete,backspace", "remove_item", "Remove task"),
        Binding("u,ctrl+up", "move_item(-1)", "Move up"),
        Binding("ctrl+down", "move_item(1)", "Move down", show=False),
    ]
