"""TUI test fixtures: a frozen clock for every test here, and an app factory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

import pytest
from tui_helpers import FIXED_NOW

from certify_tui import clock
from certify_tui.lifecycle import Core


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
