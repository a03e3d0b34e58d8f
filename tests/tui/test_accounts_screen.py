"""Accounts: list, details, deactivate and add (against a real Pebble), offline EAB, snapshots.

Nothing here reaches the internet: `no_internet` makes every ACME session for a host other than
127.0.0.1 fail the way an offline machine does, so a public preset's directory read is harmless.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from textual import events
from textual.pilot import Pilot
from textual.widgets import Button, Checkbox, DataTable, Input, Label, Select
from tui_helpers import SIZES, add_account, fresh_core, wait_home_loaded, wait_until

from certify_tui.errors import OperationError
from certify_tui.lifecycle import Core
from certify_tui.lifecycle import accounts as core_accounts
from certify_tui.tui.screens.account_add import CUSTOM, AddAccountScreen
from certify_tui.tui.screens.accounts import DETAIL_FIELDS, AccountDetailScreen, AccountsScreen
from certify_tui.tui.screens.confirm import ConfirmScreen

FAKE_CA = "https://ca.example.net/acme/directory"
FAKE_TOS = "https://ca.example.net/acme/terms-of-service-v2.pdf"


@pytest.fixture(autouse=True)
def no_internet(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Refuse ACME sessions to anything but this machine; returns the URLs refused."""
    real = core_accounts._session
    refused: list[str] = []

    def local_only(url: str, *args, **kwargs):  # type: ignore[no-untyped-def]
        if urlsplit(url).hostname not in ("127.0.0.1", "localhost"):
            refused.append(url)
            raise OperationError(f"Cannot reach the CA at {url}: connection failed.")
        return real(url, *args, **kwargs)

    monkeypatch.setattr(core_accounts, "_session", local_only)
    return refused


def two_accounts_core(name: str) -> Core:
    core = fresh_core(name)
    add_account()
    other = add_account("ops-team@internal.example.net", ca_name="",
                        directory_url="https://acme.internal.example.net:14000/acme/directory")
    other.status = "deactivated"
    other.save()
    return core


def fake_terms(core: Core) -> None:
    """Answer FAKE_CA's directory without a network; everything else goes to the real core."""
    real = core.terms_of_service

    def terms(ca: str, ca_bundle: str | None = None) -> tuple[str | None, bool]:
        return (FAKE_TOS, False) if ca == FAKE_CA else real(ca, ca_bundle)

    core.terms_of_service = terms  # type: ignore[method-assign]


async def open_accounts(pilot: Pilot) -> AccountsScreen:
    await wait_home_loaded(pilot)
    await pilot.press("a")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, AccountsScreen) and pilot.app.screen.loaded)
    await pilot.pause()
    return pilot.app.screen  # type: ignore[return-value]


async def open_add(pilot: Pilot) -> AddAccountScreen:
    await open_accounts(pilot)
    await pilot.press("n")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, AddAccountScreen))
    screen: AddAccountScreen = pilot.app.screen  # type: ignore[assignment]
    await wait_until(pilot, lambda: screen.tos_state not in ("loading", "waiting"))
    return screen


async def choose_custom(pilot: Pilot, screen: AddAccountScreen, url: str, *, paste_url: bool = False) -> None:
    """From the email field: Tab to the CA list, open it, pick the last entry, type the URL."""
    await pilot.press("tab")
    assert screen.focused is screen.query_one("#ca", Select)
    await pilot.press("enter", "end", "enter")
    assert screen.query_one("#ca", Select).value == CUSTOM
    assert screen.focused is screen.query_one("#url", Input)
    await paste(pilot, url) if paste_url else await pilot.press(*url)


async def paste(pilot: Pilot, text: str) -> None:
    """What a terminal sends when the user pastes (quicker than typing a long path key by key)."""
    assert pilot.app.focused is not None
    pilot.app.focused.post_message(events.Paste(text))
    await pilot.pause()


def rows(screen: AccountsScreen) -> list[list[str]]:
    table = screen.query_one(DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def label_text(screen, selector: str) -> str:  # type: ignore[no-untyped-def]
    return str(screen.query_one(selector, Label).render())


# -- snapshots ------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot_accounts(snap_compare, make_app, size) -> None:
    app = make_app(two_accounts_core("accounts-list"))
    assert snap_compare(app, terminal_size=size, run_before=open_accounts)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot_add_custom_url(snap_compare, make_app, size) -> None:
    core = fresh_core("accounts-add")
    fake_terms(core)
    app = make_app(core)

    async def run_before(pilot: Pilot) -> None:
        screen = await open_add(pilot)
        await pilot.press(*"admin@example.org")
        await choose_custom(pilot, screen, FAKE_CA, paste_url=True)
        await pilot.press("enter")  # reads the directory now, and moves on to the trust bundle
        await wait_until(pilot, lambda: screen.tos_state == "known")
        await pilot.press("tab", "space")  # agree
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)


# -- the list -------------------------------------------------------------------------------------
async def test_empty_state_says_press_n(make_app) -> None:
    app = make_app(fresh_core("accounts-empty"))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_accounts(pilot)
        assert "Press n" in label_text(screen, "#empty")
        assert not screen.query_one(DataTable).display
        await pilot.press("x")  # nothing to deactivate: a warning, no dialog
        assert app.screen is screen
        await pilot.press("escape")
        assert not isinstance(app.screen, AccountsScreen)


async def test_list_shows_accounts(make_app) -> None:
    app = make_app(two_accounts_core("accounts-rows"))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_accounts(pilot)
        assert rows(screen) == [
            ["1", "admin@example.org", "letsencrypt-staging", "ec256", "✓ valid"],
            ["2", "ops-team@internal.examp…", "acme.internal.example.n…", "ec256", "✗ deactivated"],
        ]
        assert "2 accounts" in label_text(screen, "#title-bar")
        await pilot.resize_terminal(120, 40)  # room to spare: nothing is cut
        await wait_until(pilot, lambda: rows(screen)[1][1] == "ops-team@internal.example.net")
        assert rows(screen)[1][2] == "acme.internal.example.net:14000/acme/directory"
        await pilot.press("down", "x")  # already deactivated: no dialog
        assert app.screen is screen


async def test_details_show_every_field(make_app) -> None:
    app = make_app(two_accounts_core("accounts-detail"))
    async with app.run_test(size=(80, 24)) as pilot:
        await open_accounts(pilot)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, AccountDetailScreen))
        detail = app.screen
        shown = {key: label_text(detail, f"#detail-{key.replace('_', '-')}") for key, _ in DETAIL_FIELDS}
        assert set(shown) == set(app.core.account_view(app.core.list_accounts()[0]))
        assert shown["tos_url"] == "https://example.org/tos.pdf"
        assert shown["uri"] == "https://acme-staging-v02.api.letsencrypt.org/directory/acct/1"
        assert shown["status"] == "✓ valid"
        assert shown["ca_bundle"] == "system trust store"
        await pilot.press("escape")
        assert isinstance(app.screen, AccountsScreen)


# -- against a real CA ----------------------------------------------------------------------------
@pytest.mark.pebble
async def test_deactivate_asks_then_deactivates_at_the_ca(make_app, pebble) -> None:
    core = fresh_core("accounts-deactivate")
    core.add_account(email="leaving@example.org", ca=pebble.directory_url, agree_tos=True,
                     ca_bundle=pebble.https_ca_bundle, allow_internal_names=True)
    app = make_app(core)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_accounts(pilot)
        assert rows(screen)[0][2] == urlsplit(pebble.directory_url).netloc + "/dir"
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("enter")  # focus starts on "Keep"
        assert app.screen is screen and core.list_accounts()[0].status == "valid"
        await pilot.press("x", "y")
        await wait_until(pilot, lambda: rows(screen)[0][4] == "✗ deactivated", timeout=20)
        assert [a.status for a in core.list_accounts()] == ["deactivated"]


@pytest.mark.pebble
async def test_add_account_end_to_end(make_app, pebble) -> None:
    app = make_app(fresh_core("accounts-add-pebble"))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_add(pilot)
        register = screen.query_one("#register", Button)
        await pilot.press(*"new@example.org")
        await choose_custom(pilot, screen, pebble.directory_url)
        await pilot.press("tab")
        await paste(pilot, pebble.https_ca_bundle)
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.tos_state == "known")
        assert screen.tos_url and screen.tos_url in label_text(screen, "#tos")
        assert register.disabled
        assert not screen.query_one("#eab-kid-row").display  # Pebble here does not require EAB
        assert screen.focused is screen.query_one("#agree", Checkbox)
        await pilot.press("tab", "tab", "space")  # key type, then "Allow internal names"
        assert screen.query_one("#internal", Checkbox).value
        await pilot.press("ctrl+s")  # not agreed yet: nothing happens
        assert isinstance(app.screen, AddAccountScreen) and register.disabled
        await pilot.press("shift+tab", "shift+tab", "space")
        assert screen.query_one("#agree", Checkbox).value and not register.disabled
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, AccountsScreen), timeout=20)
        accounts_screen: AccountsScreen = app.screen  # type: ignore[assignment]
        await wait_until(pilot, lambda: len(rows(accounts_screen)) == 1)
        assert rows(accounts_screen)[0][1] == "new@example.org"
        [account] = app.core.list_accounts()
        assert (account.email, account.status, account.allow_internal_names, account.tos_agreed) == (
            "new@example.org", "valid", True, True)
        assert account.directory_url == pebble.directory_url and account.tos_url == screen.tos_url


# -- offline and failing ----------------------------------------------------------------------------
async def test_zerossl_shows_eab_fields_offline(make_app, no_internet) -> None:
    app = make_app(fresh_core("accounts-eab"))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_add(pilot)
        # The default preset's directory read failed offline: said inline, nothing crashed.
        assert screen.tos_state == "failed"
        assert "Could not read the terms" in label_text(screen, "#tos")
        assert not screen.query_one("#eab-kid-row").display
        await pilot.press("tab", "enter", "down", "down", "enter")
        assert screen.query_one("#ca", Select).value == "zerossl"
        await wait_until(pilot, lambda: screen.tos_state == "failed")
        assert screen.query_one("#eab-kid-row").display and screen.query_one("#eab-hmac-row").display
        assert screen.query_one("#eab-hmac", Input).password
        assert "Needs External Account Binding" in label_text(screen, "#tos")
        assert "ctrl+t" in label_text(screen, "#tos")
        assert no_internet == ["https://acme-v02.api.letsencrypt.org/directory", "https://acme.zerossl.com/v2/DV90"]
        await pilot.press("ctrl+t")  # try again, on request
        await wait_until(pilot, lambda: len(no_internet) == 3 and screen.tos_state == "failed")
        await pilot.press("q", "a", "s")  # the app's letter keys do nothing inside the form
        assert app.screen is screen
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, AccountsScreen))
        assert app.core.list_accounts() == []


async def test_core_error_is_shown_inline_and_the_form_is_kept(make_app) -> None:
    app = make_app(fresh_core("accounts-error"))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_add(pilot)
        await pilot.press(*"not-an-email", "tab")
        assert screen.query_one("#email-hint-row").display  # red hint once the field is left
        await pilot.press("shift+tab", "end", *"@example.org")
        assert not screen.query_one("#email-hint-row").display
        await choose_custom(pilot, screen, "https://127.0.0.1:1/dir", paste_url=True)
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.tos_state == "failed")
        assert "Cannot reach the CA" in label_text(screen, "#tos")
        await pilot.press("tab", "space", "ctrl+s")  # agree, register
        await wait_until(pilot, lambda: screen.query_one("#error-row").display)
        assert "Cannot reach the CA at https://127.0.0.1:1/dir" in label_text(screen, "#error")
        assert any("Cannot reach the CA" in n.message for n in app._notifications)
        assert isinstance(app.screen, AddAccountScreen) and not screen.busy
        assert screen.query_one("#email", Input).value == "not-an-email@example.org"
        assert screen.query_one("#url", Input).value == "https://127.0.0.1:1/dir"
        assert not screen.query_one("#register", Button).disabled
        assert str(screen.query_one("#register", Button).label) == "Register (ctrl+s)"
        assert app.core.list_accounts() == []
