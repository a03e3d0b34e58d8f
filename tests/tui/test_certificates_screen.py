"""Home screen: the certificate list, filter, sort, delete, log pane; snapshots at two sizes."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Label, Log
from tui_helpers import SIZES, fresh_core, seeded_core, wait_home_loaded, wait_until

from certify_tui.tui.screens.confirm import ConfirmScreen
from certify_tui.tui.widgets.certificate_list import CertificateList
from certify_tui.tui.widgets.log_pane import LogPane


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot_list(snap_compare, make_app, size) -> None:
    app = make_app(seeded_core("home-list"))
    assert snap_compare(app, terminal_size=size, run_before=wait_home_loaded)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot_empty_state(snap_compare, make_app, size) -> None:
    app = make_app(fresh_core("home-empty"))
    assert snap_compare(app, terminal_size=size, run_before=wait_home_loaded)


def test_snapshot_filtered(snap_compare, make_app) -> None:
    app = make_app(seeded_core("home-filter"))

    async def run_before(pilot) -> None:
        await wait_home_loaded(pilot)
        await pilot.press("slash", *"example.com")

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


async def test_empty_state_tells_a_newcomer_to_add_an_account(make_app) -> None:
    app = make_app(fresh_core("home-empty-text"))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_home_loaded(pilot)
        text = str(app.screen.query_one("#empty", Label).render())
        assert "add an ACME account" in text


async def test_filter_sort_and_open(make_app) -> None:
    app = make_app(seeded_core("home-keys"))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_home_loaded(pilot)
        table = app.screen.query_one(CertificateList)
        assert [table.rows[i].name for i in table.shown] == ["api", "intranet", "mail", "old", "shop"]
        await pilot.press("slash", *"fail")
        assert [table.rows[i].name for i in table.shown] == ["intranet"]
        await pilot.press("escape")
        assert len(table.shown) == 5 and not app.screen.query_one(Input).display
        await pilot.press("o")  # same column again: name, reversed
        assert table.rows[table.shown[0]].name == "shop"
        await pilot.press("o")  # next column: domains
        assert table.sort_key == "primary"
        await pilot.press("end")
        assert table.cursor == 4


async def test_log_pane_follows_the_highlighted_certificate(make_app) -> None:
    app = make_app(seeded_core("home-log"))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_home_loaded(pilot)
        pane = app.screen.query_one(LogPane)
        await pilot.press("down")  # api -> intranet
        log = pane.query_one(Log)
        await wait_until(pilot, lambda: "Validation failed" in "\n".join(log.lines))
        # Lines appended to the file appear without any key press (tail -f).
        path = app.core.data.certificate_log("intranet")
        with open(path, "a") as handle:
            handle.write("2026-06-01T12:00:00.000+00:00 done          appended live\n")
        await wait_until(pilot, lambda: "appended live" in log.lines[-1])
        await pilot.press("l")
        assert not pane.display
        await pilot.press("l", "plus")
        assert pane.styles.height.value == 10


async def test_delete_asks_then_removes(make_app) -> None:
    app = make_app(seeded_core("home-delete"))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_home_loaded(pilot)
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("enter")  # focus starts on "Keep": a stray Enter deletes nothing
        table = app.screen.query_one(CertificateList)
        assert "api" in [r.name for r in table.rows]
        await pilot.press("d", "y")
        await wait_until(pilot, lambda: "api" not in [r.name for r in table.rows])
        assert [c.name for c in app.core.list_certificates()] == ["intranet", "mail", "old", "shop"]


@pytest.mark.pebble
async def test_test_key_shows_the_diagnostics(make_app, pebble, tmp_path, monkeypatch) -> None:
    """`t` runs the core's checks in a worker and shows each with its remedy: here a taken port."""
    import socket

    from certify_tui.cert_test import lookups
    from certify_tui.lifecycle import Core
    from certify_tui.tui.screens.cert_test import CertTestScreen

    monkeypatch.setattr(lookups, "NAMESERVER", ("127.0.0.1", pebble.dns_port))
    core = Core.open(str(tmp_path / "d"))
    core.add_account(email="t@example.org", ca=pebble.directory_url, ca_bundle=pebble.https_ca_bundle,
                     agree_tos=True, allow_internal_names=True)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        core.add_certificate(name="t", domains=["t.example.test"], options={"address": "127.0.0.1", "port": port})
        app = make_app(core)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_home_loaded(pilot)
            await pilot.press("t")
            await wait_until(pilot, lambda: isinstance(app.screen, CertTestScreen) and app.screen.checks is not None,
                             timeout=30)
            checks = {c.name: c for c in app.screen.checks}
            port_check = next(c for c in checks.values() if c.ok is False and str(port) in c.message)
            assert port_check.remedy
            assert any(c.ok for c in checks.values())  # the name resolves through Pebble's DNS
            await pilot.press("escape")
            assert not isinstance(app.screen, CertTestScreen)


async def test_deploy_again_without_an_issued_certificate_says_so(make_app) -> None:
    """D redeploys through the core; with nothing issued yet the core's message is shown, not a traceback."""
    app = make_app(seeded_core("home-deploy"))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_home_loaded(pilot)
        await pilot.press("D")  # "api" is new: nothing to deploy
        await wait_until(pilot, lambda: any("no issued certificate" in n.message
                                            for n in app._notifications), timeout=10)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot_diagnostics(snap_compare, make_app, size) -> None:
    """The diagnostics dialog with a fixed set of results (the real checks are tested against real servers)."""
    from certify_tui.cert_test import Check
    from certify_tui.tui.screens.cert_test import CertTestScreen

    core = seeded_core("home-diagnostics")
    core.test_certificate = lambda name: [  # type: ignore[method-assign]
        Check("resolve api.example.com", True, "203.0.113.10"),
        Check("port 0.0.0.0:80", False, "another program already listens on 0.0.0.0:80 (nginx?)",
              "use the webroot provider, or stop the web server during requests"),
        Check("http-01 api.example.com", None, "skipped: the listener cannot start (see the port check)"),
        Check("CAA api.example.com", True, "no CAA records: any CA may issue (including letsencrypt.org)"),
    ]
    app = make_app(core)

    async def run_before(pilot) -> None:
        await wait_home_loaded(pilot)
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, CertTestScreen) and app.screen.checks)
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)
