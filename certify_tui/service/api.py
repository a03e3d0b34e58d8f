"""The local HTTP API: JSON over loopback for scripts, monitoring and `certify-tui status`.

It listens on 127.0.0.1 only. Every request but `GET /healthz` carries `Authorization: Bearer <token>`,
the token kept in `<data-dir>/api-token` (0600, created once), so only whoever can read the data
folder can use the API. While it listens, `<data-dir>/service.json` says where (see `discovery`).

    GET  /healthz                              {"status": "ok"} (no token)
    GET  /api/system/appversion                {"version": ...}
    GET  /api/certificates                     [certificate view, ...]
    GET  /api/certificates/{name}              certificate view (secrets masked)
    GET  /api/certificates/{name}/preview      the Plan as JSON
    POST /api/certificates/{name}/renew        renew now (forced): 200 outcome, 409 busy, 404/400/422/502;
                                               body {"plan": fingerprint} (optional): only if the preview
                                               with that fingerprint still holds, else 409 and nothing done
    GET  /api/certificates/{name}/log          the certificate's log (text/plain)
    GET  /metrics                              Prometheus text format 0.0.4

Errors are {"error": message}; when a certificate's setting is what is wrong, the answer is 422 and
{"error": message, "field": name} names the setting as CertificateSpec does ("rules[0]", "renewal", ...).

Before any of that, the transport guard (`http_guard`) checks each request's head while its body is still
unread: Host must be 127.0.0.1, localhost or [::1] with our port (else 421: DNS rebinding), the token must
be right (else 401; without it no body is accepted at all, on /healthz neither), and a body is at most 1 MiB
(else 413). Idle (15 s) and slow (10 s a request) clients are dropped, and at the connection cap the
oldest idle connection makes room, so held-open connections cannot silence the API.

Routing, requests and responses are werkzeug's; waitress serves it from a background thread. Each
waitress worker thread uses its own database connection (peewee's connection state is per thread) and
closes it after each request, so nothing is shared between threads and nothing outlives `stop()`.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from certify_tui import __version__
from certify_tui.errors import CertifyError, NotFoundError, StorageError, UsageError
from certify_tui.paths import IS_WINDOWS, fsync_directory, os_error_reason, write_private_file
from certify_tui.service.discovery import LOOPBACK, SERVICE_FILE, TOKEN_FILE, read_service_info
from certify_tui.service.http_guard import (
    UNAUTHORIZED,
    RequestGuard,
    bearer_challenge,
    connection_cap,
    token_matches,
)

if TYPE_CHECKING:
    from certify_tui.lifecycle import Core
    from certify_tui.plan import Plan

log = logging.getLogger(__name__)

DEFAULT_PORT = 9696
PORT_ATTEMPTS = 21  # the base port and the next 20
JSON_TYPE = "application/json"
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


# -- the token ------------------------------------------------------------------------------------

def load_or_create_token(root: Path) -> str:
    """The API token in `<root>/api-token`: reused if present and non-empty, else created once (0600).

    A new token is linked into place, never renamed over the file, so when two processes start at
    once both end up with the token that won, not each with its own.
    """
    path = Path(root) / TOKEN_FILE
    existing = _read_nonempty(path)
    if existing:
        if not IS_WINDOWS and path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
        return existing
    token = secrets.token_urlsafe(32)
    temp = path.with_name(f".{TOKEN_FILE}.{secrets.token_hex(6)}.new")
    write_private_file(temp, token.encode("ascii") + b"\n")
    try:
        try:
            os.link(temp, path)
        except FileExistsError:
            winner = _read_nonempty(path)
            if winner:
                return winner
            os.replace(temp, path)  # an empty leftover file: ours replaces it
        except OSError:
            os.replace(temp, path)  # no hard links on this filesystem
    except OSError as exc:
        raise StorageError(f"Could not write {path}: {os_error_reason(exc)}.", detail=str(exc)) from exc
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temp)
    fsync_directory(path.parent)
    return token


def _read_nonempty(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise StorageError(f"Could not read the API token {path}: {exc}.") from exc


# -- metrics --------------------------------------------------------------------------------------

def escape_label_value(value: str) -> str:
    """A label value as the Prometheus text format 0.0.4 wants it: \\, " and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def render_metrics(certificates: Iterable[Any]) -> str:
    """Prometheus text exposition (0.0.4) for managed certificates (objects with the model's fields)."""
    certs = list(certificates)
    families: list[tuple[str, str, str, list[tuple[dict[str, str], float]]]] = [
        ("certify_certificates_total", "gauge", "Number of managed certificates.", [({}, len(certs))]),
        ("certify_certificate_expiry_timestamp_seconds", "gauge",
         "Expiry (notAfter) of the current certificate, in seconds since the Unix epoch.", []),
        ("certify_certificate_last_success", "gauge",
         "1 if the certificate is valid and its last attempt succeeded, else 0.", []),
        ("certify_certificate_failures_total", "gauge",
         "Consecutive failed attempts since the last success (resets to 0 on success).", []),
    ]
    for cert in certs:
        labels = {"name": cert.name, "primary": cert.primary_identifier}
        if cert.not_after is not None:
            families[1][3].append((labels, cert.not_after.timestamp()))
        ok = cert.status == "valid" and not cert.last_error
        families[2][3].append((labels, 1 if ok else 0))
        families[3][3].append((labels, cert.failure_count or 0))
    lines = []
    for name, kind, helptext, samples in families:
        lines.append(f"# HELP {name} {helptext}")
        lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            rendered = ",".join(f'{k}="{escape_label_value(str(v))}"' for k, v in labels.items())
            lines.append(f"{name}{{{rendered}}} {_number(value)}" if rendered else f"{name} {_number(value)}")
    return "\n".join(lines) + "\n"


# -- the WSGI application -------------------------------------------------------------------------

def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(data, default=str, ensure_ascii=False) + "\n"
    return Response(body, status=status, headers=headers, content_type=JSON_TYPE)


def _error(status: int, message: str, headers: dict[str, str] | None = None, **extra: Any) -> Response:
    return _json({"error": message, **extra}, status, headers)


class ApiApp:
    """The WSGI application over a `Core`; every route is a Core use case."""

    def __init__(self, core: Core, token: str) -> None:
        if not token:
            raise ValueError("the API needs a non-empty token")
        self.core = core
        self._token = token.encode("utf-8")
        self._owner_thread = threading.get_ident()  # whose connection is the Core's own: never closed here
        self._renewing: set[str] = set()
        self._renewing_lock = threading.Lock()
        self.url_map = Map([
            Rule("/healthz", endpoint="healthz", methods=["GET"]),
            Rule("/metrics", endpoint="metrics", methods=["GET"]),
            Rule("/api/system/appversion", endpoint="appversion", methods=["GET"]),
            Rule("/api/certificates", endpoint="certificates", methods=["GET"]),
            Rule("/api/certificates/<name>", endpoint="certificate", methods=["GET"]),
            Rule("/api/certificates/<name>/preview", endpoint="preview", methods=["GET"]),
            Rule("/api/certificates/<name>/renew", endpoint="renew", methods=["POST"]),
            Rule("/api/certificates/<name>/log", endpoint="log", methods=["GET"]),
        ])

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = self.dispatch(request)
        finally:
            self._release_connection()
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        # Authenticate before routing, so without the token nothing reveals which paths exist.
        if request.path != "/healthz":
            problem = self._auth_problem(request)
            if problem is not None:
                return problem
        adapter = self.url_map.bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match()
        except NotFound:
            return _error(404, f"No such endpoint: {request.path}")
        except MethodNotAllowed as exc:
            allowed = ", ".join(sorted(exc.valid_methods or []))
            return _error(405, f"{request.method} is not allowed on {request.path}", {"Allow": allowed})
        except HTTPException as exc:  # e.g. a redirect werkzeug decided on
            return exc.get_response(request.environ)
        try:
            handler: Callable[..., Response] = getattr(self, f"_{endpoint}")
            return handler(request, **args)
        except UsageError as exc:
            if exc.field is not None:  # a certificate setting is wrong: 422 says which one
                return _error(422, exc.message, field=exc.field)
            return _error(404 if isinstance(exc, NotFoundError) else 400, exc.message)
        except CertifyError as exc:
            return _error(500, exc.message)
        except Exception:  # noqa: BLE001 - a client gets JSON; the app log gets the traceback
            log.exception("API %s %s failed", request.method, request.path)
            return _error(500, "Internal error; see the certify-tui app log.")

    def _auth_problem(self, request: Request) -> Response | None:
        # The transport guard (http_guard) has checked this before the body was read; checked again
        # here so the application is safe under any server.
        authorization = request.headers.get("Authorization", "")
        if token_matches(authorization, self._token):
            return None
        return _error(401, UNAUTHORIZED, {"WWW-Authenticate": bearer_challenge(authorization)})

    def _release_connection(self) -> None:
        """Close this worker thread's database connection (peewee keeps one per thread)."""
        if threading.get_ident() == self._owner_thread:
            return
        db = self.core.db
        with contextlib.suppress(Exception):
            if not db.is_closed():
                db.close()

    # -- endpoints --------------------------------------------------------------------------------
    def _healthz(self, request: Request) -> Response:
        return _json({"status": "ok"})

    def _appversion(self, request: Request) -> Response:
        return _json({"version": __version__})

    def _certificates(self, request: Request) -> Response:
        return _json([self.core.certificate_view(c) for c in self.core.list_certificates()])

    def _certificate(self, request: Request, name: str) -> Response:
        return _json(self.core.certificate_view(self.core.get_certificate(name)))

    def _preview(self, request: Request, name: str) -> Response:
        return _json(self.core.preview(name).to_dict())

    def _log(self, request: Request, name: str) -> Response:
        return Response(self.core.certificate_log(name), content_type="text/plain; charset=utf-8")

    def _metrics(self, request: Request) -> Response:
        return Response(render_metrics(self.core.list_certificates()), content_type=METRICS_TYPE)

    def _renew(self, request: Request, name: str) -> Response:
        cert = self.core.get_certificate(name)  # 404 before anything else
        name = cert.name
        fingerprint = _previewed_fingerprint(request)
        plan = self.core.preview(name) if fingerprint is not None else None
        if plan is not None and plan.fingerprint != fingerprint:
            return _error(409, f"'{name}' changed since it was previewed: nothing was ordered; preview it again, "
                               "then renew.", name=name)
        with self._renewing_lock:
            if name in self._renewing:
                return _error(409, f"{name} is already being renewed; try again later.", name=name)
            self._renewing.add(name)
        try:
            outcome, busy = self._run_renewal(cert, plan)
        except (NotFoundError, UsageError):
            raise
        except CertifyError as exc:
            return _json({"name": name, "ok": False, "error": exc.message}, 502)
        finally:
            with self._renewing_lock:
                self._renewing.discard(name)
        if busy:
            message = outcome.get("message") or f"{name} is being renewed elsewhere; try again later."
            return _json({**outcome, "error": message}, 409)
        if not outcome["ok"]:
            return _json({**outcome, "error": outcome.get("message") or f"Renewing {name} failed."}, 502)
        outcome["certificate"] = self.core.certificate_view(self.core.get_certificate(name))
        return _json(outcome)

    def _run_renewal(self, cert: Any, plan: Plan | None = None) -> tuple[dict[str, Any], bool]:
        """({name, ok, message, ...}, busy) of a forced renewal; Core.renew takes the certificate's lease
        itself and answers "busy" when another process holds it. `plan`: the preview the client saw."""
        name = cert.name
        plans = {name: plan} if plan is not None else None
        outcome = next((o for o in self.core.renew([name], force=True, plans=plans) if o.name == name), None)
        if outcome is None:
            return {"name": name, "ok": False, "action": "busy", "message": ""}, True
        busy = outcome.action == "busy"
        return {"name": name, "ok": outcome.ok and not busy, "action": outcome.action,
                "message": outcome.message, "serial": outcome.serial}, busy


def _previewed_fingerprint(request: Request) -> str | None:
    """The `plan` fingerprint a client sends with what it previewed (optional), or None."""
    if not request.content_length:
        return None
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise UsageError('The body must be a JSON object, such as {"plan": "<fingerprint from the preview>"}.')
    fingerprint = body.get("plan")
    if fingerprint is not None and not isinstance(fingerprint, str):
        raise UsageError('"plan" must be the fingerprint (a string) that the preview returned.')
    return fingerprint


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

        if thread is not None and thread.is_alive():
            server.trigger.pull_trigger(close_all)
            thread.join(timeout=10)
        if server._map:  # the loop never ran (or is gone): close from here
            close_all()
        server.task_dispatcher.shutdown(timeout=5)

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
