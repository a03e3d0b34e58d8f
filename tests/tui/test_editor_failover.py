"""The editor's fallback accounts (Advanced step): saved as `cert set --fallback-account` saves them, and the core's
refusal (the certificate's own account) points at the Advanced step."""

from __future__ import annotations

from test_editor import open_editor
from textual.widgets import Input, Label
from tui_helpers import add_account, add_certificate, fresh_core, wait_until

from certify_tui.tui.screens.editor import CertificateEditorScreen


async def test_editor_failover_accounts_saved_and_checked(make_app) -> None:
    core = fresh_core("editor-failover")
    primary = add_account()
    other = add_account("ops@example.org", "zerossl", "https://acme.zerossl.com/v2/DV90")
    add_certificate(primary, "shop", ["shop.example.com"])
    app = make_app(core)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_editor(pilot, "shop")
        screen.go_to("advanced")
        await pilot.pause()
        field = screen.query_one("#fallback-accounts", Input)
        assert field.value == ""
        field.value = primary.email
        await pilot.press("ctrl+s")
        status = screen.query_one("#status", Label)
        await wait_until(pilot, lambda: status.display)
        assert "own account" in str(status.render()) and "(Advanced step)" in str(status.render())

        field.value = other.email
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, CertificateEditorScreen))
    assert core.get_certificate("shop").fallback_accounts == [other.id]
