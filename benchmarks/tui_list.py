"""The certificate list with 10,000 certificates: launch to an interactive list, and filter keystrokes.

Runs the real app headless (App.run_test) on a seeded database and, as the baseline in the
same process, a minimal app with Textual's stock DataTable holding the same rows (loaded with
add_rows, filtered by clear + add_rows). Also launch to first paint with an empty database, in a
fresh process so imports count.

    .venv/bin/python benchmarks/tui_list.py [N]
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from textual.app import App, ComposeResult
from textual.widgets import DataTable

from certify_tui.keys import generate_key, key_to_pem
from certify_tui.lifecycle import Core
from certify_tui.store.models import Account, ManagedCertificate
from certify_tui.tui.app import CertifyApp
from certify_tui.tui.widgets.certificate_list import CertificateList

QUERY = "shop-12"


def seed(core: Core, n: int) -> None:
    account = Account.create(email="bench@example.org", directory_url="https://ca.invalid/dir",
                             account_key_pem=key_to_pem(generate_key()).decode(), status="valid")
    now = datetime.now(UTC)
    rows = []
    for i in range(n):
        issued = now - timedelta(days=i % 90)
        rows.append(dict(
            name=f"{['shop', 'mail', 'api', 'www'][i % 4]}-{i}", account=account,
            primary_identifier=f"host{i}.example{i % 50}.com",
            identifiers=[f"host{i}.example{i % 50}.com", f"www.host{i}.example{i % 50}.com"],
            status="valid" if i % 17 else "failed", not_before=issued, not_after=issued + timedelta(days=90),
            next_attempt=issued + timedelta(days=60), last_error=None if i % 17 else "connection refused",
            challenge_rules=[], deployment={"mode": "files"}, renewal={"percent": 75}))
    with core.db.atomic():
        for start in range(0, n, 500):
            ManagedCertificate.insert_many(rows[start:start + 500]).execute()


async def measure_ours(core: Core) -> tuple[float, list[float]]:
    start = time.perf_counter()
    app = CertifyApp(core)
    async with app.run_test(size=(120, 40)) as pilot:
        while not getattr(app.screen, "loaded", False):
            await asyncio.sleep(0.001)
        await pilot.pause()
        launch = time.perf_counter() - start
        table = app.screen.query_one(CertificateList)
        keys = []
        for i in range(1, len(QUERY) + 1):
            # A keystroke's work: filter the rows, then render the whole frame (every visible line).
            t = time.perf_counter()
            table.set_filter(QUERY[:i])
            render_frame(app)
            keys.append(time.perf_counter() - t)
        assert table.shown and all(QUERY in table.rows[i].name for i in table.shown), "filter result is wrong"
        table.set_filter("")
        await pilot.press("slash")
        typed = []
        for char in QUERY:  # end to end through Pilot (includes Pilot's own idle waits)
            t = time.perf_counter()
            await pilot.press(char)
            typed.append(time.perf_counter() - t)
        assert all(QUERY in table.rows[i].name for i in table.shown), "typed filter result is wrong"
    return launch, keys, typed


def render_frame(app: App) -> None:
    """Lay out and render a full frame, as the compositor does before writing to the terminal."""
    screen = app.screen
    screen._refresh_layout(screen.size)
    screen._compositor.render_update(full=True)


class StockTable(App[None]):
    def __init__(self, rows: list[tuple[str, ...]]) -> None:
        super().__init__()
        self.all_rows = rows

    def compose(self) -> ComposeResult:
        yield DataTable()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Name", "Domains", "Status", "Expires", "Renews", "Last result")
        table.add_rows(self.all_rows)

    def apply_filter(self, text: str) -> None:
        table = self.query_one(DataTable)
        table.clear()
        table.add_rows([r for r in self.all_rows if text in " ".join(r).lower()])


async def measure_stock(core: Core) -> tuple[float, list[float]]:
    start = time.perf_counter()
    rows = [(r.name, r.primary, r.status, f"{r.not_after:%Y-%m-%d}", f"{r.renews_at:%Y-%m-%d}",
             r.last_error or "ok") for r in core.certificate_rows()]
    app = StockTable(rows)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        launch = time.perf_counter() - start
        keys = []
        for i in range(1, len(QUERY) + 1):
            t = time.perf_counter()
            app.apply_filter(QUERY[:i])
            render_frame(app)
            keys.append(time.perf_counter() - t)
    return launch, keys


FIRST_PAINT = """
import sys, time
from certify_tui.lifecycle import Core
from certify_tui.tui.app import CertifyApp
import asyncio
async def main():
    app = CertifyApp(Core.open(sys.argv[1]))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        print(time.time())
asyncio.run(main())
"""


def first_paint_empty(tmp: str) -> float:
    runs = []
    for i in range(3):
        start = time.time()
        out = subprocess.run([sys.executable, "-c", FIRST_PAINT, str(Path(tmp) / f"empty{i}")],
                             capture_output=True, text=True, check=True).stdout
        runs.append(float(out.strip().splitlines()[-1]) - start)
    return statistics.median(runs)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with tempfile.TemporaryDirectory() as tmp:
        core = Core.open(str(Path(tmp) / "data"))
        seed(core, n)
        ours = asyncio.run(measure_ours(core))
        stock = asyncio.run(measure_stock(core))
        paint = first_paint_empty(tmp)
        t = time.perf_counter()
        python = subprocess.run([sys.executable, "-c", "pass"], check=True)
        bare = time.perf_counter() - t
        del python
    print(f"{n} certificates, headless 120x40")
    print(f"launch to interactive list: certify-tui {ours[0]:.3f} s | stock DataTable {stock[0]:.3f} s "
          f"(ratio {ours[0] / stock[0]:.2f})")
    mo, ms = statistics.median(ours[1]) * 1000, statistics.median(stock[1]) * 1000
    print(f"filter keystroke, filter + full-frame render (median of {len(QUERY)}): certify-tui {mo:.1f} ms "
          f"(max {max(ours[1]) * 1000:.1f}) | stock DataTable {ms:.1f} ms (ratio {mo / ms:.2f})")
    print(f"filter keystroke typed through Pilot (includes its idle waits): median "
          f"{statistics.median(ours[2]) * 1000:.1f} ms")
    print(f"launch to first paint, empty database, fresh process: {paint:.3f} s "
          f"(bare 'python -c pass': {bare:.3f} s)")


if __name__ == "__main__":
    main()
