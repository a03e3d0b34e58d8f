"""Two real `certify-tui renew` processes on the same certificates (issue 9, item 7): every due
certificate is ordered exactly once, counted in Pebble's own log, with and without --force.
Two processes needing the built-in http-01 listener on one port share it (item 8)."""

from __future__ import annotations

import functools
import json
import socket
import sys
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from helpers import PebbleLog, add_account, add_standalone_cert, start_cli, unique

from certify_tui.lifecycle import Core

N = 30  # ~15 s on a shared 2-core machine


def wait_for(condition, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def webroot(pebble, tmp_path: Path) -> Iterator[Path]:
    """A real web server on Pebble's http-01 port serving a webroot both processes write tokens into
    (the webroot provider keeps this test about ordering, not about sharing the built-in listener)."""
    root = tmp_path / "www"
    root.mkdir()
    ThreadingHTTPServer.request_queue_size = 128
    server = ThreadingHTTPServer(("127.0.0.1", pebble.http_port),
                                 functools.partial(_QuietHandler, directory=str(root)))
    server.daemon_threads = True
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
        assert all(o.action == "renewed" for o in outcomes), [o.message for o in outcomes]
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


def write_script(path: Path, body: str) -> Path:
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(0o700)
    return path


def gated_dns_scripts(folder: Path, pebble, gate: Path, waiting: Path) -> dict[str, object]:
    """dns-01 through challtestsrv whose steps wait for `gate` while the built-in listener is up, so the
    order holding it for its other name stays in flight, deterministically, until the test opens the gate.
    The CA may list the two authorizations in either order: if the dns-01 one is published first, its
    create step runs before the listener starts and its delete step (run before the listener's cleanup) waits."""
    post = f"""import json, socket, sys, time, urllib.request
from pathlib import Path
fqdn, value = sys.argv[-2], sys.argv[-1]
def post(path, body):
    req = urllib.request.Request("{pebble.challtestsrv_url}" + path, data=json.dumps(body).encode(),
                                 headers={{"Content-Type": "application/json"}})
    urllib.request.urlopen(req, timeout=10).read()
def listening():
    try:
        socket.create_connection(("127.0.0.1", {pebble.http_port}), timeout=1).close()
        return True
    except OSError:
        return False
def hold():
    if not listening():
        return
    Path({str(waiting)!r}).touch()
    deadline = time.monotonic() + 60
    while not Path({str(gate)!r}).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
"""
    create = write_script(folder / "dns-create", post + 'hold()\npost("/set-txt", {"host": fqdn + ".", "value": value})\n')
    delete = write_script(folder / "dns-delete", post + 'hold()\npost("/clear-txt", {"host": fqdn + "."})\n')
    return {"create_command": str(create), "delete_command": str(delete), "timeout": 90, "propagation_timeout": 0}


def test_a_second_process_shares_the_builtin_listener_instead_of_failing(data_dir: Path, pebble,
                                                                        tmp_path: Path) -> None:
    gate, waiting = tmp_path / "gate", tmp_path / "waiting"
    holder = unique("hold")
    guests = [unique("guest") for _ in range(3)]
    core = Core.open(str(data_dir))
    try:
        add_account(core, pebble)
        add_standalone_cert(core, pebble, holder, [f"a-{holder}.example.test", f"b-{holder}.example.test"])
        core.set_challenge_rule(holder, f"b-{holder}.example.test", "dns-01", "script",
                                gated_dns_scripts(tmp_path, pebble, gate, waiting))
        for name in guests:
            add_standalone_cert(core, pebble, name, [f"{name}.example.test"])
    finally:
        core.close()
    holder_log = data_dir / "logs" / "certificates" / f"{holder}.log"
    first = start_cli(data_dir, "renew", holder, "--force", "--json")
    try:
        # The first process listens on Pebble's http-01 port and stays in the middle of its order.
        wait_for(waiting.exists, what="the first process to hold the built-in listener mid-order")
        second = start_cli(data_dir, "renew", *guests, "--force", "--json")
        out, err = second.communicate(timeout=60)
        outcomes = json.loads(out)
        assert [o["action"] for o in outcomes] == ["renewed"] * 3, outcomes
        assert first.poll() is None, "the first process was still holding the port throughout"
    finally:
        gate.touch()
        out_first, err_first = first.communicate(timeout=60)
    assert [o["action"] for o in json.loads(out_first)] == ["renewed"], (out_first, holder_log.read_text())
    core = Core.open(str(data_dir))
    try:
        for name in guests:
            cert = core.get_certificate(name)
            assert cert.status == "valid" and not cert.failure_count and not cert.last_error
        log = core.certificate_log(guests[0])
        assert "Address already in use" not in log
    finally:
        core.close()


def test_a_port_held_by_another_program_is_still_a_clear_failure(data_dir: Path, pebble) -> None:
    with socket.socket() as other:  # some other program's socket on the port
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        core = Core.open(str(data_dir))
        try:
            add_account(core, pebble)
            name = unique("other")
            core.add_certificate(name=name, domains=[f"{name}.example.test"], challenge="http-01",
                                 provider="standalone", options={"address": "127.0.0.1", "port": port})
        finally:
            core.close()
        proc = start_cli(data_dir, "renew", name, "--force", "--json")
        out, _ = proc.communicate(timeout=60)
    outcome, = json.loads(out)
    assert outcome["action"] == "failed" and f"Cannot listen on 127.0.0.1:{port}" in outcome["message"], outcome
    assert proc.returncode == 1
