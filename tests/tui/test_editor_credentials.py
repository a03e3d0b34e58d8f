"""The editor's validation step offers the provider's stored credentials, and saves the rule by its name."""

from __future__ import annotations

from textual.widgets import Label, Select
from tui_helpers import add_account, fresh_core, open_wildcard_at_validation, wait_until

from certify_tui.lifecycle.credentials import add_credential
from certify_tui.tui.screens.editor import CertificateEditorScreen

TSIG = "c2VjcmV0LXRzaWcta2V5LWZvci10ZXN0cy0xMjM0NTY="


async def test_a_stored_credential_is_picked_for_the_rule(make_app) -> None:
    core = fresh_core("editor-credential")
    add_account()
    add_credential("ns1", "rfc2136", {"server": "127.0.0.1", "tsig_key_name": "acme", "tsig_secret": TSIG})
    app = make_app(core)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_wildcard_at_validation(pilot)
        row = screen.query_one("#credential-row")
        assert not row.display  # http-01 standalone has no stored credential
        screen.query_one("#rule-challenge", Select).value = "dns-01"
        await wait_until(pilot, lambda: screen.rules[0]["challenge"] == "dns-01")
        screen.query_one("#rule-provider", Select).value = "rfc2136"
        await wait_until(pilot, lambda: screen.rules[0]["provider"] == "rfc2136")
        await pilot.pause()
        await wait_until(pilot, lambda: row.display)
        screen.query_one("#rule-credential", Select).value = "ns1"
        await wait_until(pilot, lambda: screen.rules[0].get("credential") == "ns1")
        screen.go_to("preview")
        await pilot.pause()
        status = screen.query_one("#status", Label)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, CertificateEditorScreen) or status.display)
        assert not isinstance(app.screen, CertificateEditorScreen), status.render()
    rule = core.get_certificate("wild").challenge_rules[0]
    assert (rule.provider, rule.credential) == ("rfc2136", "ns1")
    assert "tsig_secret" not in rule.options  # the credential holds it, not the certificate
