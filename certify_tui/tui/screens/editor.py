"""Certificate editor. (Placeholder until the editor lands.)"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Label


class CertificateEditorScreen(Screen[str | None]):
    """Edits the certificate `name`, or a new one when None; dismisses with the saved name or None."""

    BINDINGS = [Binding("escape", "cancel", "Back")]

    def __init__(self, name: str | None) -> None:
        super().__init__()
        self.certificate_name = name

    def compose(self) -> ComposeResult:
        yield Label(f"Editor: {self.certificate_name or 'new certificate'}")
        yield Footer()

    def action_cancel(self) -> None:
        self.dismiss(None)
