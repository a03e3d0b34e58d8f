"""Messages that thread workers post back to the UI (workers never touch widgets).

Each screen declares one message class per outcome (`PlanReady`, `SitesLoaded`, ...) next to the worker
that posts it and handles it with `@on(...)`; a failure subclasses `Failed`.
"""

from __future__ import annotations

from typing import Self

from textual.message import Message

from certify_tui.errors import CertifyError


class Failed(Message):
    """A worker's failure: the core's one-line message (never a traceback) and the input it is about."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__()
        self.message = message
        self.field = field  # CertifyError.field: a CertificateSpec field such as "domains" or "rules[1]"

    @classmethod
    def of(cls, error: CertifyError) -> Self:
        """The failure for a core error, keeping the field it names."""
        return cls(error.message, error.field)
