"""A Plan (what a request will do) rendered for reading, or the reason there is no plan."""

from __future__ import annotations

import os

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from certify_tui.identifiers import to_unicode
from certify_tui.plan import Plan

HEAD = "bold"
MUTED = "dim"
WARN = "bold yellow"
ERROR = "bold red"


def _name(identifier: str) -> str:
    shown = to_unicode(identifier)
    return identifier if shown == identifier else f"{shown} ({identifier})"


def plan_text(plan: Plan) -> Text:
    text = Text()

    def line(*parts: str | tuple[str, str]) -> None:
        text.append_text(Text.assemble(*parts))
        text.append("\n")

    for warning in plan.warnings:
        line(("⚠ Warning: ", WARN), (warning, WARN))
    if plan.warnings:
        line()
    line(("Certificate ", HEAD), (plan.certificate, HEAD))
    line(("  CA       ", MUTED), plan.ca)
    line(("           ", MUTED), (plan.directory_url, MUTED))
    line(("  Account  ", MUTED), plan.account)
    line(("  Key      ", MUTED), plan.key_type,
         (" (reusing the current key)" if plan.reuse_key else " (new key)", MUTED))
    if plan.profile:
        line(("  Profile  ", MUTED), plan.profile)
    if plan.preferred_chain:
        line(("  Chain    ", MUTED), f"prefer '{plan.preferred_chain}'")
    when = plan.next_renewal.strftime("%Y-%m-%d %H:%M UTC") if plan.next_renewal else "after the first issuance"
    line(("  Renewal  ", MUTED), plan.renewal, (f"; next: {when}", MUTED))
    line(("  Deploy   ", MUTED), plan.deployment_mode, ("; tasks: ", MUTED),
         ", ".join(plan.tasks) if plan.tasks else "none")
    line()
    line((f"Identifiers and validation ({len(plan.validations)})", HEAD))
    for step in plan.validations:
        primary = step.identifier == plan.primary
        line(("  ★ " if primary else "  • "), _name(step.identifier), (" (primary)" if primary else "", MUTED))
        line(f"      {step.challenge} via {step.provider}: {step.how}", (f"  [rule {step.rule}]", MUTED))
    line()
    folders = {os.path.dirname(f.path) for f in plan.files}
    if len(folders) == 1:
        line(("Files written", HEAD), (" to", MUTED))
        line(f"  {folders.pop()}/")
        for file in plan.files:
            line(f"    {os.path.basename(file.path):<16}", (f"mode {file.mode}  ({file.role})", MUTED))
    else:
        line(("Files written", HEAD))
        for file in plan.files:
            line(f"  {file.path}", (f"  mode {file.mode}  ({file.role})", MUTED))
    text.rstrip()
    return text


class PlanView(VerticalScroll, can_focus=True):
    """Scrollable; `show_plan`, `show_error` or `show_waiting`."""

    DEFAULT_CSS = """
    PlanView { height: 1fr; padding: 0 1; }
    PlanView > #plan-body { width: 1fr; }
    PlanView.-error > #plan-body { border: round $error; padding: 0 1; }
    """

    plan: Plan | None = None
    error: str | None = None
    _plain = ""

    def compose(self) -> ComposeResult:
        yield Static("", id="plan-body")

    def _body(self) -> Static:
        return self.query_one("#plan-body", Static)

    def show_waiting(self, message: str = "Checking the settings…") -> None:
        self.plan, self.error = None, None
        self.remove_class("-error")
        self._set(Text(message, style=MUTED))

    def show_plan(self, plan: Plan) -> None:
        self.plan, self.error = plan, None
        self.remove_class("-error")
        self._set(plan_text(plan))
        self.scroll_home(animate=False)

    def show_error(self, message: str, hint: str = "") -> None:
        self.plan, self.error = None, message
        self.add_class("-error")
        text = Text.assemble(("✗ These settings cannot be used yet\n\n", ERROR), message)
        if hint:
            text.append(f"\n\n{hint}", style=MUTED)
        self._set(text)
        self.scroll_home(animate=False)

    def _set(self, text: Text) -> None:
        self._plain = text.plain
        self._body().update(text)

    @property
    def text(self) -> str:
        """Plain text shown (for tests and screen readers)."""
        return self._plain
