"""Authenticated API latency with 500 idle/slowloris connections held open, against none, in one run.

Starts a real `certify-tui service` (renewal checks every minute), times N authenticated requests
(a new connection each, like `certify-tui status`) with no other connection open, then again while
500 connections are held (half silent, half dripping a never-ending request head; any the server
drops is reopened, as an attacker would). Then it keeps the flood up for HOLD seconds and shows
that the renewal worker's heartbeat (its scheduled checks) still advances meanwhile.

    .venv/bin/python benchmarks/api_under_idle_connections.py [N] [HOLD_SECONDS]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from servers.api_client import Flood, Service, exchange, request_bytes, start_service  # noqa: E402
from servers.common import free_port  # noqa: E402

from certify_tui.lifecycle import Core  # noqa: E402
from certify_tui.renewal.worker import worker_status  # noqa: E402

PATHS = ("/api/system/appversion", "/api/certificates", "/metrics")


def timed(svc: Service, n: int) -> list[float]:
    seconds = []
    for i in range(n):
        r = exchange(svc.port, request_bytes("GET", PATHS[i % len(PATHS)], svc.port, token=svc.token), timeout=30)
        if r.status != 200:
            raise SystemExit(f"unexpected answer {r.status}: {r.body!r}")
        seconds.append(r.seconds)
    return seconds


def summary(seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    return (f"median {statistics.median(ordered) * 1000:.2f} ms, p95 {p95 * 1000:.2f} ms, "
            f"max {ordered[-1] * 1000:.2f} ms")


class flood_process:  # noqa: N801 - a context manager used like a function
    """`count` idle/slowloris connections held by a child process (this script with --flood)."""

    def __init__(self, port: int, count: int) -> None:
        self.args = [sys.executable, __file__, "--flood", str(port), str(count)]
        self.result = (0, 0)

    def __enter__(self) -> flood_process:
        self.proc = subprocess.Popen(self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "open":
            raise SystemExit("the flood process could not open its connections")
        return self

    def __exit__(self, *exc: object) -> None:
        out, _ = self.proc.communicate("stop\n", timeout=30)
        held, reopened = out.split()
        self.result = (int(held), int(reopened))


def hold_flood(port: int, count: int) -> None:
    with Flood(port, count=count) as flood:
        print("open", flush=True)
        sys.stdin.readline()
        print(flood.open_now(), flood.reopened, flush=True)


def heartbeat(data_dir: Path) -> dict:
    with closing(Core.open(str(data_dir))):
        return worker_status() or {}


def main() -> None:
    if sys.argv[1:2] == ["--flood"]:
        return hold_flood(int(sys.argv[2]), int(sys.argv[3]))
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    hold = float(sys.argv[2]) if len(sys.argv) > 2 else 75
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        with closing(Core.open(str(data_dir))) as core:
            core.update_settings({"check_interval_minutes": 1})
        svc = start_service(data_dir, free_port())
        try:
            timed(svc, 20)  # warm-up
            quiet = timed(svc, n)
            # The flood runs in its own process: its client work must not share this process's GIL.
            with flood_process(svc.port, 500) as flood:
                flooded = timed(svc, n)
                before = heartbeat(data_dir)
                started, during, checks = time.monotonic(), [], set()
                while time.monotonic() - started < hold:
                    during += timed(svc, 10)
                    if last := heartbeat(data_dir).get("last_check"):
                        checks.add(last)
                    time.sleep(1)
                after = heartbeat(data_dir)
                checks.discard(before.get("last_check"))  # only checks that ran during the hold
            open_at_end, reopened = flood.result
        finally:
            svc.stop()
    ratio = statistics.median(flooded) / statistics.median(quiet)
    print(f"authenticated requests, no other connection:     {summary(quiet)} (n={n})")
    print(f"authenticated requests, 500 idle/slow held open: {summary(flooded)} (n={n})")
    print(f"latency ratio (median, flood / none):            {ratio:.2f}")
    print(f"during a {hold:.0f} s hold ({open_at_end} held open at the end, {reopened} dropped by the server "
          f"and reopened): {summary(during)} (n={len(during)})")
    print(f"renewal worker: last check before the hold {before.get('last_check')}, after {after.get('last_check')}; "
          f"{len(checks)} checks completed during the hold; heartbeat stale: {after.get('stale')}")


if __name__ == "__main__":
    main()
