"""Bundles from the command palette: export a seeded installation, then in another data folder a wrong
passphrase is refused in one line, the preview lists what is new, and the confirmed import brings it all."""

from __future__ import annotations

from pathlib import Path

from textual.screen import Screen
from textual.widgets import DataTable, Input, Label
from tui_helpers import SNAP_ROOT, fresh_core, seeded_core, wait_home_loaded, wait_until

from certify_tui.store.models import Account, ManagedCertificate
from certify_tui.tui.screens.bundle import ExportBundleScreen, ImportBundleScreen
from certify_tui.tui.screens.confirm import ConfirmScreen

PASSPHRASE = "tui bundle passphrase 9"


async def run_palette(pilot, title: str) -> None:  # noqa: ANN001
    await pilot.press("ctrl+p")
    await pilot.pause(0.3)
    await pilot.press(*title)
    await pilot.pause(0.5)
    await pilot.press("enter")


async def fill(pilot, selector: str, text: str) -> None:  # noqa: ANN001
    field = pilot.app.screen.query_one(selector, Input)
    field.value = text
    await pilot.pause()


def status_of(screen: Screen[object]) -> str:
    return str(screen.query_one("#bundle-status", Label).content)


async def test_bundle_export_and_import_through_the_palette(make_app) -> None:  # noqa: ANN001
    bundle = SNAP_ROOT / "bundle-tui.bundle"
    bundle.unlink(missing_ok=True)
    source = make_app(seeded_core("bundle-source"))
    async with source.run_test(size=(100, 30)) as pilot:
        await wait_home_loaded(pilot)
        await run_palette(pilot, "Export bundle")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ExportBundleScreen))
        await fill(pilot, "#bundle-file", str(bundle))
        await fill(pilot, "#bundle-passphrase", PASSPHRASE)
        await fill(pilot, "#bundle-passphrase-again", PASSPHRASE + "x")
        await pilot.press("ctrl+s")
        assert "passphrases differ" in status_of(pilot.app.screen) and not bundle.exists()
        await fill(pilot, "#bundle-passphrase-again", PASSPHRASE)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(pilot.app.screen, ExportBundleScreen))
    assert bundle.exists() and bundle.stat().st_mode & 0o777 == 0o600
    source.core.close()

    target = make_app(fresh_core("bundle-target"))
    async with target.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: pilot.app.screen.is_mounted)
        await pilot.pause(0.3)
        await run_palette(pilot, "Import bundle")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ImportBundleScreen))
        screen = pilot.app.screen
        await fill(pilot, "#bundle-file", str(bundle))
        await fill(pilot, "#bundle-passphrase", "not the passphrase")
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: "✗" in status_of(screen))
        assert "passphrase is wrong" in status_of(screen)
        await pilot.press("ctrl+s")  # no preview, no import
        assert "Preview first" in status_of(screen)

        await fill(pilot, "#bundle-passphrase", PASSPHRASE)
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: screen.plan is not None)
        table = screen.query_one("#bundle-plan", DataTable)
        rows = {tuple(table.get_row_at(i)[:3]) for i in range(table.row_count)}
        assert ("new", "certificate", "shop") in rows and ("new", "certificate", "intranet") in rows
        assert ("new", "account", "admin@example.org at https://acme-staging-v02.api.letsencrypt.org/directory") in rows
        assert status_of(screen).startswith("6 new, 0 changed, 0 in conflict"), status_of(screen)
        assert ManagedCertificate.select().count() == 0  # the preview wrote nothing

        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_until(pilot, lambda: not isinstance(pilot.app.screen, ImportBundleScreen))
        names = sorted(c.name for c in ManagedCertificate.select())
        assert names == ["api", "intranet", "mail", "old", "shop"]
        assert [a.uri for a in Account.select()] == ["https://acme-staging-v02.api.letsencrypt.org/directory/acct/1"]
    assert Path(bundle).exists()
