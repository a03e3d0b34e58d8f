"""Revoking from the certificates screen: `x` asks in a dialog naming the certificate, its serial and the reason
(picked there); Esc sends nothing, Revoke has Pebble revoke it with that reason."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from textual.widgets import Label
from tui_helpers import wait_home_loaded, wait_until

from certify_tui.lifecycle import Core
from certify_tui.tui.screens.revoke import RevokeScreen

pytestmark = pytest.mark.pebble


def pebble_status(pebble, serial: str) -> dict:
    r = requests.get(f"{pebble.management_url}/cert-status-by-serial/{int(serial, 16):x}",
                     verify=pebble.https_ca_bundle, timeout=10)
    r.raise_for_status()
    return r.json()


def issued_core(pebble, folder: Path) -> tuple[Core, str]:
    core = Core.open(str(folder))
    core.add_account(email="revoke@example.org", ca=pebble.directory_url, ca_bundle=pebble.https_ca_bundle,
                     agree_tos=True, allow_internal_names=True)
    core.add_certificate(name="doomed", domains=["doomed.example.test"],
                         options={"address": "127.0.0.1", "port": pebble.http_port})
    return core, core.request("doomed").version.serial


async def test_revoke_dialog_names_it_then_revokes_with_the_picked_reason(make_app, pebble, tmp_path) -> None:
    core, serial = issued_core(pebble, tmp_path / "d")
    app = make_app(core)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_home_loaded(pilot)
        await pilot.press("x")
        await wait_until(pilot, lambda: isinstance(app.screen, RevokeScreen))
        question = app.screen.query_one("#question", Label)
        assert "'doomed'" in str(question.render()) and serial in str(question.render())
        assert "unspecified" in str(question.render())
        await pilot.press("escape")  # kept: nothing is sent
        assert not isinstance(app.screen, RevokeScreen)
        assert pebble_status(pebble, serial)["Status"] == "Valid"

        await pilot.press("x")
        await wait_until(pilot, lambda: isinstance(app.screen, RevokeScreen))
        await pilot.press("down", "down", "enter")  # the reason picker: superseded
        question = app.screen.query_one("#question", Label)
        assert "with reason superseded" in str(question.render())
        await pilot.click("#revoke")
        await wait_until(pilot, lambda: any("Revoked doomed" in n.message for n in app._notifications), timeout=60)
        assert core.get_certificate("doomed").status == "revoked"
        status = pebble_status(pebble, serial)
        assert status["Status"] == "Revoked" and status["Reason"] == 4

        await pilot.press("x")  # already revoked: the core's one line, no dialog
        await wait_until(pilot, lambda: any("already revoked" in n.message for n in app._notifications))
        assert not isinstance(app.screen, RevokeScreen)
