"""The local API without a CA: token auth, 127.0.0.1 only, port fallback, its files, errors, metrics format.

Everything goes over real HTTP on loopback to a real waitress server in this process.
"""

from __future__ import annotations

import json
import os
import re
import socket
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from servers.common import free_port

from certify_tui import __version__
from certify_tui.errors import StorageError, UsageError
from certify_tui.lifecycle import Core
from certify_tui.service import api as api_module
from certify_tui.service.api import ApiServer
from certify_tui.service.api_token import load_or_create_token
from certify_tui.service.discovery import api_get, read_service_info, read_token
from certify_tui.service.http_guard import RequestGuard, token_matches
from certify_tui.service.metrics import escape_label_value, render_metrics

HOST = "127.0.0.1"
ENDPOINTS = ["/api/system/appversion", "/api/summary", "/api/certificates", "/api/certificates/web",
             "/api/certificates/web/preview", "/api/certificates/web/log", "/metrics", "/no/such/path"]
posix_only = pytest.mark.skipif(os.name == "nt", reason="POSIX permission bits")



def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def core(data_dir: Path) -> Iterator[Core]:
    core = Core.open(str(data_dir))
    yield core
    core.close()


@pytest.fixture
def server(core: Core) -> Iterator[ApiServer]:
    server = ApiServer(core, port=free_port()).start()
    yield server
    server.stop()


@pytest.fixture
def token(server: ApiServer, data_dir: Path) -> str:
    token = read_token(data_dir)
    assert token
    return token


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- authentication -------------------------------------------------------------------------------

def test_healthz_needs_no_token(server: ApiServer) -> None:
    r = requests.get(f"{server.url}/healthz", timeout=5)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    assert r.json() == {"status": "ok"}


@pytest.mark.parametrize("path", ENDPOINTS)
def test_everything_else_is_401_without_a_token(server: ApiServer, path: str) -> None:
    r = requests.get(f"{server.url}{path}", timeout=5)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert "api-token" in r.json()["error"]
    r = requests.post(f"{server.url}/api/certificates/web/renew", timeout=5)
    assert r.status_code == 401


def test_a_wrong_token_is_401(server: ApiServer, token: str) -> None:
    wrong = [f"Bearer {token[:-1]}", f"Bearer {token}x", "Bearer ", f"Basic {token}", token, f"Bearer  x{token}",
             "Bearer " + "\u00e9" * 43]
    for header in wrong:
        r = requests.get(f"{server.url}/api/certificates", headers={"Authorization": header.encode("utf-8")},
                         timeout=5)
        assert r.status_code == 401, header
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
        assert "error" in r.json()
        assert token not in r.text


def test_the_right_token_is_200(server: ApiServer, token: str) -> None:
    r = requests.get(f"{server.url}/api/system/appversion", headers=_auth(token), timeout=5)
    assert r.status_code == 200
    assert r.json() == {"version": __version__}
    # The scheme is case-insensitive (RFC 7235).
    r = requests.get(f"{server.url}/api/certificates", headers={"Authorization": f"bearer {token}"}, timeout=5)
    assert r.status_code == 200
    assert r.json() == []
    assert r.headers["Cache-Control"] == "no-store"


def test_unknown_paths_wrong_methods_and_names(server: ApiServer, token: str) -> None:
    r = requests.get(f"{server.url}/no/such/path", headers=_auth(token), timeout=5)
    assert r.status_code == 404
    assert r.headers["Content-Type"] == "application/json"
    assert "error" in r.json()
    r = requests.delete(f"{server.url}/api/certificates", headers=_auth(token), timeout=5)
    assert r.status_code == 405
    assert "GET" in r.headers["Allow"]
    assert "error" in r.json()
    r = requests.get(f"{server.url}/api/certificates/web/renew", headers=_auth(token), timeout=5)
    assert r.status_code == 405
    assert r.headers["Allow"] == "POST"
    for method, path in (("GET", "/api/certificates/web"), ("GET", "/api/certificates/web/preview"),
                         ("GET", "/api/certificates/web/log"), ("POST", "/api/certificates/web/renew")):
        r = requests.request(method, f"{server.url}{path}", headers=_auth(token), timeout=5)
        assert r.status_code == 404, path
        assert r.json() == {"error": "No certificate named 'web'."}


# -- files ----------------------------------------------------------------------------------------

@posix_only
def test_token_and_service_files_are_private(server: ApiServer, data_dir: Path, token: str) -> None:
    assert _mode(data_dir / "api-token") == 0o600
    assert _mode(data_dir / "service.json") == 0o600
    info = json.loads((data_dir / "service.json").read_text())
    assert info["host"] == HOST
    assert info["port"] == server.port
    assert info["pid"] == os.getpid()
    started = datetime.fromisoformat(info["started_at"])
    assert abs(datetime.now(UTC) - started) < timedelta(minutes=1)
    assert read_service_info(data_dir) == info
    assert len(token) >= 43  # token_urlsafe(32)
    assert not list(data_dir.glob(".api-token.*"))  # no temporary file left behind
    # Tokens never reach the app log.
    assert token not in (data_dir / "logs" / "certify-tui.log").read_text()


def test_service_file_is_removed_on_stop_and_the_token_is_reused(core: Core, data_dir: Path) -> None:
    first = ApiServer(core, port=free_port()).start()
    token = read_token(data_dir)
    assert (data_dir / "service.json").exists()
    first.stop()
    assert not (data_dir / "service.json").exists()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{first.url}/healthz", timeout=2)
    first.stop()  # idempotent

    with ApiServer(core, port=free_port()) as second:
        assert read_token(data_dir) == token
        assert requests.get(f"{second.url}/api/certificates", headers=_auth(token), timeout=5).status_code == 200
    assert not (data_dir / "service.json").exists()


@posix_only
def test_token_file_created_once(tmp_path: Path) -> None:
    token = load_or_create_token(tmp_path)
    assert load_or_create_token(tmp_path) == token
    assert (tmp_path / "api-token").read_text().strip() == token
    # An empty file gets a token; a loose existing file is tightened, not replaced.
    (tmp_path / "api-token").write_text("")
    fresh = load_or_create_token(tmp_path)
    assert fresh and fresh != token
    os.chmod(tmp_path / "api-token", 0o644)
    assert load_or_create_token(tmp_path) == fresh
    assert _mode(tmp_path / "api-token") == 0o600


# -- where it listens -----------------------------------------------------------------------------

def test_listens_on_127_0_0_1_only(server: ApiServer) -> None:
    assert server.address == (HOST, server.port)
    for host in ("0.0.0.0", "::", "localhost", "192.168.1.10", ""):
        with pytest.raises(UsageError):
            ApiServer(server.core, host=host)


def test_not_reachable_on_other_interfaces(server: ApiServer) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: no packet is sent, it only picks a source address
            own = probe.getsockname()[0]
        except OSError:
            own = ""
    if not own or own.startswith("127."):
        pytest.skip("no non-loopback IPv4 address on this machine")
    with socket.socket() as s:
        s.settimeout(2)
        assert s.connect_ex((own, server.port)) != 0


def test_port_fallback_when_the_base_port_is_taken(core: Core, data_dir: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind((HOST, 0))
        taken.listen()
        base = taken.getsockname()[1]
        with ApiServer(core, port=base) as server:
            assert server.port != base
            assert base < server.port <= base + 20
            assert read_service_info(data_dir)["port"] == server.port
            assert requests.get(f"{server.url}/healthz", timeout=5).status_code == 200
            assert server.address == (HOST, server.port)
        # With no port left to try, a clear error and no service.json.
        with pytest.raises(StorageError, match=f"No free port for the API on 127.0.0.1:{base}"):
            ApiServer(core, port=base, attempts=1).start()
        assert not (data_dir / "service.json").exists()


def test_default_port_is_9696_or_just_above(core: Core) -> None:
    assert api_module.DEFAULT_PORT == 9696
    with ApiServer(core) as server:
        assert 9696 <= server.port <= 9716
        assert requests.get(f"{server.url}/healthz", timeout=5).json() == {"status": "ok"}


# -- discovery ------------------------------------------------------------------------------------

def test_api_get_uses_service_json_and_the_token(server: ApiServer, data_dir: Path) -> None:
    assert api_get(data_dir, "/api/system/appversion") == (200, {"version": __version__})
    assert api_get(data_dir, "/api/certificates") == (200, [])
    status, body = api_get(data_dir, "/api/certificates", token="wrong")
    assert status == 401 and "error" in body
    status, text = api_get(data_dir, "/metrics")
    assert status == 200 and text.startswith("# HELP")


def test_service_json_must_point_at_loopback(data_dir: Path) -> None:
    data_dir.mkdir()
    (data_dir / "service.json").write_text(json.dumps({"host": "10.0.0.1", "port": 9696, "pid": 1}))
    assert read_service_info(data_dir) is None  # the token is never sent anywhere else
    (data_dir / "service.json").write_text(json.dumps({"host": HOST, "port": "9696"}))
    assert read_service_info(data_dir) is None
    (data_dir / "service.json").write_text("{not json")
    assert read_service_info(data_dir) is None


# -- metrics --------------------------------------------------------------------------------------

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
_SAMPLE = re.compile(rf"^({_NAME})(?:\{{({_LABEL}(?:,{_LABEL})*)\}})? (\S+)$")
_LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), value)


def parse_metrics(text: str) -> tuple[dict[str, str], list[tuple[str, dict[str, str], float]]]:
    """Parse the text format strictly, line by line: ({family: type}, [(name, labels, value)])."""
    assert text.endswith("\n")
    types: dict[str, str] = {}
    helped: set[str] = set()
    samples = []
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, _, helptext = line[7:].partition(" ")
            assert re.fullmatch(_NAME, name) and helptext, line
            helped.add(name)
        elif line.startswith("# TYPE "):
            name, _, kind = line[7:].partition(" ")
            assert kind in ("counter", "gauge", "histogram", "summary", "untyped"), line
            assert name not in types, f"second TYPE for {name}"
            types[name] = kind
        else:
            m = _SAMPLE.match(line)
            assert m, f"not a sample line: {line!r}"
            name, labels, value = m.groups()
            assert name in types and name in helped, f"{name} sampled before its HELP/TYPE"
            samples.append((name, {k: _unescape(v) for k, v in _LABEL_RE.findall(labels or "")}, float(value)))
    return types, samples


def test_metrics_endpoint_parses(server: ApiServer, token: str) -> None:
    r = requests.get(f"{server.url}/metrics", headers=_auth(token), timeout=5)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    types, samples = parse_metrics(r.text)
    assert types == {"certify_certificates_total": "gauge", "certify_certificate_expiry_timestamp_seconds": "gauge",
                     "certify_certificate_last_success": "gauge", "certify_certificate_failures_total": "gauge"}
    assert samples == [("certify_certificates_total", {}, 0.0)]


def test_escape_label_value() -> None:
    assert escape_label_value('plain.example') == "plain.example"
    assert escape_label_value('a"b') == 'a\\"b'
    assert escape_label_value("a\\b") == "a\\\\b"
    assert escape_label_value("a\nb") == "a\\nb"
    assert escape_label_value('\\"\n') == '\\\\\\"\\n'


def test_render_metrics_escapes_and_parses() -> None:
    expiry = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    certs = [
        SimpleNamespace(name='we"ird\\name\nx', primary_identifier="a.example", not_after=expiry,
                        status="valid", last_error=None, failure_count=0),
        SimpleNamespace(name="new", primary_identifier="b.example", not_after=None,
                        status="failed", last_error="CA said no", failure_count=3),
    ]
    types, samples = parse_metrics(render_metrics(certs))
    assert all(kind == "gauge" for kind in types.values())
    by = {(n, labels.get("name")): (labels, v) for n, labels, v in samples}
    labels, value = by[("certify_certificate_expiry_timestamp_seconds", 'we"ird\\name\nx')]
    assert labels == {"name": 'we"ird\\name\nx', "primary": "a.example"}
    assert value == expiry.timestamp()
    assert ("certify_certificate_expiry_timestamp_seconds", "new") not in by  # nothing issued yet
    assert by[("certify_certificate_last_success", 'we"ird\\name\nx')][1] == 1
    assert by[("certify_certificate_last_success", "new")][1] == 0
    assert by[("certify_certificate_failures_total", "new")][1] == 3
    assert by[("certify_certificates_total", None)][1] == 2


def test_loopback_host_names_need_our_port_unless_it_is_80() -> None:
    hosts = RequestGuard(token=b"t", port=9696).hosts
    assert hosts == {"127.0.0.1:9696", "localhost:9696", "[::1]:9696"}
    # A Host without a port means port 80: a bare loopback name is ours only when we listen there.
    assert RequestGuard(token=b"t", port=80).hosts >= {"127.0.0.1", "localhost", "[::1]", "localhost:80"}


def test_token_matches_the_bytes_sent() -> None:
    token = "t\u00e9st".encode()
    # WSGI and waitress give header values as latin-1 text: the UTF-8 bytes sent, one char each.
    assert token_matches("Bearer " + token.decode("latin-1"), token)
    assert token_matches("bearer  " + token.decode("latin-1") + " ", token)
    assert not token_matches("Bearer t\u00e9st", token)
    assert not token_matches("Basic " + token.decode("latin-1"), token)
