"""The headless service and one-shot renewals as separate processes: ARI-driven renewal within one
check, the authenticated API, clean SIGTERM, leases across processes, and kill -9 then restart."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from helpers import add_account, add_standalone_cert, unique, verify_issued
from servers.common import free_port, wait_for
from servers.pebble import PebbleNotFound, PebbleServer

from certify_tui.lifecycle import Core

CLI = [sys.executable, "-m", "certify_tui"]


def cli(data_dir: Path, *args: str, **kwargs) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "CERTIFY_TUI_DATA_DIR"}
    return subprocess.Popen([*CLI, "--data-dir", str(data_dir), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, **kwargs)


def setup_cert(data_dir: Path, pebble, **kwargs) -> tuple[str, str]:
    core = Core.open(str(data_dir))
    try:
        add_account(core, pebble)
        name = unique("s")
        add_standalone_cert(core, pebble, name, [f"{name}.example.test"], **kwargs)
        serial = core.request(name).version.serial
    finally:
        core.close()
    return name, serial


def view(data_dir: Path, name: str) -> dict:
    core = Core.open(str(data_dir))
    try:
        return core.certificate_view(core.get_certificate(name))
    finally:
        core.close()


def test_service_renews_inside_the_ari_window_serves_the_api_and_stops_on_sigterm(data_dir: Path, pebble) -> None:
    name, serial = setup_cert(data_dir, pebble)
    pebble.set_renewal_info(Path(view(data_dir, name)["files"]["cert"]).read_bytes(),
                            "2020-01-01T00:00:00Z", "2020-01-02T00:00:00Z")
    service = cli(data_dir, "service", "--port", str(free_port()))
    try:
        wait_for(lambda: view(data_dir, name)["serial"] != serial, what="the service to renew")
        info = json.loads((data_dir / "service.json").read_text())
        assert info["host"] == "127.0.0.1"
        base = f"http://127.0.0.1:{info['port']}"
        token = (data_dir / "api-token").read_text().strip()
        assert requests.get(f"{base}/api/system/appversion", timeout=5).status_code == 401
        version = requests.get(f"{base}/api/system/appversion", headers={"Authorization": f"Bearer {token}"},
                               timeout=5)
        assert version.status_code == 200 and version.json()["version"]
        metrics = requests.get(f"{base}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=5).text
        assert f'name="{name}"' in metrics
        assert requests.get(f"{base}/metrics", timeout=5).status_code == 401
        assert (data_dir / "certify.db.bak").exists()  # the start-up backup
        started = time.monotonic()
        service.send_signal(signal.SIGTERM)
        assert service.wait(timeout=15) == 0
        assert time.monotonic() - started < 10
        assert not (data_dir / "service.json").exists()
        err = service.stderr.read()
        assert "renewed" in err and "Traceback" not in err
    finally:
        if service.poll() is None:
            service.kill()
            service.wait()


def test_two_processes_never_renew_one_certificate_at_once(data_dir: Path, pebble) -> None:
    name, _ = setup_cert(data_dir, pebble)
    for _ in range(3):
        procs = [cli(data_dir, "renew", name, "--force", "--json") for _ in range(2)]
        outputs = [p.communicate(timeout=60) for p in procs]
        actions = [json.loads(out)[0]["action"] for out, _ in outputs]
        # The second either found the lease taken (busy) or, once it was free, the certificate renewed
        # since it started (skipped): never a second order.
        assert set(actions) <= {"renewed", "busy", "skipped"} and actions.count("renewed") == 1, outputs
    # The certificate's log: every request's start is followed by its end before the next start.
    steps = [line.split()[1] for line in (data_dir / "logs" / "certificates" / f"{name}.log").read_text().splitlines()]
    open_requests = 0
    for step in steps:
        if step == "start":
            assert open_requests == 0, "two requests overlapped"
            open_requests = 1
        elif step in ("done", "failed"):
            open_requests = 0


@pytest.fixture(scope="module")
def slow_pebble():
    """Pebble that waits 0-2 s before validating, so a renewal can be killed mid-flight."""
    try:
        server = PebbleServer(env={"PEBBLE_VA_NOSLEEP": "0", "PEBBLE_VA_SLEEPTIME": "2"})
    except PebbleNotFound as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    with server.start():
        yield server


def test_kill_9_mid_renewal_then_restart_completes(data_dir: Path, slow_pebble) -> None:
    name, serial = setup_cert(data_dir, slow_pebble)
    live = Path(view(data_dir, name)["files"]["fullchain"])
    log = data_dir / "logs" / "certificates" / f"{name}.log"
    lines_before = len(log.read_text().splitlines())
    proc = cli(data_dir, "renew", name, "--force")
    try:
        wait_for(lambda: "answered" in "\n".join(log.read_text().splitlines()[lines_before:]), what="the challenge")
    except AssertionError:
        proc.kill()
        out, err = proc.communicate(timeout=10)
        raise AssertionError(f"the renewal never answered its challenge; it printed: {out!r} {err!r}; "
                             f"its log: {log.read_text().splitlines()[lines_before:]}") from None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # The live set is still the old, complete certificate.
    assert view(data_dir, name)["serial"] == serial
    verify_issued(view(data_dir, name)["files"], [f"{name}.example.test"], slow_pebble.root_pem())
    started = time.monotonic()
    restart = cli(data_dir, "renew", name, "--force")
    out, err = restart.communicate(timeout=60)
    assert restart.returncode == 0, err
    assert time.monotonic() - started < 30  # the dead process's lease did not have to expire
    after = view(data_dir, name)
    assert after["serial"] != serial and after["status"] == "valid"
    verify_issued(after["files"], [f"{name}.example.test"], slow_pebble.root_pem())
    assert live.read_bytes()  # never half-written: verify_issued checked cert, chain and key agree
    tail = "\n".join(log.read_text().splitlines()[lines_before:])
    # Either the same order was picked up, or (if the CA tried to validate while nothing listened)
    # it had become invalid and a new one replaced it: never two live orders for one renewal.
    assert re.search(r"resuming the unfinished order|unfinished order is invalid", tail), tail
