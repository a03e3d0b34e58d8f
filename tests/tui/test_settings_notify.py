"""Settings screen: the "Send test notification" button sends to the saved channels (a real webhook server and
a dead SMTP port) in a thread worker, and shows what happened."""

from __future__ import annotations

from servers.common import free_port
from servers.notify_receivers import webhook_server
from test_settings_help import open_settings
from textual.widgets import Button, Input, Static
from tui_helpers import plain, seeded_core, wait_until

from certify_tui.tui.screens.settings import SettingsScreen


async def test_button_sends_to_the_webhook_and_says_so(make_app) -> None:  # noqa: ANN001
    core = seeded_core("settings-notify-ok")
    with webhook_server() as hook:
        core.set_webhook_channel(hook.url("/tui"))
        app = make_app(core)
        async with app.run_test(size=(100, 30)) as pilot:
            screen: SettingsScreen = await open_settings(pilot)
            await pilot.click("#send-test-notification")
            await wait_until(pilot, lambda: screen.test_result is not None)
            await pilot.pause()
            result = plain(screen.query_one("#notify-test-result", Static).render())
            assert screen.query_one("#send-test-notification", Button).disabled is False
    assert screen.test_result is not None and screen.test_result.ok
    assert result.startswith("Test notification sent to 1 channel(s): webhook http://127.0.0.1:")
    (path, payload, _), = hook.posts
    assert path == "/tui" and payload["title"].startswith("certify-tui: test notification")


async def test_failure_is_shown_and_unsaved_changes_are_not_sent(make_app) -> None:  # noqa: ANN001
    core = seeded_core("settings-notify-fail")
    dead = free_port()
    core.set_email_channel("127.0.0.1", port=dead, security="plain", to=["ops@example.com"])
    app = make_app(core)
    async with app.run_test(size=(100, 30)) as pilot:
        screen: SettingsScreen = await open_settings(pilot)
        field = screen.query_one("#field-pool_size", Input)
        field.value = "9"  # not saved: the test would not use it
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert screen.test_result is None
        field.value = "4"
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: screen.test_result is not None)
        await pilot.pause()
        shown = plain(screen.query_one("#notify-test-result", Static).render())
    assert screen.test_result is not None and not screen.test_result.ok
    assert f"Cannot reach the SMTP server 127.0.0.1:{dead}: connection refused" in shown
