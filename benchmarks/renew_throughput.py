"""Renewal throughput through the worker's engine against a local Pebble.

200 single-name certificates (PEBBLE_VA_NOSLEEP=1, real http-01 validation, PEBBLE_WFE_NONCEREJECT=0)
are issued once, then force-renewed serially and with the default pool, in the same process.
Prints certificates per second, the ratio pool/serial, and this process's CPU seconds per
certificate (the client is the GIL-bound side; Pebble runs in its own process).

    .venv/bin/python benchmarks/renew_throughput.py [N] [POOL] [NONCE_REJECT_PERCENT]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from servers.pebble import PebbleServer  # noqa: E402

from certify_tui.lifecycle import Core  # noqa: E402


def timed(core: Core, names: list[str], pool: int) -> tuple[float, float, int]:
    wall, cpu = time.perf_counter(), time.process_time()
    outcomes = core.renew(names, force=True, pool_size=pool)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return wall, cpu, sum(1 for o in outcomes if not o.ok)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    pool = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    reject = sys.argv[3] if len(sys.argv) > 3 else "0"
    with PebbleServer(env={"PEBBLE_WFE_NONCEREJECT": reject}) as pebble, tempfile.TemporaryDirectory() as tmp:
        core = Core.open(tmp)
        core.add_account(email="bench@example.org", ca=pebble.directory_url, ca_bundle=pebble.https_ca_bundle,
                         agree_tos=True, allow_internal_names=True)
        names = []
        for i in range(n):
            core.add_certificate(name=f"c{i}", domains=[f"c{i}.bench.test"],
                                 options={"address": "127.0.0.1", "port": pebble.http_port})
            names.append(f"c{i}")
        _, _, failed = timed(core, names, pool)  # first issuance, also warms every thread's session
        assert failed == 0, f"{failed} initial issuances failed"
        s_wall, s_cpu, s_failed = timed(core, names, 1)
        p_wall, p_cpu, p_failed = timed(core, names, pool)
    print(f"renew {n} single-name certificates, Pebble NOSLEEP, real http-01, {reject}% nonce rejection")
    print(f"serial:      {n / s_wall:6.1f} certs/s   {s_cpu / n * 1000:5.1f} ms CPU/cert   failures {s_failed}")
    print(f"pool of {pool}:   {n / p_wall:6.1f} certs/s   {p_cpu / n * 1000:5.1f} ms CPU/cert   failures {p_failed}")
    print(f"ratio pool/serial: {s_wall / p_wall:.2f}x")


if __name__ == "__main__":
    main()
