"""The editor's steps: their order and titles, the field each starts in, and the step where an input is fixed."""

from __future__ import annotations

from typing import Any

from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Label

STEPS = ("domains", "validation", "deployment", "advanced", "preview")
STEP_TITLES = {"domains": "Domains", "validation": "Validation", "deployment": "Deployment",
               "advanced": "Advanced", "preview": "Preview"}
FIRST_FOCUS = {"domains": "#domain-input", "validation": "#rules", "deployment": "#deploy-mode",
               "advanced": "#key-type", "preview": "#plan"}
# CertifyError.field (a CertificateSpec field, the part before any "[index]") -> the step where it is fixed.
FIELD_STEPS = {
    "name": "domains", "domains": "domains", "account": "domains",
    "rules": "validation",
    "deployment_mode": "deployment", "deployment_site": "deployment", "tasks": "deployment",
    "key_type": "advanced", "reuse_key": "advanced", "preferred_chain": "advanced", "profile": "advanced",
    "renewal": "advanced", "auto_renew": "advanced",
}


def step_for(field: str | None) -> str | None:
    """The step where the input `field` ("domains", "tasks[1]") is fixed; None for no or an unknown field."""
    return FIELD_STEPS.get(field.partition("[")[0]) if field else None


# TEMPORARY (issue 10, point 3): a fallback for core errors raised without a field, until the core names
# the field at every raise site; the lead removes it (and its callers' `field is None` branch) after merging.
_FIX_IN = (
    (("rule", "option", "provider", "challenge", "pattern"), "validation"),
    (("deployment", "site", "task"), "deployment"),
    (("key type",), "advanced"),
    (("certificate name", "domain", "identifier", "wildcard", "label", "suffix", "account", "name"), "domains"),
)


def fix_step(message: str, task_ids: tuple[str, ...] = ()) -> str | None:
    """The step a message without a field is about, by its words; `task_ids` are the deployment task types,
    whose option errors start with the type ("export: option 'path' ...") as a provider's do."""
    lower = message.lower()
    owner, sep, _ = message.partition(":")
    if "deployment mode" in lower or (sep and owner.strip() in task_ids):
        return "deployment"
    for words, step in _FIX_IN:
        if any(word in lower for word in words):
            return step
    return None


def step_to_fix(message: str, field: str | None, task_ids: tuple[str, ...]) -> str | None:
    """The step where the input an error is about is fixed."""
    if field is None:  # TEMPORARY fallback until the core names every error's field (see fix_step)
        return fix_step(message, task_ids)
    return step_for(field)


class GoTo(Message):
    """A step asks the editor to show another step (e.g. Enter on an empty domain input)."""

    def __init__(self, step: str) -> None:
        super().__init__()
        self.step = step


def row(label: str, *widgets: Any, id: str | None = None) -> Horizontal:
    """A label on the left, the field on the right: one line per setting fits 80x24."""
    return Horizontal(Label(label, classes="row-label"), *widgets, classes="row", id=id)
