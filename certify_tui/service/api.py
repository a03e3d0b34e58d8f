"""The local HTTP API's server: waitress on 127.0.0.1, serving `api_app.ApiApp` from a background thread.

It listens on 127.0.0.1 only. Every request but `GET /healthz` carries `Authorization: Bearer <token>`,
the token kept in `<data-dir>/api-token` (0600, created once: `api_token`), so only whoever can read the
data folder can use the API. While it listens, `<data-dir>/service.json` says where (see `discovery`).

The routes are one table (`api_routes.ROUTES`, one module per resource: api_routes_certificates, _tasks,
_renew, _system), which also gives `GET /api/openapi.json`, the OpenAPI 3.1 document of them all.
Errors are {"error": message}; when a certificate's setting is what is wrong, the answer is 422 and
{"error": message, "field": name} names the setting as CertificateSpec does ("rules[0]", "renewal", ...).

Before any of that, the transport guard (`http_guard`) checks each request's head while its body is still
unread: Host must be 127.0.0.1, localhost or [::1] with our port (else 421: DNS rebinding), the token must
be right (else 401; without it no body is accepted at all, on /healthz neither), and a body is at most 1 MiB
(else 413). Idle (15 s) and slow (10 s a request) clients are dropped, and at the connection cap the
oldest idle connection makes room, so held-open connections cannot silence the API.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import socket
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from certify_tui.errors import StorageError, UsageError
from certify_tui.paths import IS_WINDOWS, os_error_reason, write_private_file
from certify_tui.service.api_app import ApiApp
from certify_tui.service.api_token import load_or_create_token
from certify_tui.service.discovery import LOOPBACK, SERVICE_FILE, read_service_info
from certify_tui.service.http_guard import RequestGuard, connection_cap

if TYPE_CHECKING:
    from certify_tui.lifecycle import Core

log = logging.getLogger(__name__)

DEFAULT_PORT = 9696
PORT_ATTEMPTS = 21  # the base port and the next 20


# -- the server -----------------------------------------------------------------------------------

def check_host(host: str) -> str:
    """Only 127.0.0.1: the API is for this machine, never the network."""
    if host != LOOPBACK:
        raise UsageError(f"The API listens on {LOOPBACK} only, not {host!r}.")
    return host


def bind_loopback(base_port: int = DEFAULT_PORT, attempts: int = PORT_ATTEMPTS) -> socket.socket:
    """A socket bound to 127.0.0.1 on the first free port of base_port .. base_port + attempts - 1."""
    if not 0 < base_port < 65536 or attempts < 1:
        raise UsageError(f"Invalid API port {base_port}.")
    last: OSError | None = None
    for port in range(base_port, min(base_port + attempts, 65536)):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            if IS_WINDOWS:  # SO_REUSEADDR on Windows would let another process share the port
                sock.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_EXCLUSIVEADDRUSE", socket.SO_REUSEADDR), 1)
            else:  # POSIX: reuse a port still in TIME_WAIT, never one that something listens on
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((LOOPBACK, port))
            return sock
        except OSError as exc:
            sock.close()
            if exc.errno not in (errno.EADDRINUSE, errno.EACCES, getattr(errno, "WSAEADDRINUSE", -1)):
                raise StorageError(f"Cannot listen on {LOOPBACK}:{port}: {os_error_reason(exc)}.") from exc
            last = exc
    end = min(base_port + attempts, 65536) - 1
    reason = os_error_reason(last) if last else "no port to try"
    raise StorageError(f"No free port for the API on {LOOPBACK}:{base_port}-{end} ({reason}).")


class ApiServer:
    """The API served by waitress on 127.0.0.1 from a background thread; `stop()` ends it.

    The first free port from `port` (default 9696) up to 20 above it is used, and announced in
    `<data-dir>/service.json` (0600) until `stop()`.
    """

    def __init__(self, core: Core, *, port: int | None = DEFAULT_PORT, host: str = LOOPBACK,
                 attempts: int = PORT_ATTEMPTS, threads: int = 4) -> None:
        self.core = core
        self.host = check_host(host)
        self.base_port = DEFAULT_PORT if port is None else port
        self.attempts = attempts
        self.threads = threads
        self.port: int | None = None
        self.started_at: datetime | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def service_file(self) -> Path:
        return self.core.data.root / SERVICE_FILE

    @property
    def address(self) -> tuple[str, int]:
        """The address the listening socket is really bound to."""
        if self._server is None:
            raise RuntimeError("the API server is not running")
        host, port = self._server.socket.getsockname()[:2]
        return host, port

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> ApiServer:
        if self._server is not None:
            return self
        token = load_or_create_token(self.core.data.root)
        app = ApiApp(self.core, token)
        # Bound here rather than by waitress so a taken port costs nothing (waitress would have
        # started its worker threads already) and the address is exactly 127.0.0.1.
        sock = bind_loopback(self.base_port, self.attempts)
        # Host, token and body size are checked when a request's head is in, before its body is read.
        guard = RequestGuard(token=token.encode("utf-8"), port=sock.getsockname()[1], max_connections=connection_cap())
        try:
            server = guard.serve(app, sock, threads=self.threads, ident="certify-tui")
        except BaseException:
            sock.close()
            raise
        self._server = server
        self.port = int(server.effective_port)
        self.started_at = datetime.now(UTC)
        try:
            self._write_service_file()
        except BaseException:
            self._shutdown(server, None)
            self._server = None
            raise
        self._thread = threading.Thread(target=server.run, name=f"certify-api-{self.port}", daemon=True)
        self._thread.start()
        log.info("API listening on %s", self.url)
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._server = self._thread = None
        self._remove_service_file()  # first, so no client is sent to a server going away
        self._shutdown(server, thread)
        log.info("API on %s:%s stopped", self.host, self.port)

    def wait(self, timeout: float | None = None) -> None:
        """Block until the server stops (for a foreground service)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> ApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @staticmethod
    def _shutdown(server: Any, thread: threading.Thread | None) -> None:
        def close_all() -> None:  # in the loop's own thread: the loop ends once its map is empty
            for channel in list(server._map.values()):
                # The listener (with its trigger) by close(); connections and the trigger by handle_close().
                with contextlib.suppress(Exception):
                    if channel is server:
                        channel.close()
                    else:
                        channel.handle_close()

        # Requests in flight finish first: a task thread pulls the trigger when its response is ready, and a
        # trigger already closed made waitress log a traceback (EBADF) into the service log.
        server.task_dispatcher.shutdown(timeout=5)
        if thread is not None and thread.is_alive():
            server.trigger.pull_trigger(close_all)
            thread.join(timeout=10)
        if server._map:  # the loop never ran (or is gone): close from here
            close_all()

    def _write_service_file(self) -> None:
        assert self.started_at is not None
        info = {"host": self.host, "port": self.port, "pid": os.getpid(),
                "started_at": self.started_at.isoformat(timespec="seconds")}
        write_private_file(self.service_file, (json.dumps(info, indent=2) + "\n").encode("utf-8"))

    def _remove_service_file(self) -> None:
        info = read_service_info(self.core.data.root)
        # Only our own announcement: a newer service for the same folder may have replaced it.
        if info is not None and (info.get("pid"), info.get("port")) != (os.getpid(), self.port):
            return
        with contextlib.suppress(FileNotFoundError):
            self.service_file.unlink()


def start_api(core: Core, port: int | None = DEFAULT_PORT, *, attempts: int = PORT_ATTEMPTS,
              threads: int = 4) -> ApiServer:
    """Start the API for `core` in the background and return the running server."""
    return ApiServer(core, port=port, attempts=attempts, threads=threads).start()
