"""Quitting: keys typed right after q (already queued when the app starts to exit) must start nothing.

A terminal delivers "q s" as two queued key events; exit() queues its own message behind them, so before
the fix the second key pushed a screen that shutdown tore down mid-mount, and a Rich traceback
("NoMatches: No nodes match '#settings-error'") was printed on the way out.
"""

from __future__ import annotations

import pytest
from textual import events
from tui_helpers import seeded_core


def queue_keys(app, *keys: str) -> None:
    """Post key events back to back, as a terminal's input thread does, without waiting in between."""
    for key in keys:
        char = {"question_mark": "?", "slash": "/"}.get(key, key if len(key) == 1 else None)
        app.post_message(events.Key(key, char))


@pytest.mark.parametrize("key", ["s", "a", "n", "question_mark", "e", "slash"])
async def test_key_right_after_quit_raises_nothing(make_app, key: str) -> None:
    app = make_app(seeded_core(f"quit-{key}"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        queue_keys(app, "q", key)
        await pilot.pause(0.3)
    assert app._exception is None
    assert app.return_code == 0


async def test_type_ahead_burst_after_quit_raises_nothing(make_app) -> None:
    app = make_app(seeded_core("quit-burst"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        queue_keys(app, "q", *("s", "a", "n", "question_mark", "enter", "escape") * 20)
        await pilot.pause(0.3)
    assert app._exception is None
    assert app.return_code == 0


async def test_keys_still_work_before_quit(make_app) -> None:
    """The guard is only for shutdown: the same keys open their screens while the app runs."""
    from certify_tui.tui.screens.settings import SettingsScreen

    app = make_app(seeded_core("quit-not-yet"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, SettingsScreen)
