"""A small ACME-speaking HTTPS proxy in front of a Pebble that can answer newOrder with a rateLimited problem.

Every request is passed to Pebble with the Host the client used, so Pebble's URLs (directory, Location, Link)
and its check of each JWS `url` name the proxy: the client talks ACME to the proxy end to end. While `limit()`
is in force, a newOrder gets HTTP 429 with an ACME rateLimited problem and Retry-After, as Let's Encrypt sends.
The proxy keeps the time of every newOrder it saw (answered or refused). `go_down()` / `come_back()` stop and
restart it on the same port: a CA outage that Pebble (which forgets its accounts when restarted) survives.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

NEW_ORDER_PATH = "/order-plz"  # Pebble's newOrder
HOP_BY_HOP = {"connection", "transfer-encoding", "content-length", "keep-alive", "content-encoding"}


class RateLimitProxy:
    def __init__(self, pebble: Any) -> None:
        self.pebble = pebble
        self.new_orders: list[float] = []  # time.time() of each newOrder
        self.refused: list[float] = []  # those answered rateLimited
        self._limit: tuple[int, str] | None = None
        self._lock = threading.Lock()
        self.server = self._listen(0)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _listen(self, port: int) -> ThreadingHTTPServer:
        server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(self.pebble.workdir / "pebble-cert.pem"),
                                str(self.pebble.workdir / "pebble-key.pem"))
        server.socket = context.wrap_socket(server.socket, server_side=True)
        return server

    @property
    def directory_url(self) -> str:
        return f"https://127.0.0.1:{self.port}/dir"

    def start(self) -> RateLimitProxy:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def go_down(self) -> None:
        """The CA is stopped: connections to it are refused until `come_back()` (Pebble keeps its accounts)."""
        self.stop()

    def come_back(self) -> None:
        self.server = self._listen(self.port)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def limit(self, retry_after: int, detail: str = "too many certificates already issued for this exact set "
                                                     "of identifiers") -> None:
        """Answer the next newOrder requests rateLimited, Retry-After `retry_after` seconds, until `lift()`."""
        with self._lock:
            self._limit = (retry_after, detail)

    def lift(self) -> None:
        with self._lock:
            self._limit = None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
                pass

            def do_HEAD(self) -> None:  # noqa: N802 - http.server's names
                self._forward("HEAD")

            def do_GET(self) -> None:  # noqa: N802
                self._forward("GET")

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path == NEW_ORDER_PATH:
                    with proxy._lock:
                        proxy.new_orders.append(time.time())
                        limit = proxy._limit
                        if limit is not None:
                            proxy.refused.append(proxy.new_orders[-1])
                    if limit is not None:
                        self._rate_limited(*limit)
                        return
                self._forward("POST", body)

            def _rate_limited(self, retry_after: int, detail: str) -> None:
                problem = json.dumps({"type": "urn:ietf:params:acme:error:rateLimited", "detail": detail,
                                      "status": 429}).encode()
                nonce = requests.head(f"https://127.0.0.1:{proxy.pebble.acme_port}/nonce-plz",
                                      verify=proxy.pebble.https_ca_bundle, timeout=10).headers.get("Replay-Nonce")
                self.send_response(429)
                self.send_header("Content-Type", "application/problem+json")
                self.send_header("Retry-After", str(retry_after))
                if nonce:
                    self.send_header("Replay-Nonce", nonce)
                self.send_header("Content-Length", str(len(problem)))
                self.end_headers()
                self.wfile.write(problem)

            def _forward(self, method: str, body: bytes | None = None) -> None:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                answer = requests.request(method, f"https://127.0.0.1:{proxy.pebble.acme_port}{self.path}",
                                          headers=headers, data=body, verify=proxy.pebble.https_ca_bundle,
                                          timeout=30, allow_redirects=False)
                content = answer.content
                self.send_response(answer.status_code)
                for key, value in answer.headers.items():
                    if key.lower() not in HOP_BY_HOP:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                if method != "HEAD":
                    self.wfile.write(content)

        return Handler
