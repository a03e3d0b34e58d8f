"""Messages that thread workers post back to the UI (workers never touch widgets)."""

from __future__ import annotations

from typing import Any

from textual.message import Message


class WorkDone(Message):
    """A worker's result. `tag` says which job it was; `value` is what the core returned."""

    def __init__(self, tag: str, value: Any = None) -> None:
        super().__init__()
        self.tag = tag
        self.value = value


class WorkFailed(Message):
    """A worker's failure, carrying the core's one-line message (never a traceback)."""

    def __init__(self, tag: str, message: str) -> None:
        super().__init__()
        self.tag = tag
        self.message = message
