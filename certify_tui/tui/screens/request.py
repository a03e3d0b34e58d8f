"""Request progress. (Placeholder until the request screen lands.)"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Label


class RequestScreen(Screen[bool]):
    """Runs a request for `name` in a worker, showing each step; dismisses with True on success."""

    BINDINGS = [Binding("escape", "close", "Back")]

    def __init__(self, name: str) -> None:
        super().__init__()
        self.certificate_name = name

    def compose(self) -> ComposeResult:
        yield Label(f"Request {self.certificate_name}")
        yield Footer()

    def action_close(self) -> None:
        self.dismiss(False)
