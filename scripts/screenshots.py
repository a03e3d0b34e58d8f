#!/usr/bin/env python3
"""SVG screenshots of the main screens, from seeded deterministic data, into screenshots/.

    make screenshots               # or: .venv/bin/python scripts/screenshots.py [--only home help] [--out DIR]

The data, the clock and the request's events are the ones the snapshot tests use
(tests/tui/tui_helpers.py), so the pictures only change when the screens do. No CA is contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "tui"))

from textual.pilot import Pilot  # noqa: E402
from tui_helpers import (  # noqa: E402
    FIXED_NOW,
    script_request,
    seeded_core,
    wait_home_loaded,
    wait_request_finished,
    wait_until,
)

from certify_tui import clock  # noqa: E402
from certify_tui.lifecycle import Core  # noqa: E402

SIZE = (100, 30)
SETTLE = 0.5  # seconds for screens that load in a worker and say nothing when done


async def home(pilot: Pilot) -> None:
    await wait_home_loaded(pilot)


async def accounts(pilot: Pilot) -> None:
    await wait_home_loaded(pilot)
    await pilot.press("a")
    await pilot.pause(SETTLE)


async def editor(pilot: Pilot) -> None:
    await wait_home_loaded(pilot)
    pilot.app.open_editor("shop")
    await pilot.pause(SETTLE)


async def request(pilot: Pilot) -> None:
    await wait_home_loaded(pilot)
    pilot.app.open_request("shop")
    await wait_request_finished(pilot)


async def settings(pilot: Pilot) -> None:
    from certify_tui.tui.screens.settings import SettingsScreen

    await wait_home_loaded(pilot)
    await pilot.press("s")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, SettingsScreen) and pilot.app.screen.loaded)
    await pilot.pause()


async def help_keys(pilot: Pilot) -> None:
    await wait_home_loaded(pilot)
    await pilot.press("question_mark")
    await pilot.pause()


SCENES: dict[str, Callable[[Pilot], Awaitable[None]]] = {
    "home": home, "accounts": accounts, "editor": editor, "request": request, "settings": settings,
    "help": help_keys,
}
PREPARE_CORE: dict[str, Callable[[Core], None]] = {"request": script_request}


async def shoot(name: str, out: Path) -> Path:
    from certify_tui.tui.app import CertifyApp

    core = seeded_core(f"screenshots-{name}")
    PREPARE_CORE.get(name, lambda _core: None)(core)
    app = CertifyApp(core)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await SCENES[name](pilot)
            written = app.save_screenshot(filename=f"{name}.svg", path=str(out))
    finally:
        core.close()
    return Path(written)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=sorted(SCENES), help="just these screens")
    parser.add_argument("--out", default=str(REPO / "screenshots"), help="folder for the SVG files")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    clock.now = lambda: FIXED_NOW  # the same frozen clock as the snapshot tests
    failed = 0
    for name in args.only or SCENES:
        try:
            print(asyncio.run(shoot(name, out)))
        except Exception as exc:  # noqa: BLE001 - one broken screen must not cost the others their picture
            failed += 1
            print(f"{name}: {exc.__class__.__name__}: {exc}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
