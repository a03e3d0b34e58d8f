"""A shared HTTP listener that serves only `/.well-known/acme-challenge/<token>`.

Several orders in flight (threads of one process) share one listener per address and port:
each registers its tokens and releases them; the socket closes when the last one leaves.
"""

from __future__ import annotations

import errno
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from certify_tui.errors import OperationError

CHALLENGE_PREFIX = "/.well-known/acme-challenge/"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The stdlib default backlog of 5 drops a CA's validation connections when many orders validate at once.
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], family: socket.AddressFamily) -> None:
        self.address_family = family
        super().__init__(address, _Handler)
        self.tokens: dict[str, bytes] = {}
        self.tokens_lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "certify-tui"
    sys_version = ""

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._answer(with_body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(with_body=False)

    def _answer(self, with_body: bool) -> None:
        path = self.path.split("?", 1)[0]
        body = None
        if path.startswith(CHALLENGE_PREFIX):
            with self.server.tokens_lock:
                body = self.server.tokens.get(path[len(CHALLENGE_PREFIX):])
        status = 200 if body is not None else 404
        payload = body if body is not None else b"Not found\n"
        self.send_response(status)
        self.send_header("Content-Type", "text/plain" if body is not None else "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if with_body:
            self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # the certificate's log records validation; access logs here would be noise


class _Listener:
    def __init__(self, address: str, port: int) -> None:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        try:
            self.server = _Server((address, port), family)
        except OSError as exc:
            hint = ""
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                hint = " (is a web server already using it? use the webroot provider or another port)"
            raise OperationError(
                f"Cannot listen on {address}:{port} for http-01: {exc.strerror or exc}{hint}") from exc
        self.users = 0
        # shutdown() waits up to one poll interval; the stdlib's 0.5 s would sit on every order's critical path.
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02},
                                       name=f"http-01 {address}:{port}", daemon=True)
        self.thread.start()

        self.idle_timer: threading.Timer | None = None

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# Inside a batch (the worker's pool working through due certificates) a listener stays up this long
# after its last order, so the burst reuses one socket instead of binding and closing per order.
# Outside a batch it closes at once, freeing the port for a web server.
LINGER_SECONDS = 1.0
_batches = 0

_listeners: dict[tuple[str, int], _Listener] = {}
_registry_lock = threading.Lock()


def publish(address: str, port: int, tokens: dict[str, str]) -> None:
    """Serve these tokens on address:port, starting the listener if it is not running."""
    with _registry_lock:
        listener = _listeners.get((address, port))
        if listener is None:
            listener = _listeners[(address, port)] = _Listener(address, port)
        if listener.idle_timer is not None:
            listener.idle_timer.cancel()
            listener.idle_timer = None
        listener.users += 1
    with listener.server.tokens_lock:
        listener.server.tokens.update({t: v.encode() for t, v in tokens.items()})


def withdraw(address: str, port: int, tokens: list[str]) -> None:
    """Stop serving these tokens; close the listener when nobody else uses it."""
    with _registry_lock:
        listener = _listeners.get((address, port))
        if listener is None:
            return
        with listener.server.tokens_lock:
            for token in tokens:
                listener.server.tokens.pop(token, None)
        listener.users -= 1
        if listener.users > 0:
            return
        if LINGER_SECONDS <= 0 or _batches == 0:
            del _listeners[(address, port)]
            listener.close()
            return
        timer = threading.Timer(LINGER_SECONDS, _close_if_idle, args=(address, port, listener))
        timer.daemon = True
        listener.idle_timer = timer
        timer.start()


def _close_if_idle(address: str, port: int, listener: _Listener) -> None:
    with _registry_lock:
        if _listeners.get((address, port)) is not listener or listener.users > 0:
            return  # reused meanwhile
        del _listeners[(address, port)]
    listener.close()


@contextmanager
def batch() -> Iterator[None]:
    """Let listeners linger between the orders of a burst; close the idle ones when it ends."""
    global _batches
    with _registry_lock:
        _batches += 1
    try:
        yield
    finally:
        with _registry_lock:
            _batches -= 1
            last = _batches == 0
        if last:
            close_idle()


def close_idle() -> None:
    """Close every listener no order uses now (at shutdown, or to free a port at once)."""
    with _registry_lock:
        idle = [(key, lst) for key, lst in _listeners.items() if lst.users <= 0]
        for key, listener in idle:
            del _listeners[key]
            if listener.idle_timer is not None:
                listener.idle_timer.cancel()
    for _, listener in idle:
        listener.close()


def is_listening(address: str, port: int) -> bool:
    with _registry_lock:
        return (address, port) in _listeners
