"""A shared HTTP listener that serves only `/.well-known/acme-challenge/<token>`.

Several orders in flight (threads of one process) share one listener per address and port:
each registers its tokens and releases them; the socket closes when the last one leaves.
Other certify-tui processes of the same data folder share it too (see http_share): when the port
is ours in another process, the tokens go to that process instead of failing on "address in use".
"""

from __future__ import annotations

import atexit
import errno
import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from certify_tui.challenges import http_share
from certify_tui.errors import OperationError, Transient

CHALLENGE_PREFIX = "/.well-known/acme-challenge/"
GUEST_POLL_SECONDS = 0.5  # how often a holder with nothing of its own left looks whether guests still need it
# A holder about to exit waits at most this long for guests' validations in flight (seconds each, normally);
# bounded well under a service manager's stop timeout.
GUEST_WAIT_SECONDS = 60.0

log = logging.getLogger("certify_tui")


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
        self.share: http_share.Share | None = None  # other processes' tokens, when shared


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
            token = path[len(CHALLENGE_PREFIX):]
            with self.server.tokens_lock:
                body = self.server.tokens.get(token)
            if body is None and self.server.share is not None:
                body = self.server.share.lookup(token)
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
        self.server = _Server((address, port), family)  # OSError: see _bind_error
        self.share: http_share.Share | None = None
        self.users = 0
        # shutdown() waits up to one poll interval; the stdlib's 0.5 s would sit on every order's critical path.
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02},
                                       name=f"http-01 {address}:{port}", daemon=True)
        self.thread.start()

        self.idle_timer: threading.Timer | None = None

    def add(self, tokens: dict[str, str]) -> None:
        with self.server.tokens_lock:
            self.server.tokens.update({t: v.encode() for t, v in tokens.items()})

    def remove(self, tokens: list[str]) -> None:
        with self.server.tokens_lock:
            for token in tokens:
                self.server.tokens.pop(token, None)

    def close_unless_needed(self) -> bool:
        """Close, unless another process's orders still validate through this socket."""
        if self.share is None:
            self.close()
            return True
        with self.share.locked():
            if self.share.guests_waiting():
                return False
            self.close()  # under the lock: no guest can see our mark while the socket is going away
            self.share.release()
        return True

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Guest:
    """Our tokens served by the certify-tui process that holds the port (see http_share)."""

    def __init__(self, share: http_share.Share, address: str, port: int) -> None:
        self.share, self.where = share, f"{address}:{port}"
        self.users = 0
        self.idle_timer: threading.Timer | None = None

    def add(self, tokens: dict[str, str]) -> None:
        with self.share.locked():
            if not self.share.holder_alive():
                # The holder exited between our orders: rare; the next check simply starts over.
                raise ListenerBusy(self.where)
            self.share.put(tokens)

    def remove(self, tokens: list[str]) -> None:
        self.share.take_back(tokens)

    def close_unless_needed(self) -> bool:
        self.share.leave()
        return True


class ListenerBusy(Transient):
    """The port is certify-tui's own and is changing hands: a moment's wait, not a failure."""

    def __init__(self, where: str) -> None:
        super().__init__(f"The built-in http-01 listener on {where} is busy (another certify-tui process is "
                         "handing it over); retried shortly.")


def _bind_error(address: str, port: int, exc: OSError) -> OperationError:
    hint = ""
    if exc.errno in (errno.EADDRINUSE, errno.EACCES):
        hint = " (is a web server already using it? use the webroot provider or another port)"
    return OperationError(f"Cannot listen on {address}:{port} for http-01: {exc.strerror or exc}{hint}")


def _open(address: str, port: int) -> _Listener | _Guest:
    """Listen on address:port, or join the certify-tui process of this data folder that already does."""
    share = http_share.for_port(address, port)
    if share is not None:
        try:
            return _open_shared(share, address, port)
        except http_share.Unavailable as exc:
            log.warning("cannot share the http-01 listener through the data folder (%s); listening alone", exc)
    try:
        return _Listener(address, port)
    except OSError as exc:
        raise _bind_error(address, port, exc) from exc


def _open_shared(share: http_share.Share, address: str, port: int) -> _Listener | _Guest:
    with share.locked():
        try:
            listener = _Listener(address, port)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE and share.holder_alive():
                log.info("http-01 %s:%d is served by another certify-tui process; sharing it", address, port)
                return _Guest(share, address, port)
            raise _bind_error(address, port, exc) from exc  # another program: a real failure, named
        listener.share = listener.server.share = share
        share.claim()
    return listener


# Inside a batch (the worker's pool working through due certificates) a listener stays up this long
# after its last order, so the burst reuses one socket instead of binding and closing per order.
# Outside a batch it closes at once, freeing the port for a web server.
LINGER_SECONDS = 1.0
_batches = 0

_listeners: dict[tuple[str, int], _Listener | _Guest] = {}
_registry_lock = threading.Lock()


def publish(address: str, port: int, tokens: dict[str, str]) -> None:
    """Serve these tokens on address:port, starting the listener (or joining another process's) if needed."""
    with _registry_lock:
        listener = _listeners.get((address, port))
        if listener is None:
            listener = _listeners[(address, port)] = _open(address, port)
        if listener.idle_timer is not None:
            listener.idle_timer.cancel()
            listener.idle_timer = None
        listener.users += 1
        try:
            listener.add(tokens)
        except ListenerBusy:
            listener.users -= 1
            if listener.users <= 0:
                _retire((address, port), listener)
            raise


def withdraw(address: str, port: int, tokens: list[str]) -> None:
    """Stop serving these tokens; close the listener when nobody else uses it."""
    with _registry_lock:
        listener = _listeners.get((address, port))
        if listener is None:
            return
        listener.remove(tokens)
        listener.users -= 1
        if listener.users > 0:
            return
        if LINGER_SECONDS <= 0 or _batches == 0 or isinstance(listener, _Guest):
            _retire((address, port), listener)
            return
        _later(address, port, listener, LINGER_SECONDS)


def _later(address: str, port: int, listener: _Listener | _Guest, seconds: float) -> None:
    timer = threading.Timer(seconds, _close_if_idle, args=(address, port, listener))
    timer.daemon = True
    listener.idle_timer = timer
    timer.start()


def _retire(key: tuple[str, int], listener: _Listener | _Guest) -> None:
    """Close an unused listener (registry lock held); one other processes still use is looked at again soon."""
    if listener.close_unless_needed():
        if _listeners.get(key) is listener:
            del _listeners[key]
        return
    _later(key[0], key[1], listener, GUEST_POLL_SECONDS)


def _close_if_idle(address: str, port: int, listener: _Listener | _Guest) -> None:
    with _registry_lock:
        if _listeners.get((address, port)) is not listener or listener.users > 0:
            return  # reused meanwhile
        _retire((address, port), listener)


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
        for key, listener in list(_listeners.items()):
            if listener.users <= 0:
                if listener.idle_timer is not None:
                    listener.idle_timer.cancel()
                    listener.idle_timer = None
                _retire(key, listener)


@atexit.register
def _wait_for_guests() -> None:
    """A holder about to exit keeps serving other processes' validations in flight (bounded)."""
    deadline = time.monotonic() + GUEST_WAIT_SECONDS
    told = False
    while True:
        close_idle()
        with _registry_lock:
            waiting = [key for key, lst in _listeners.items() if isinstance(lst, _Listener) and lst.users <= 0]
        if not waiting or time.monotonic() > deadline:
            return
        if not told:
            log.info("waiting for another certify-tui process's http-01 validation on %s before exiting",
                     ", ".join(f"{a}:{p}" for a, p in waiting))
            told = True
        time.sleep(GUEST_POLL_SECONDS)


def is_listening(address: str, port: int) -> bool:
    with _registry_lock:
        return (address, port) in _listeners
