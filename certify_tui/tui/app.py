"""A first screen: the certificate list, read-only, until the full TUI lands."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import App, ComposeResult
from textual.widgets import DataTable, Footer, Header, Static

if TYPE_CHECKING:
    from certify_tui.lifecycle import Core


class CertifyApp(App[None]):
    TITLE = "certify-tui"
    CSS_PATH = "app.tcss"
    BINDINGS = [("q", "quit", "Quit")]

    def __init__(self, core: Core) -> None:
        super().__init__()
        self.core = core

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="hint")
        yield DataTable(id="certificates", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Name", "Primary domain", "Status", "Expires")
        views = [self.core.certificate_view(c) for c in self.core.list_certificates()]
        for v in views:
            table.add_row(v["name"], v["primary_identifier"], v["status"], (v["not_after"] or "-")[:10])
        hint = self.query_one("#hint", Static)
        if not self.core.list_accounts():
            hint.update("No ACME account yet. From a shell: certify-tui account add --email EMAIL --ca letsencrypt "
                        "--agree-tos")
        elif not views:
            hint.update("No certificates yet. From a shell: certify-tui cert add NAME --domain example.com")
        else:
            hint.display = False


def run_tui(core: Core) -> int:
    CertifyApp(core).run()
    return 0
