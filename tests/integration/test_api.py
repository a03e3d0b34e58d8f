"""The local API against a real Pebble CA: renew over HTTP, then read it back every way the API offers;
and `certify-tui status` (a real subprocess) finding the API this test process runs, then not finding it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from integration.helpers import add_account, add_standalone_cert, unique
from servers.common import free_port
from servers.pebble import PebbleServer

from certify_tui import __version__
from certify_tui.lifecycle import Core
from certify_tui.service.api import ApiServer
from certify_tui.service.discovery import read_token
from certify_tui.store.models import ManagedCertificate

pytestmark = pytest.mark.pebble

CLI = Path(sys.executable).with_name("certify-tui")
_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')



def _status(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CERTIFY_TUI_DATA_DIR"}
    return subprocess.run([str(CLI), "--data-dir", str(data_dir), "status", *args], capture_output=True,
                          text=True, env=env, timeout=60, stdin=subprocess.DEVNULL)


def _samples(text: str) -> dict[tuple[str, str | None], float]:
    """{(metric, name label): value}, every non-comment line checked against the text format."""
    out = {}
    for line in text.splitlines():
        if line.startswith("#"):
            assert line.startswith(("# HELP ", "# TYPE ")), line
            continue
        m = _SAMPLE.match(line)
        assert m, line
        labels = dict(_LABEL.findall(m.group(2) or ""))
        out[(m.group(1), labels.get("name"))] = float(m.group(3))
    return out


@pytest.fixture
def client(api: ApiServer, data_dir: Path) -> Any:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {read_token(data_dir)}"
    session.trust_env = False  # loopback only, never through a proxy

    def call(method: str, path: str, **kwargs: Any) -> requests.Response:
        return session.request(method, f"{api.url}{path}", timeout=120, **kwargs)

    yield call
    session.close()


def test_renew_over_http_then_read_it_back(core: Core, pebble: PebbleServer, client: Any) -> None:
    add_account(core, pebble)
    name = unique("api")
    domains = [f"{name}.example.test", f"www.{name}.example.test"]
    add_standalone_cert(core, pebble, name, domains)

    before = client("GET", f"/api/certificates/{name}").json()
    assert before["status"] == "new" and before["serial"] is None
    samples = _samples(client("GET", "/metrics").text)
    assert samples[("certify_certificates_total", None)] == 1
    assert ("certify_certificate_expiry_timestamp_seconds", name) not in samples
    assert samples[("certify_certificate_last_success", name)] == 0

    preview = client("GET", f"/api/certificates/{name}/preview")
    assert preview.status_code == 200
    plan = preview.json()
    assert plan["certificate"] == name
    assert [v["identifier"] for v in plan["validations"]] == domains
    assert all(v["challenge"] == "http-01" for v in plan["validations"])

    r = client("POST", f"/api/certificates/{name}/renew")
    assert r.status_code == 200, r.text
    outcome = r.json()
    assert outcome["name"] == name and outcome["ok"] is True
    assert outcome["certificate"]["status"] == "valid"
    serial = outcome["certificate"]["serial"]
    assert serial

    view = client("GET", f"/api/certificates/{name}").json()
    assert view["status"] == "valid"
    assert view["serial"] == serial
    assert view["identifiers"] == domains
    assert set(view["files"]) >= {"cert", "chain", "fullchain", "privkey"}
    assert "PRIVATE KEY" not in json.dumps(view)
    listed = client("GET", "/api/certificates").json()
    assert [v["name"] for v in listed] == [name]
    assert core.get_certificate(name).status == "valid"  # the same database as the Core in this thread

    log = client("GET", f"/api/certificates/{name}/log")
    assert log.status_code == 200
    assert log.headers["Content-Type"].startswith("text/plain")
    assert serial in log.text or serial.lower() in log.text.lower()
    assert log.text == core.certificate_log(name)

    samples = _samples(client("GET", "/metrics").text)
    not_after = datetime.fromisoformat(view["not_after"])
    assert samples[("certify_certificate_expiry_timestamp_seconds", name)] == not_after.timestamp()
    assert samples[("certify_certificate_last_success", name)] == 1
    assert samples[("certify_certificate_failures_total", name)] == 0


def test_renew_errors(core: Core, pebble: PebbleServer, client: Any) -> None:
    add_account(core, pebble)
    assert client("POST", "/api/certificates/nothing-here/renew").status_code == 404

    # The listener answers on a port Pebble never asks: validation fails at the CA -> 502.
    name = unique("apifail")
    core.add_certificate(name=name, domains=[f"{name}.example.test"], challenge="http-01", provider="standalone",
                         options={"address": "127.0.0.1", "port": free_port()})
    r = client("POST", f"/api/certificates/{name}/renew")
    assert r.status_code == 502, r.text
    body = r.json()
    assert body["error"] and body["ok"] is False
    view = client("GET", f"/api/certificates/{name}").json()
    assert view["status"] == "failed" and view["failure_count"] == 1
    samples = _samples(client("GET", "/metrics").text)
    assert samples[("certify_certificate_failures_total", name)] == 1
    assert samples[("certify_certificate_last_success", name)] == 0

    # Another process holds the renewal lease: 409, and nothing is attempted.
    cert = ManagedCertificate.get(ManagedCertificate.name == name)
    cert.lease_owner = "other-host:4242"
    cert.lease_expires = datetime.now(UTC) + timedelta(minutes=5)
    cert.save()
    r = client("POST", f"/api/certificates/{name}/renew")
    assert r.status_code == 409, r.text
    body = r.json()
    assert (body["ok"], body["action"]) == (False, "busy")
    assert "being renewed" in body["error"]
    assert client("GET", f"/api/certificates/{name}").json()["failure_count"] == 1


def test_status_command_finds_the_running_api(core: Core, pebble: PebbleServer, data_dir: Path) -> None:
    add_account(core, pebble)
    name = unique("apistatus")
    add_standalone_cert(core, pebble, name, [f"{name}.example.test"])
    core.request(name)

    server = ApiServer(core, port=free_port()).start()
    try:
        run = _status(data_dir, "--json")
        assert run.returncode == 0, run
        report = json.loads(run.stdout)
        assert report["reachable"] is True
        assert (report["host"], report["port"], report["pid"]) == ("127.0.0.1", server.port, os.getpid())
        assert report["version"] == __version__
        assert report["certificates"]["total"] == 1
        assert report["certificates"]["failing"] == []
        assert report["certificates"]["next_renewal"]["name"] == name

        run = _status(data_dir)
        assert run.returncode == 0, run
        assert run.stdout.startswith(f"Service running on 127.0.0.1:{server.port} (pid {os.getpid()}), "
                                     f"version {__version__}\n")
        assert "Certificates: 1, failing: 0" in run.stdout
        assert f"Next renewal: {name} at " in run.stdout
    finally:
        server.stop()

    run = _status(data_dir)
    assert run.returncode == 1, run
    assert run.stdout.startswith("No certify-tui service is reachable (service.json: ")
    assert "not found" in run.stdout
    assert "Traceback" not in run.stderr
    run = _status(data_dir, "--json")
    assert run.returncode == 1
    assert json.loads(run.stdout)["reachable"] is False

    # A stale service.json (the service died without cleaning up): still a clear line, exit 1.
    (data_dir / "service.json").write_text(json.dumps({"host": "127.0.0.1", "port": free_port(), "pid": 1}))
    run = _status(data_dir)
    assert run.returncode == 1, run
    assert run.stdout.startswith("No certify-tui service is reachable (service.json: ")
    assert "Nothing answers" in run.stdout
