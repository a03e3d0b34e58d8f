"""The local API's transport against a real `certify-tui service` process over raw sockets (issue 9):
no body is read before authentication and none past the cap, idle and slowloris connections cannot
stop it answering, and only loopback Host names are served (DNS rebinding).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import closing, suppress
from pathlib import Path

import pytest
from integration.helpers import add_account, add_standalone_cert, unique
from servers.api_client import Flood, Service, exchange, read_response, request_bytes, start_service
from servers.common import free_port

from certify_tui.lifecycle import Core
from certify_tui.renewal.worker import worker_status
from certify_tui.service.http_guard import MAX_BODY, MAX_CONNECTIONS

linux_only = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="reads /proc/<pid>/fd")


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    root = tmp_path_factory.mktemp("transport")
    (root / "tmp").mkdir()
    # Its own TMPDIR, so any spooled request body would show up as a file descriptor into it.
    svc = start_service(root / "data", free_port(), env={"TMPDIR": str(root / "tmp")})
    yield svc
    assert svc.stop() == 0
    assert "Traceback" not in svc.log.read_text()


def _temp_files_open(svc: Service) -> list[str]:
    tmp = str(svc.data_dir.parent / "tmp")
    found = []
    for fd in os.listdir(f"/proc/{svc.proc.pid}/fd"):
        try:
            target = os.readlink(f"/proc/{svc.proc.pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith(tmp):
            found.append(target)
    return found


# -- 11: authentication before any body byte, and a body cap ---------------------------------------

@pytest.mark.parametrize("path", ["/healthz", "/api/certificates/x/renew", "/nowhere"])
def test_a_500_mb_body_without_a_token_is_401_before_any_body_byte(service: Service, path: str) -> None:
    # Only the head is sent: the answer can only come if the server decided without the body.
    r = exchange(service.port, request_bytes("POST", path, service.port,
                                             headers={"Content-Length": str(500_000_000)}), timeout=10)
    assert r.status == 401, r
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert "api-token" in r.json()["error"]
    assert r.headers["connection"] == "close"


def test_no_body_at_all_without_a_token(service: Service) -> None:
    # The largest body accepted without a token: 0 bytes, on /healthz too, chunked or not.
    for extra in ({"Content-Length": "1"}, {"Transfer-Encoding": "chunked"}):
        r = exchange(service.port, request_bytes("POST", "/healthz", service.port, headers=extra))
        assert r.status == 401, (extra, r)
    r = exchange(service.port, request_bytes("GET", "/healthz", service.port, headers={"Content-Length": "0"}))
    assert (r.status, r.json()) == (200, {"status": "ok"})
    r = exchange(service.port, request_bytes("POST", "/api/certificates/x/renew", service.port,
                                             token="wrong", headers={"Content-Length": "10"}))
    assert r.status == 401


@linux_only
def test_an_unauthenticated_upload_never_reaches_tmp(service: Service) -> None:
    sock = socket.create_connection(("127.0.0.1", service.port), timeout=10)
    head = request_bytes("POST", "/healthz", service.port, headers={"Content-Length": str(500_000_000)})
    sent = threading.Event()

    def upload() -> None:  # the head and 4 MiB of body, as fast as the server takes it
        with suppress(OSError):  # the server closes the connection after its answer: expected
            sock.sendall(head + b"x" * (4 * MAX_BODY))
        sent.set()

    threading.Thread(target=upload, daemon=True).start()
    try:
        r = read_response(sock, timeout=10)
        assert r.status == 401
        assert _temp_files_open(service) == []
    finally:
        sock.close()
    assert sent.wait(10)
    assert _temp_files_open(service) == []
    assert list((service.data_dir.parent / "tmp").iterdir()) == []


def test_an_authenticated_body_over_the_cap_is_413_without_being_read(service: Service) -> None:
    for length in (MAX_BODY + 1, 500_000_000):
        r = exchange(service.port, request_bytes("POST", "/api/certificates/x/renew", service.port,
                                                 token=service.token, headers={"Content-Length": str(length)}))
        assert r.status == 413, (length, r)
        assert "1 MiB" in r.json()["error"]
    # A chunked body is read up to the cap, never past it.
    sock = socket.create_connection(("127.0.0.1", service.port), timeout=10)
    try:
        sock.sendall(request_bytes("POST", "/api/certificates/x/renew", service.port, token=service.token,
                                   headers={"Transfer-Encoding": "chunked"}))
        chunk = b"x" * 65536
        with suppress(OSError):
            for _ in range(MAX_BODY // len(chunk) + 2):
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        assert read_response(sock, timeout=10).status == 413
    finally:
        sock.close()
    # At the cap is still fine: the request reaches the application (404: no such certificate).
    r = exchange(service.port, request_bytes("POST", "/api/certificates/x/renew", service.port,
                                             token=service.token, headers={"Content-Length": str(MAX_BODY)})
                 + b"x" * MAX_BODY)
    assert r.status == 404, r


# -- 13: only loopback Host names ----------------------------------------------------------------

def test_only_loopback_host_names_are_served(service: Service) -> None:
    port = service.port
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", f"LocalHost:{port}"):
        r = exchange(port, request_bytes("GET", "/healthz", port, host=host))
        assert r.status == 200, (host, r)
        r = exchange(port, request_bytes("GET", "/api/system/appversion", port, host=host, token=service.token))
        assert r.status == 200, (host, r)
    bad = [f"evil.com:{port}", "evil.com", f"localhost.evil.com:{port}", f"127.0.0.2:{port}", f"127.0.0.1:{port + 1}",
           "127.0.0.1", f"[::2]:{port}", f"127.0.0.1:{port}@evil.com", f"127.0.0.1:{port}, evil.com", ""]
    for host in bad:
        for method, path, token in (("GET", "/healthz", None), ("GET", "/api/certificates", service.token),
                                    ("POST", "/api/certificates/x/renew", service.token), ("GET", "/metrics", None)):
            r = exchange(port, request_bytes(method, path, port, host=host, token=token))
            assert r.status == 421, (host, path, r)
            assert "127.0.0.1" in r.json()["error"]
    # An absolute request target names the host too.
    r = exchange(port, request_bytes("GET", f"http://evil.com:{port}/healthz", port))
    assert r.status == 421, r
    r = exchange(port, request_bytes("GET", f"http://127.0.0.1:{port}/healthz", port))
    assert r.status == 200, r


# -- 12: idle and slowloris connections ------------------------------------------------------------

@pytest.mark.pebble
def test_500_idle_and_slowloris_connections_do_not_stop_the_api_or_the_worker(tmp_path: Path, pebble) -> None:
    data_dir = tmp_path / "data"
    with closing(Core.open(str(data_dir))) as core:
        add_account(core, pebble)
        name = unique("flood")
        add_standalone_cert(core, pebble, name, [f"{name}.example.test"])
        serial = core.request(name).version.serial
        # The CA's renewal window is already open: the worker's first check renews it.
        pebble.set_renewal_info(Path(core.certificate_view(core.get_certificate(name))["files"]["cert"]).read_bytes(),
                                "2020-01-01T00:00:00Z", "2020-01-02T00:00:00Z")
    port = free_port()
    svc = start_service(data_dir, port)
    try:
        with Flood(port, count=500) as flood:
            assert flood.open_now() == 500
            slowest = 0.0
            deadline = time.monotonic() + 20  # past the idle and slowloris timeouts: reconnected ones too
            requests = 0
            while time.monotonic() < deadline:
                for method, path in (("GET", "/api/system/appversion"), ("GET", "/api/certificates")):
                    r = exchange(port, request_bytes(method, path, port, token=svc.token), timeout=10)
                    assert r.status == 200, r
                    slowest = max(slowest, r.seconds)
                    requests += 1
                time.sleep(0.2)
            # The worker's first scheduled check (it starts as the flood opens) renewed the certificate, and
            # its heartbeat is fresh. benchmarks/api_under_idle_connections.py holds a flood across whole checks.
            with closing(Core.open(str(data_dir))) as core:
                renewed = core.certificate_view(core.get_certificate(name))
                heartbeat = worker_status()
            assert renewed["status"] == "valid" and renewed["serial"] != serial
            assert heartbeat is not None and heartbeat["last_check"] and not heartbeat["stale"]
            # The server dropped silent clients (15 s) and slowloris ones though they kept sending (10 s a request).
            assert flood.reopened_idle > 0 and flood.reopened_slow > 0
        assert requests >= 40
        assert slowest < 5, slowest  # generous: the precise figures are in benchmarks/api_under_idle_connections.py
    finally:
        assert svc.stop() == 0
    assert "Traceback" not in svc.log.read_text()


def test_past_the_connection_cap_the_oldest_idle_connections_make_room(service: Service) -> None:
    # More connections than the service keeps (waitress alone would stop accepting and the API go silent).
    with Flood(service.port, count=MAX_CONNECTIONS + 100, drip=0.5) as flood:
        for _ in range(10):
            r = exchange(service.port, request_bytes("GET", "/api/system/appversion", service.port,
                                                     token=service.token), timeout=10)
            assert r.status == 200, r
            assert r.seconds < 5, r.seconds
        deadline = time.monotonic() + 10
        while flood.reopened < 100 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert flood.reopened >= 100  # the oldest were closed for the newcomers (and were reopened)
