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


async def test_new_smtp_login_fills_the_field_and_saves(make_app) -> None:  # noqa: ANN001
    from certify_tui.tui.screens.credential_new import NewCredentialScreen

    core = seeded_core("settings-notify-login")
    app = make_app(core)
    async with app.run_test(size=(100, 30)) as pilot:
        screen: SettingsScreen = await open_settings(pilot)
        screen.query_one("#field-notify_smtp_host", Input).value = "smtp.example.com"
        await pilot.press("ctrl+l")
        await wait_until(pilot, lambda: isinstance(app.screen, NewCredentialScreen))
        dialog = app.screen
        assert "New SMTP login" in plain(dialog.query_one("#credential-title", Static).render())
        dialog.query_one("#credential-name", Input).value = "mail-login"
        dialog.query_one("#field-user", Input).value = "mailer"
        dialog.query_one("#field-password", Input).value = "Tui-Sm7p-Secret"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.screen is screen)
        assert screen.query_one("#field-notify_smtp_credential", Input).value == "mail-login"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: core.settings()["notify_smtp_credential"] == "mail-login")
    assert core.settings()["notify_smtp_host"] == "smtp.example.com"
    view = core.notify_channels()["email"]
    assert view["credential"] == "mail-login" and view["to"] == ["admin@example.org"]  # the account's contact
    from certify_tui.lifecycle import credentials

    shown = credentials.show_credential("mail-login")
    assert shown["values"] == {"user": "mailer"} and shown["secrets"] == {"password": "********"}
