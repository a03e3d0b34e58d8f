"""TUI test fixtures: a frozen clock for every test here, and an app factory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
from tui_helpers import FIXED_NOW

from certify_tui import clock
from certify_tui.lifecycle import Core


@pytest.fixture(autouse=True)
def steady_cursor(monkeypatch: pytest.MonkeyPatch) -> None:
    """Text cursors never blink in tests: a 0.5 s blink timer decides which half a snapshot lands in.

    Blinking is switched off as each widget mounts, before its timer exists, so the cursor is drawn
    steadily wherever a text widget has focus.
    """
    from textual.widgets import Input, TextArea

    for widget_class in (Input, TextArea):
        original = widget_class._on_mount

        def on_mount(self: Any, event: Any, _original: Callable[..., Any] = original) -> Any:
            self.cursor_blink = False
            return _original(self, event)

        monkeypatch.setattr(widget_class, "_on_mount", on_mount)


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> datetime:
    monkeypatch.setattr(clock, "now", lambda: FIXED_NOW)
    return FIXED_NOW


@pytest.fixture
def make_app() -> Iterator[Callable[[Core], object]]:
    """Build a CertifyApp for a core and close the core afterwards."""
    from certify_tui.tui.app import CertifyApp

    cores: list[Core] = []

    def build(core: Core) -> CertifyApp:
        cores.append(core)
        return CertifyApp(core)

    yield build
    for core in cores:
        core.close()
