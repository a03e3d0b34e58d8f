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
    "rules": "validation", "credential": "validation",
    "deployment_mode": "deployment", "deployment_site": "deployment", "deployment_binding": "deployment",
    "tasks": "deployment",
    "key_type": "advanced", "reuse_key": "advanced", "preferred_chain": "advanced", "profile": "advanced",
    "renewal": "advanced", "auto_renew": "advanced", "fallback_accounts": "advanced",
}


def step_for(field: str | None) -> str | None:
    """The step where the input `field` ("domains", "tasks[1]") is fixed; None for no or an unknown field."""
    return FIELD_STEPS.get(field.partition("[")[0]) if field else None


class GoTo(Message):
    """A step asks the editor to show another step (e.g. Enter on an empty domain input)."""

    def __init__(self, step: str) -> None:
        super().__init__()
        self.step = step


def row(label: str, *widgets: Any, id: str | None = None) -> Horizontal:
    """A label on the left, the field on the right: one line per setting fits 80x24."""
    return Horizontal(Label(label, classes="row-label"), *widgets, classes="row", id=id)
