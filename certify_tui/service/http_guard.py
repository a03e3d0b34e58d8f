"""The local API's transport guard: what is decided about a request before its body is read.

waitress reads a request's whole body (spooling anything over `inbuf_overflow` to a temp file) before
it calls the WSGI application, so a check in the application comes too late: an unauthenticated
500 MB POST has filled /tmp by then. So the guard hooks waitress's parser where the request head is
complete and no body byte is read yet: the Host (421: DNS rebinding), the token (401: no body at all
without it) and the body size (413 over 1 MiB) are checked there, and a refused request is answered
and its connection closed without reading any more of it.

The channel adds what waitress lacks against connection exhaustion: a deadline for a whole request
(waitress's `channel_timeout` only counts silence, so a slowloris client dripping a header line every
few seconds lives forever) and, at the connection cap, dropping the oldest idle connection rather than
no longer accepting (which let ~100 silent connections stop the API for as long as they stayed).
"""

from __future__ import annotations

import functools
import heapq
import hmac
import json
import select
import socket
import time
from dataclasses import dataclass
from typing import Any

from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import TcpWSGIServer
from waitress.task import ThreadedTaskDispatcher
from waitress.utilities import Error, RequestEntityTooLarge

from certify_tui.service.discovery import TOKEN_FILE

MAX_BODY = 1024 * 1024  # the API takes no uploads; a POST body is at most a little JSON
MAX_HEADER = 8 * 1024  # the request line and headers; ours are a few hundred bytes
IDLE_TIMEOUT = 15  # seconds a connection may stay open with no request in it (waitress channel_timeout)
READ_TIMEOUT = 10.0  # seconds from a request's first byte to its last (head and body)
MAX_CONNECTIONS = 1000  # open connections; past it the oldest idle one is dropped for the new one
ACCEPT_BATCH = 128  # connections taken per turn of the event loop
FD_RESERVE = 64  # file descriptors kept for the database, logs, the worker and the CA connections
SELECT_CONNECTIONS = 480  # without poll() (Windows), select() handles at most 512 sockets
OPEN_PATHS = frozenset({"/healthz"})  # served without the token (never with a body)
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")

UNAUTHORIZED = (f"A valid API token is required: send 'Authorization: Bearer <token>' with the token from "
                f"<data-dir>/{TOKEN_FILE}.")


def token_matches(authorization: str, token: bytes) -> bool:
    """Is `authorization` (a header value) "Bearer <token>"? The comparison takes constant time."""
    scheme, _, credentials = authorization.partition(" ")
    # WSGI and waitress hand header values over as latin-1: encoding back gives the bytes sent.
    offered = credentials.strip().encode("latin-1", errors="replace")
    return scheme.lower() == "bearer" and hmac.compare_digest(offered, token)


def bearer_challenge(authorization: str) -> str:
    """The WWW-Authenticate value for a 401 (RFC 6750): invalid_token when a credential was offered."""
    return 'Bearer realm="certify-tui"' + (', error="invalid_token"' if authorization.strip() else "")


class JsonError(Error):
    """An answer the guard gives in waitress's place, as JSON like the application's own errors."""

    def __init__(self, code: int, reason: str, message: str, headers: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(message)
        self.code, self.reason, self.headers = code, reason, headers

    def to_response(self, ident: str | None = None) -> tuple[str, list[tuple[str, str]], bytes]:
        body = (json.dumps({"error": self.body}) + "\n").encode("utf-8")
        headers = [("Content-Type", "application/json"), ("Cache-Control", "no-store"),
                   ("X-Content-Type-Options", "nosniff"), *self.headers]
        return f"{self.code} {self.reason}", headers, body

    @classmethod
    def too_large(cls) -> JsonError:
        return cls(413, "Content Too Large", f"The request body is over the API's {MAX_BODY // 1024 // 1024} MiB limit.")

    @classmethod
    def from_waitress(cls, error: Error) -> JsonError:
        if isinstance(error, RequestEntityTooLarge):
            return cls.too_large()
        return cls(error.code, error.reason, f"{error.reason}: {error.body}")


@dataclass(frozen=True)
class RequestGuard:
    """What a request head must satisfy on the API at 127.0.0.1:`port`."""

    token: bytes
    port: int
    max_connections: int = MAX_CONNECTIONS
    read_timeout: float = READ_TIMEOUT

    @functools.cached_property
    def hosts(self) -> frozenset[str]:
        # A browser sends the name it resolved (evil.com:9696 after DNS rebinding): only loopback names
        # pass. A bare name means port 80, so it is ours only when we listen there.
        names = {f"{name}:{self.port}" for name in LOOPBACK_NAMES}
        return frozenset(names | (set(LOOPBACK_NAMES) if self.port == 80 else set()))

    def refusal(self, head: HTTPRequestParser) -> JsonError | None:
        """Why this request (its head parsed, its body unread) is refused, or None."""
        host = head.headers.get("HOST")
        # Duplicate Host headers arrive comma-joined and match nothing; an absolute URI's authority counts too.
        if host is None or host.lower() not in self.hosts or (
                head.proxy_netloc and head.proxy_netloc.lower() not in self.hosts):
            return JsonError(421, "Misdirected Request",
                             f"This API answers only to Host 127.0.0.1:{self.port} (or localhost:{self.port}).")
        authorization = head.headers.get("AUTHORIZATION", "")
        has_body = head.chunked or head.content_length > 0
        if (has_body or head.path not in OPEN_PATHS) and not token_matches(authorization, self.token):
            return JsonError(401, "Unauthorized", UNAUTHORIZED,
                             (("WWW-Authenticate", bearer_challenge(authorization)),))
        if head.content_length > MAX_BODY:
            return JsonError.too_large()
        return None

    def adjustments(self) -> dict[str, Any]:
        """waitress settings (create_server keywords) that go with the guard."""
        return {
            "max_request_header_size": MAX_HEADER,
            # waitress refuses Content-Length >= this: at MAX_BODY + 1 a body of exactly MAX_BODY passes.
            "max_request_body_size": MAX_BODY + 1,
            "inbuf_overflow": 2 * MAX_BODY,  # bodies stay in memory: nothing is ever spooled to /tmp
            "channel_timeout": IDLE_TIMEOUT,
            "cleanup_interval": 1,  # how often idle connections are looked for
            # waitress stops accepting at its limit; the channel drops idle ones first, so it is never hit.
            "connection_limit": self.max_connections + FD_RESERVE,
            # select() cannot watch a descriptor numbered 1024 or more; poll() can.
            "asyncore_use_poll": hasattr(select, "poll"),
        }

    def serve(self, app: Any, sock: socket.socket, *, threads: int, ident: str) -> GuardedServer:
        """A waitress server (not yet running) for `app` on the bound socket `sock`, guarded."""
        adj = Adjustments(threads=threads, ident=ident, **self.adjustments())
        dispatcher = ThreadedTaskDispatcher()
        dispatcher.set_thread_count(threads)
        try:
            server = GuardedServer(app, {}, True, sock, dispatcher=dispatcher, adj=adj, bind_socket=False,
                                   sockinfo=(sock.family, sock.type, sock.proto, sock.getsockname()))
        except BaseException:
            dispatcher.shutdown(timeout=5)
            raise
        server.channel_class = type("ApiChannel", (GuardedChannel,), {"guard": self})
        return server


class GuardedServer(TcpWSGIServer):
    """waitress's TCP server, taking every pending connection in one turn of the event loop.

    waitress accepts one connection per turn, and a turn costs more the more connections are open: under a
    flood a client would wait behind every connection queued before it, one turn each.
    """

    def handle_accept(self) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                pair = self.accept()
                if pair is None:
                    return  # none pending
                conn, addr = pair
                self.set_socket_options(conn)
            except OSError:  # as waitress: a connection gone before it was taken, or no descriptor left
                if self.adj.log_socket_errors:
                    self.logger.warning("server accept() threw an exception", exc_info=True)
                return
            self.channel_class(self, conn, self.fix_addr(addr), self.adj, map=self._map)


class GuardedParser(HTTPRequestParser):
    """waitress's request parser, checking the head against the guard before any body is read."""

    error: Error | None  # waitress's parse error, or the guard's refusal

    def __init__(self, adj: Any, channel: GuardedChannel | None = None) -> None:
        super().__init__(adj)
        self.channel = channel

    def parse_header(self, header_plus: bytes) -> None:
        super().parse_header(header_plus)  # a malformed head raises: waitress answers 400/501 itself
        refusal = self.channel.guard.refusal(self) if self.channel is not None else None
        if refusal is not None:
            self.error = refusal
            # No receiver, no length: waitress reads no body, does not compare the length with its own
            # cap (that would say 413 where the answer is 401), and sends no "100 Continue".
            self.body_rcv = None
            self.content_length = 0
            self.chunked = self.expect_continue = False
            self.connection_close = True

    def received(self, data: bytes) -> int:
        consumed: int = super().received(data)
        if self.error is None:
            return consumed
        if not isinstance(self.error, JsonError):
            self.error = JsonError.from_waitress(self.error)
        if self.channel is not None:
            self.channel.refused = True
        return len(data)  # the rest of this read is the refused body: dropped, never parsed


class GuardedChannel(HTTPChannel):
    """A waitress channel with the guard's parser, a whole-request deadline and eviction at the cap."""

    guard: RequestGuard
    refused = False  # a request on this connection was refused: it is answered and closed, never read on
    request_started: float | None = None  # monotonic time of the unfinished request's first byte
    will_close: bool  # waitress's: close once the queued answers are sent

    def __init__(self, server: Any, sock: Any, addr: Any, adj: Any, map: Any = None) -> None:  # noqa: A002
        super().__init__(server, sock, addr, adj, map)
        self.parser_class = functools.partial(GuardedParser, channel=self)
        self._make_room()

    def received(self, data: bytes) -> bool:
        if self.refused:
            return False
        if self.request is None:
            self.request_started = time.monotonic()
        result: bool = super().received(data)
        if self.request is None:
            self.request_started = None
        return result

    def readable(self) -> bool:
        # The event loop asks every channel this at least once a second: the place for a deadline.
        started = self.request_started
        if (started is not None and not self.will_close and not self.requests
                and time.monotonic() - started > self.guard.read_timeout):
            self.will_close = True  # a request too slow to arrive: slowloris, or a client that hung
        readable: bool = super().readable()
        return readable

    def _make_room(self) -> None:
        """Over the cap, close the oldest connections with no request being served (idle or slow)."""
        channels = [c for c in self.server.active_channels.values() if not c.will_close]
        excess = len(channels) - self.guard.max_connections
        if excess <= 0:
            return
        idle = (c for c in channels if c is not self and not c.requests)
        for victim in heapq.nsmallest(excess, idle, key=lambda c: c.creation_time):
            victim.will_close = True


def raise_open_file_limit(wanted: int) -> int | None:
    """Raise the soft open-file limit towards `wanted`, up to the hard limit; the soft limit now, or
    None where there is no such limit (Windows)."""
    try:
        import resource
    except ImportError:
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass  # some sandboxes refuse: the cap below follows the limit there is
    return soft if soft != resource.RLIM_INFINITY else wanted


def connection_cap() -> int:
    """How many connections the API keeps open at most, within this process's descriptor limits."""
    if not hasattr(select, "poll"):
        return SELECT_CONNECTIONS
    soft = raise_open_file_limit(MAX_CONNECTIONS + 2 * FD_RESERVE)
    if soft is None:
        return MAX_CONNECTIONS
    return max(16, min(MAX_CONNECTIONS, soft - 2 * FD_RESERVE))
