"""The bounded fetch OCSP and CRL checks use, against a real local HTTP server that misbehaves on purpose:
bodies over the cap (declared or not) and a server that trickles bytes are cut off with one readable line."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from certify_tui.ca.revocation_http import fetch
from certify_tui.errors import OperationError


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server hook
        if self.path == "/declared":  # honest about its size, which is too big
            self.send_response(200)
            self.send_header("Content-Length", "5000")
            self.end_headers()
            self.wfile.write(b"x" * 5000)
        elif self.path == "/undeclared":  # no length: read until the connection closes
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"x" * 5000)
        elif self.path == "/trickle":  # a byte every 0.2 s, never finishing within the limit
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            try:
                for _ in range(100):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.2)
            except OSError:
                pass  # the client gave up, as it should
        else:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def base_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_revocation_fetch_returns_a_small_body(base_url: str) -> None:
    assert fetch(f"{base_url}/small", max_bytes=100) == b"ok"


@pytest.mark.parametrize("path", ["/declared", "/undeclared"])
def test_revocation_fetch_refuses_a_body_over_the_cap(base_url: str, path: str) -> None:
    with pytest.raises(OperationError, match="more than the 1000 .*allowed"):
        fetch(f"{base_url}{path}", max_bytes=1000)


def test_revocation_fetch_cuts_a_trickling_server_at_its_time_limit(base_url: str) -> None:
    started = time.monotonic()
    with pytest.raises(OperationError, match="took longer than 1 s|timed out"):
        fetch(f"{base_url}/trickle", max_bytes=1000, timeout=1.0)
    assert time.monotonic() - started < 3  # the server would take 20 s


def test_revocation_fetch_unreachable_is_one_line() -> None:
    with pytest.raises(OperationError, match=r"^http://127\.0\.0\.1:9/x could not be reached: connection failed\.$"):
        fetch("http://127.0.0.1:9/x", max_bytes=100)
