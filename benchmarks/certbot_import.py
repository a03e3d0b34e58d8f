"""`import certbot` time per lineage, against a dry run (reading and mapping only) in the same run.

A real certbot issues one lineage against a throwaway Pebble; its renewal configuration and live folder are
copied to N lineages sharing certbot's account (the account is checked at the CA once, with the first).

    .venv/bin/python benchmarks/certbot_import.py [N]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from servers.pebble import PebbleServer  # noqa: E402

from certify_tui.lifecycle import Core  # noqa: E402

CERTBOT = Path(sys.executable).with_name("certbot")


def issue_one(pebble: PebbleServer, config: Path) -> str:
    name = "bench.example.test"
    subprocess.run([str(CERTBOT), "--config-dir", str(config), "--work-dir", str(config / "work"), "--logs-dir",
                    str(config / "logs"), "--server", pebble.directory_url, "--non-interactive", "--agree-tos",
                    "-m", "bench@example.com", "certonly", "--standalone", "--http-01-address", "127.0.0.1",
                    "--http-01-port", str(pebble.http_port), "-d", name],
                   env={**os.environ, "REQUESTS_CA_BUNDLE": pebble.https_ca_bundle}, check=True,
                   capture_output=True)
    return name


def copy_lineages(config: Path, name: str, count: int) -> None:
    conf = (config / "renewal" / f"{name}.conf").read_text()
    for i in range(1, count):
        copy = f"copy{i:04d}.example.test"
        (config / "renewal" / f"{copy}.conf").write_text(conf.replace(name, copy))
        shutil.copytree(config / "live" / name, config / "live" / copy, symlinks=False)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    with PebbleServer() as pebble, tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "letsencrypt"
        name = issue_one(pebble, config)
        copy_lineages(config, name, count)
        core = Core.open(str(Path(tmp) / "data"))
        try:
            started = time.perf_counter()
            planned = core.import_certbot(str(config), dry_run=True)
            dry = time.perf_counter() - started
            started = time.perf_counter()
            done = core.import_certbot(str(config), ca_bundle=pebble.https_ca_bundle, allow_internal_names=True)
            total = time.perf_counter() - started
        finally:
            core.close()
    imported = [p for p in done.lineages if p.action == "imported"]
    if len(imported) != count or len(planned.lineages) != count:
        raise SystemExit(f"expected {count} imported, got {[(p.lineage, p.action, p.message) for p in done.lineages]}")
    seconds = sorted(p.seconds or 0.0 for p in imported)
    first = next(p.seconds for p in done.lineages if p.lineage == sorted(x.lineage for x in imported)[0])
    print(f"{count} lineages: import {total:.2f} s ({total / count * 1000:.1f} ms per lineage), "
          f"dry run {dry:.2f} s ({dry / count * 1000:.1f} ms per lineage)")
    print(f"per lineage: median {seconds[len(seconds) // 2] * 1000:.1f} ms, max {seconds[-1] * 1000:.1f} ms; "
          f"the first (account checked at the CA) {(first or 0) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
