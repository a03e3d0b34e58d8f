"""Two real `certify-tui renew` processes on the same certificates (issue 9, item 7): every due
certificate is ordered exactly once, counted in Pebble's own log, with and without --force."""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from helpers import PebbleLog, add_account, start_cli, unique

from certify_tui.lifecycle import Core

N = 30  # ~15 s on a shared 2-core machine


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


class _WebServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the CA validates many orders at once


@pytest.fixture
def webroot(pebble, tmp_path: Path) -> Iterator[Path]:
    """A real web server on Pebble's http-01 port serving a webroot both processes write tokens into
    (the webroot provider keeps this test about ordering, not about sharing the built-in listener)."""
    root = tmp_path / "www"
    root.mkdir()
    server = _WebServer(("127.0.0.1", pebble.http_port), functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield root
    server.shutdown()
    server.server_close()


def due_certificates(data_dir: Path, pebble, webroot: Path, n: int) -> list[str]:
    """n issued certificates that the CA's renewal window (ARI) says are due now."""
    core = Core.open(str(data_dir))
    try:
        add_account(core, pebble)
        names = [unique("dup") for _ in range(n)]
        for name in names:
            core.add_certificate(name=name, domains=[f"{name}.example.test"], challenge="http-01",
                                 provider="webroot", options={"path": str(webroot)})
        outcomes = core.renew(names, force=True, pool_size=4)
        assert all(o.action == "renewed" for o in outcomes), [o.message for o in outcomes if o.action != "renewed"]
        for name in names:
            pem = Path(core.certificate_view(core.get_certificate(name))["files"]["cert"]).read_bytes()
            pebble.set_renewal_info(pem, "2020-01-01T00:00:00Z", "2020-01-02T00:00:00Z")
    finally:
        core.close()
    return names


@pytest.mark.parametrize("force", [False, True], ids=["due", "force"])
def test_two_renew_processes_order_each_certificate_once(data_dir: Path, pebble, webroot: Path,
                                                         force: bool) -> None:
    names = due_certificates(data_dir, pebble, webroot, N)
    log = PebbleLog(pebble)
    flags = ["--json", *(["--force"] if force else [])]
    # The two walk the list from opposite ends, as a cron run and a manual run started at different
    # moments would: they meet in the middle on certificates the other has just renewed.
    procs = [start_cli(data_dir, "renew", *flags, *names), start_cli(data_dir, "renew", *flags, *names[::-1])]
    results = [p.communicate(timeout=90) for p in procs]
    outcomes = [json.loads(out) for out, _ in results]
    renewed = [o["name"] for run in outcomes for o in run if o["action"] == "renewed"]
    failed = [o for run in outcomes for o in run if not o["ok"]]
    print(f"force={force}: {log.orders()} orders, {log.issued()} issued for {N} certificates")
    assert not failed, failed
    assert (log.orders(), log.issued()) == (N, N), "Pebble saw duplicate orders"
    assert sorted(renewed) == sorted(names), "each certificate renewed by exactly one of the two processes"
    # The process that did not renew a certificate says why.
    others = {o["action"] for run in outcomes for o in run if o["action"] != "renewed"}
    assert others <= {"not-due", "busy", "skipped"}, others
