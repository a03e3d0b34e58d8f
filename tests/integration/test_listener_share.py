"""Two certify-tui processes needing the built-in http-01 listener on one port (issue 9, item 8): the second
shares the first's socket instead of failing on "Address already in use"; the holder keeps serving until the
other process's validation is over; a port held by another program is still a clear failure."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from helpers import add_account, add_standalone_cert, start_cli, unique
from servers.common import free_port, wait_for

from certify_tui.challenges import http_listener, http_share
from certify_tui.lifecycle import Core
from certify_tui.paths import ensure_private_dir


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


# A holder process: listens for its own token, withdraws it when `go` appears, then exits normally.
HOLDER = """
import sys, time
from pathlib import Path
from certify_tui.challenges import http_listener, http_share
data, port, go = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
http_share.use_data_folder(data)
http_listener.publish("127.0.0.1", port, {"holder-token": "holder-answer"})
print("listening", flush=True)
while not go.exists():
    time.sleep(0.02)
http_listener.withdraw("127.0.0.1", port, ["holder-token"])
print("withdrawn", flush=True)
"""


def answer(port: int, token: str) -> str | None:
    response = requests.get(f"http://127.0.0.1:{port}/.well-known/acme-challenge/{token}", timeout=5)
    return response.text if response.status_code == 200 else None


@pytest.fixture
def shared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """This test process as a certify-tui process of `data`, next to a real holder process."""
    data = ensure_private_dir(tmp_path / "data")
    monkeypatch.setattr(http_share, "_root", None)  # restored after the test
    http_share.use_data_folder(data)
    port, go = free_port(), tmp_path / "go"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(data), str(port), str(go)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "listening", holder.stderr.read()
    yield holder, port, go
    http_listener.close_idle()
    if holder.poll() is None:
        holder.kill()
        holder.wait()


def test_the_holder_serves_a_guest_and_waits_for_it_before_exiting(shared) -> None:
    holder, port, go = shared
    http_listener.publish("127.0.0.1", port, {"guest-token": "guest-answer"})  # the port is taken: join
    try:
        assert answer(port, "guest-token") == "guest-answer"  # served by the other process
        assert answer(port, "holder-token") == "holder-answer"
        go.touch()
        assert holder.stdout.readline().strip() == "withdrawn"
        # Its own work is done, but the guest's validation is not: it keeps serving (and running).
        for _ in range(3):
            assert answer(port, "guest-token") == "guest-answer"
            time.sleep(http_listener.GUEST_POLL_SECONDS)
        assert holder.poll() is None
    finally:
        http_listener.withdraw("127.0.0.1", port, ["guest-token"])
    assert holder.wait(timeout=10) == 0  # the guest left: the holder closes and exits
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the listener binds (TIME_WAIT)
        probe.bind(("127.0.0.1", port))  # and the port is free again


def test_a_holder_gone_mid_batch_is_busy_retried_shortly(shared, pebble, tmp_path: Path) -> None:
    holder, port, _ = shared
    core = Core.open(str(tmp_path / "data"))  # the same data folder as the holder's
    try:
        add_account(core, pebble)
        name = unique("busy")
        core.add_certificate(name=name, domains=[f"{name}.example.test"], challenge="http-01",
                             provider="standalone", options={"address": "127.0.0.1", "port": port})
        http_listener.publish("127.0.0.1", port, {"first": "1"})  # an order of ours in flight, as a guest
        try:
            holder.send_signal(signal.SIGKILL)  # crashed: its mark is left behind, its process is gone
            holder.wait()
            with pytest.raises(http_listener.ListenerBusy, match=r"busy .*retried shortly"):
                http_listener.publish("127.0.0.1", port, {"second": "2"})
            outcome, = core.renew([name], force=True)
            assert outcome.action == "busy" and "retried shortly" in outcome.message, outcome
            cert = core.get_certificate(name)
            assert not cert.failure_count and cert.status != "failed"  # no backoff for a busy port
        finally:
            http_listener.withdraw("127.0.0.1", port, ["first"])
    finally:
        core.close()
    http_listener.publish("127.0.0.1", port, {"third": "3"})  # the next try simply listens itself
    try:
        assert answer(port, "third") == "3"
    finally:
        http_listener.withdraw("127.0.0.1", port, ["third"])
