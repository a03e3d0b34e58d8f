"""`cert test` in the TUI: test a certificate's setup before requesting it (names, ports, reachability, CAA,
DNS access), through Core.test_certificate."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from certify_tui.errors import CertifyError
from certify_tui.tui.messages import Failed

if TYPE_CHECKING:
    from certify_tui.cert_test import Check
    from certify_tui.tui.app import CertifyApp

STYLE = {True: "green", False: "bold red", None: "dim"}


class ChecksDone(Message):
    """The checks ran (each passed, failed or was skipped)."""

    def __init__(self, checks: list[Check]) -> None:
        super().__init__()
        self.checks = checks


class ChecksFailed(Failed):
    """The checks could not run."""


def checks_table(checks: list[Check]) -> Table:
    table = Table(box=None, show_header=False, expand=True, padding=(0, 1))
    table.add_column(width=1)
    table.add_column(ratio=1)
    for check in checks:
        body = Text(f"{check.name}: ", style="bold")
        body.append(check.message)
        if check.remedy and check.ok is False:
            body.append(f"\nTo fix: {check.remedy}", style="yellow")
        table.add_row(Text(check.symbol, style=STYLE[check.ok]), body)
    return table


class CertTestScreen(ModalScreen[None]):
    app: CertifyApp
    CSS_PATH = "cert_test.tcss"
    BINDINGS = [Binding("escape,enter,q", "dismiss", "Close")]

    def __init__(self, name: str) -> None:
        super().__init__()
        self.certificate_name = name
        self.checks: list[Check] | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(f"Test: {self.certificate_name}  ·  Esc closes", id="diagnostics-title")
            with VerticalScroll():
                yield Static("Running checks… (nothing is sent to the CA)", id="checks")

    def on_mount(self) -> None:
        self._run()

    @work(thread=True, exit_on_error=False, group="diagnostics")
    def _run(self) -> None:
        try:
            checks = self.app.core.test_certificate(self.certificate_name)
        except CertifyError as exc:
            self.post_message(ChecksFailed.of(exc))
            return
        self.post_message(ChecksDone(checks))

    @on(ChecksDone)
    def _done(self, message: ChecksDone) -> None:
        self.checks = message.checks
        failed = sum(1 for c in self.checks if c.ok is False)
        verdict = "all checks passed" if not failed else f"{failed} check{'s' if failed > 1 else ''} failed"
        self.query_one("#diagnostics-title", Label).update(f"Test: {self.certificate_name}  ·  {verdict}  ·  "
                                                           "Esc closes")
        self.query_one("#checks", Static).update(checks_table(self.checks))

    @on(ChecksFailed)
    def _failed(self, message: ChecksFailed) -> None:
        self.checks = []
        self.query_one("#checks", Static).update(Text(f"✗ {message.message}", style="bold red"))
