"""The validation step creates a stored credential in place (ctrl+o): the rule then uses it and keeps no secret."""

from __future__ import annotations

from textual.pilot import Pilot
from textual.widgets import Input, Label, Select
from tui_helpers import add_account, fresh_core, open_wildcard_at_validation, wait_until

from certify_tui.lifecycle.credentials import add_credential, get_credential
from certify_tui.tui.app import CertifyApp
from certify_tui.tui.screens.credential_new import NewCredentialScreen
from certify_tui.tui.screens.editor import CertificateEditorScreen

TSIG = "c2VjcmV0LXRzaWcta2V5LWZvci10ZXN0cy0xMjM0NTY="
RFC2136 = {"server": "127.0.0.1", "tsig_key_name": "acme", "tsig_secret": TSIG}


async def open_rfc2136_rule(pilot: Pilot) -> CertificateEditorScreen:
    """A new certificate for *.example.org at the validation step, its rule dns-01 / rfc2136."""
    app = pilot.app
    assert isinstance(app, CertifyApp)
    screen = await open_wildcard_at_validation(pilot)
    screen.query_one("#rule-pattern", Input).focus()
    await pilot.pause()
    assert "ctrl+o" not in screen.active_bindings  # http-01 standalone has no secret to store
    screen.query_one("#rule-challenge", Select).value = "dns-01"
    await wait_until(pilot, lambda: screen.rules[0]["challenge"] == "dns-01")
    screen.query_one("#rule-provider", Select).value = "rfc2136"
    await wait_until(pilot, lambda: screen.rules[0]["provider"] == "rfc2136")
    await wait_until(pilot, lambda: bool(screen.query("#provider-form #field-tsig_secret")))
    await pilot.pause()
    assert "ctrl+o" in screen.active_bindings  # shown in the footer: "New credential"
    return screen


async def open_new_credential(pilot: Pilot) -> NewCredentialScreen:
    await pilot.press("ctrl+o")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, NewCredentialScreen))
    await pilot.pause()
    modal = pilot.app.screen
    assert isinstance(modal, NewCredentialScreen)
    return modal


async def test_a_credential_made_in_place_is_used_by_the_rule(make_app) -> None:
    core = fresh_core("editor-new-credential")
    add_account()
    app = make_app(core)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_rfc2136_rule(pilot)
        assert not screen.query_one("#credential-row").display  # no stored credential yet
        for key, value in RFC2136.items():  # typed into the rule first: the dialog takes them over
            screen.query_one(f"#provider-form #field-{key}", Input).value = value
        await wait_until(pilot, lambda: screen.rules[0]["options"].get("tsig_secret") == TSIG)
        modal = await open_new_credential(pilot)
        assert modal.query_one("#field-server", Input).value == "127.0.0.1"
        assert modal.query_one("#field-tsig_secret", Input).value == ""  # kept, never shown
        await pilot.press(*"ns1", "ctrl+s")
        await wait_until(pilot, lambda: app.screen is screen)
        await wait_until(pilot, lambda: screen.rules[0].get("credential") == "ns1")
        assert screen.query_one("#credential-row").display
        assert screen.query_one("#rule-credential", Select).value == "ns1"
        assert "tsig_secret" not in screen.rules[0]["options"]
        screen.go_to("preview")
        await pilot.pause()
        status = screen.query_one("#status", Label)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, CertificateEditorScreen) or status.display)
        assert not isinstance(app.screen, CertificateEditorScreen), status.render()
    stored = get_credential("ns1")
    assert (stored.provider, stored.secrets) == ("rfc2136", {"tsig_secret": TSIG})
    assert stored.values == {"server": "127.0.0.1", "tsig_key_name": "acme"}  # defaults stay the provider's
    rule = core.get_certificate("wild").challenge_rules[0]
    assert (rule.provider, rule.credential) == ("rfc2136", "ns1")
    assert "tsig_secret" not in rule.options  # the credential holds it, not the certificate


async def test_a_duplicate_name_is_shown_under_the_name(make_app) -> None:
    core = fresh_core("editor-new-credential-duplicate")
    add_account()
    add_credential("ns1", "rfc2136", RFC2136)
    app = make_app(core)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_rfc2136_rule(pilot)
        modal = await open_new_credential(pilot)
        for key, value in RFC2136.items():
            modal.query_one(f"#field-{key}", Input).value = value
        modal.query_one("#credential-name", Input).focus()
        await pilot.press(*"NS1", "ctrl+s")
        error = modal.query_one("#credential-name-error", Label)
        await wait_until(pilot, lambda: error.has_class("-shown"))
        assert "exists already" in str(error.render())
        assert app.screen is modal and not modal.saving
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, CertificateEditorScreen))


async def test_a_missing_value_is_shown_under_its_field(make_app) -> None:
    core = fresh_core("editor-new-credential-missing")
    add_account()
    app = make_app(core)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_rfc2136_rule(pilot)
        modal = await open_new_credential(pilot)
        await pilot.press(*"ns1", "ctrl+s")
        await pilot.pause()
        assert modal.query_one("#error-tsig_secret", Label).has_class("-shown")
        assert app.screen is modal


def test_snapshot_new_credential(snap_compare, make_app) -> None:
    core = fresh_core("editor-snap-new-credential")
    add_account()
    app = make_app(core)

    async def run_before(pilot: Pilot) -> None:
        await open_rfc2136_rule(pilot)
        await open_new_credential(pilot)
        await pilot.press(*"dns-main")
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


async def test_a_value_the_provider_refuses_is_shown_under_its_field(make_app) -> None:
    core = fresh_core("editor-new-credential-refused")
    add_account()
    app = make_app(core)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_rfc2136_rule(pilot)
        modal = await open_new_credential(pilot)
        for key, value in {**RFC2136, "tsig_secret": "not base64!"}.items():
            modal.query_one(f"#field-{key}", Input).value = value
        modal.query_one("#credential-name", Input).focus()
        await pilot.press(*"ns1", "ctrl+s")
        error = modal.query_one("#error-tsig_secret", Label)
        await wait_until(pilot, lambda: error.has_class("-shown") and not modal.saving)
        assert "base64" in str(error.render())
        assert app.screen is modal
    assert core.credential_names() == []
