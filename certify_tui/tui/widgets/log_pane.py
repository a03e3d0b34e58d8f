"""A docked log panel that follows a log file as it grows (like `tail -f`).

It tails the file rather than listening to events, so it shows renewals made by a headless
service in another process just as well as requests started in this UI.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Label, Log
from textual.worker import get_current_worker

POLL_SECONDS = 0.25
TAIL_BYTES = 64 * 1024  # on opening, show the end of a long log, not all of it


class LogPane(Vertical):
    DEFAULT_CSS = """
    LogPane { dock: bottom; height: 8; border-top: solid $primary; }
    LogPane > Label { width: 1fr; background: $panel; padding: 0 1; }
    LogPane > Log { height: 1fr; }
    """

    class Lines(Message):
        def __init__(self, path: Path, lines: list[str], reset: bool) -> None:
            super().__init__()
            self.path = path
            self.lines = lines
            self.reset = reset

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.path: Path | None = None
        self.title = ""

    def compose(self) -> ComposeResult:
        yield Label("Log", id="log-title")
        yield Log(max_lines=2000, auto_scroll=True, id="log-lines")

    def follow(self, path: Path, title: str) -> None:
        if path == self.path:
            return
        self.path = path
        self.title = title
        self.query_one("#log-title", Label).update(f"Log: {title}  (l hide, +/- resize, L app log)")
        self.query_one(Log).clear()
        self._tail(path)

    @work(thread=True, exclusive=True, group="log-tail", exit_on_error=False)
    def _tail(self, path: Path) -> None:
        worker = get_current_worker()
        position = 0
        first = True
        while not worker.is_cancelled:
            try:
                size = os.path.getsize(path)
            except OSError:
                size = 0
            if size < position:  # truncated or rotated: start again
                position, first = 0, True
            if size > position or first:
                start = max(position, size - TAIL_BYTES) if first else position
                chunk = b""
                if size:
                    with open(path, "rb") as handle:
                        handle.seek(start)
                        chunk = handle.read(size - start)
                text = chunk.decode("utf-8", "replace")
                if first and start > 0:
                    text = text.split("\n", 1)[-1]  # drop the partial first line
                lines = text.splitlines() if text else (["(no log yet)"] if first else [])
                self.post_message(self.Lines(path, lines, reset=first or position == 0))
                position, first = size, False
            time.sleep(POLL_SECONDS)

    def on_log_pane_lines(self, message: Lines) -> None:
        if message.path != self.path:
            return  # a late message from the file we followed before
        log = self.query_one(Log)
        if message.reset:
            log.clear()
        log.write_lines(message.lines)
