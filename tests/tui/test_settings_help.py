"""Settings (form, save, inline errors, renewal worker section) and Help (every binding, read live)."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Label
from tui_helpers import SIZES, plain, seeded_core, wait_home_loaded, wait_until

from certify_tui.tui.screens.certificates import CertificatesScreen
from certify_tui.tui.screens.confirm import ConfirmScreen
from certify_tui.tui.screens.help import HelpScreen, binding_groups
from certify_tui.tui.screens.settings import SettingsScreen, renewal_worker_status


async def open_settings(pilot) -> SettingsScreen:  # noqa: ANN001
    await wait_home_loaded(pilot)
    await pilot.press("s")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, SettingsScreen) and pilot.app.screen.loaded)
    await pilot.pause()
    return pilot.app.screen


async def open_help(pilot) -> None:  # noqa: ANN001
    await wait_home_loaded(pilot)
    await pilot.press("question_mark")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))
    await pilot.pause()


# -- settings -----------------------------------------------------------------------------------

async def test_change_pool_size_and_save(make_app) -> None:
    app = make_app(seeded_core("settings-save"))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_settings(pilot)
        assert app.focused.id == "field-renewal_percent"
        await pilot.press("tab", "tab")  # renewal %, check interval, pool size
        assert app.focused.id == "field-pool_size"
        await pilot.press("8")  # the field's text is selected on focus: typing replaces it
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.core.settings()["pool_size"] == 8)
        await wait_until(pilot, lambda: screen.saved_values["pool_size"] == 8)
        assert not screen.query_one("#settings-error").display
        assert app.core.settings()["renewal_percent"] == 75  # untouched fields keep their values
        await pilot.press("escape")  # nothing unsaved: straight back
        assert isinstance(app.screen, CertificatesScreen)


async def test_invalid_value_shows_an_error_and_saves_nothing(make_app) -> None:
    app = make_app(seeded_core("settings-invalid"))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_settings(pilot)
        before = app.core.settings()
        screen.query_one("#field-pool_size", Input).focus()
        await pilot.press("0", "ctrl+s")
        await pilot.pause(0.2)
        error = screen.query_one("#settings-error", Label)
        assert error.display
        assert "Not saved: Parallel renewals needs a valid value" in str(error.content)
        field_error = screen.query_one("#error-pool_size", Label)
        assert field_error.has_class("-shown") and "between 1 and 64" in str(field_error.content)
        assert app.core.settings() == before
        await pilot.press("escape")  # unsaved changes: asks first
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert app.screen is screen
        await pilot.press("escape", "y")
        assert isinstance(app.screen, CertificatesScreen)
        assert app.core.settings() == before


async def test_renewal_worker_section(make_app) -> None:
    core = seeded_core("settings-worker")
    app = make_app(core)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_settings(pilot)
        text = str(screen.query_one("#renewal-worker-state").content)
        assert text == renewal_worker_status(core)
        assert "no renewal worker has run yet" in text.lower() and "certify-tui service" in text
    # A headless service's heartbeat (written to the shared database) is what the section reports.
    from certify_tui.renewal.worker import RenewalWorker

    RenewalWorker(core, where="service")._write_heartbeat(running=True)
    text = renewal_worker_status(core)
    assert text.startswith("Running in the headless service (pid") and "every 5 min, 4 at once" in text


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot_settings(snap_compare, make_app, size) -> None:
    app = make_app(seeded_core("settings-snap"))
    assert snap_compare(app, terminal_size=size, run_before=open_settings)


def test_snapshot_settings_error(snap_compare, make_app) -> None:
    app = make_app(seeded_core("settings-snap-error"))

    async def run_before(pilot) -> None:  # noqa: ANN001
        screen = await open_settings(pilot)
        screen.query_one("#field-pool_size", Input).focus()
        await pilot.press("0", "ctrl+s")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


# -- help ---------------------------------------------------------------------------------------

async def test_help_lists_the_home_screen_bindings(make_app) -> None:
    app = make_app(seeded_core("help-home"))
    async with app.run_test(size=(80, 24)) as pilot:
        await open_help(pilot)
        help_screen = app.screen
        home = next(g for g in help_screen.groups if g.title == "Certificates screen")
        keys = dict(home.rows)
        for key, what in [("n", "New"), ("r", "Request/renew"), ("d", "Delete"), ("/", "Filter"), ("l", "Log")]:
            assert keys[key] == what
        assert keys["L"] == "App log" and keys["+ / ="] == "Log bigger"  # hidden ones are listed too
        everywhere = dict(next(g for g in help_screen.groups if g.title == "Everywhere").rows)
        assert everywhere["? / f1"] == "Help" and everywhere["a"] == "Accounts" and everywhere["s"] == "Settings"
        shown = "\n".join(plain(static.content) for static in help_screen.query(".help-rows"))
        assert "Request/renew" in shown and "ctrl+p" in shown and "command palette" in shown
        for key in ("escape", "q", "question_mark"):
            await pilot.press(key)
            assert isinstance(app.screen, CertificatesScreen)
            if key != "question_mark":
                await pilot.press("question_mark")
                assert isinstance(app.screen, HelpScreen)


async def test_help_follows_the_bindings_of_the_screen_below(make_app) -> None:
    """Nothing is hard-coded: the groups are the live bindings of whatever screen is underneath."""
    app = make_app(seeded_core("help-settings"))
    async with app.run_test(size=(80, 24)) as pilot:
        settings = await open_settings(pilot)
        expected = binding_groups(settings)
        await pilot.press("f1")  # ? would type into the focused field
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        assert app.screen.groups == expected
        titles = [g.title for g in expected]
        assert titles[0] == "Settings screen" and "Input (when focused)" in titles and titles[-1] == "Everywhere"
        assert ("ctrl+s", "Save") in expected[0].rows


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot_help(snap_compare, make_app, size) -> None:
    app = make_app(seeded_core("help-snap"))
    assert snap_compare(app, terminal_size=size, run_before=open_help)
