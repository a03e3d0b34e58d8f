"""Finding the running service's API from its data folder, and asking it something.

The service writes `<data-dir>/service.json` (`{"host", "port", "pid", "started_at"}`) while it listens
and keeps its bearer token in `<data-dir>/api-token`; both are 0600 in the 0700 data folder, so only
the folder's owner can talk to the API. Light on purpose: no server libraries are imported here.
"""

from __future__ import annotations

import http.client
import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any

from certify_tui.errors import OperationError
from certify_tui.paths import DataDir, resolve_data_dir

LOOPBACK = "127.0.0.1"
SERVICE_FILE = "service.json"
TOKEN_FILE = "api-token"


class ServiceUnreachable(OperationError):
    """No service is listening where service.json says (or there is no service.json)."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Never follow a redirect: the token must only ever go to the address in service.json."""

    def redirect_request(self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str,
                         headers: http.client.HTTPMessage, newurl: str) -> urllib.request.Request | None:
        return None


# No proxies: $HTTP_PROXY must never see a loopback request, let alone its bearer token.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def data_root(data_dir: DataDir | str | os.PathLike[str] | None) -> Path:
    """The data folder as a path: a DataDir's root, else resolved like `--data-dir` (env, default)."""
    return data_dir.root if isinstance(data_dir, DataDir) else resolve_data_dir(data_dir)


def service_file(data_dir: DataDir | str | os.PathLike[str] | None) -> Path:
    return data_root(data_dir) / SERVICE_FILE


def token_file(data_dir: DataDir | str | os.PathLike[str] | None) -> Path:
    return data_root(data_dir) / TOKEN_FILE


def read_service_info(data_dir: DataDir | str | os.PathLike[str] | None) -> dict[str, Any] | None:
    """service.json's content, or None when it is missing, unreadable or not a loopback address."""
    try:
        info = json.loads(service_file(data_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or info.get("host") != LOOPBACK:
        return None  # the token is only ever sent to 127.0.0.1
    port = info.get("port")
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        return None
    return info


def read_token(data_dir: DataDir | str | os.PathLike[str] | None) -> str | None:
    try:
        token = token_file(data_dir).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return token or None


def api_get(data_dir: DataDir | str | os.PathLike[str] | None, path: str, timeout: float = 2,
            *, token: str | None = None) -> tuple[int, Any]:
    """GET `path` from the service of `data_dir`: (HTTP status, parsed JSON or text).

    Sends the token from `<data-dir>/api-token` unless one is given. Raises ServiceUnreachable when
    there is no valid service.json or nothing answers at its address; HTTP errors are returned.
    """
    info = read_service_info(data_dir)
    if info is None:
        raise ServiceUnreachable(f"No valid {SERVICE_FILE} in {data_root(data_dir)}.")
    if not path.startswith("/"):
        path = "/" + path
    token = token if token is not None else read_token(data_dir)
    headers = {"Accept": "application/json, text/plain"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(f"http://{LOOPBACK}:{info['port']}{path}", headers=headers)
    try:
        try:
            with _OPENER.open(request, timeout=timeout) as response:
                status, content_type, raw = response.status, response.headers.get("Content-Type", ""), response.read()
        except urllib.error.HTTPError as exc:
            with exc:
                status, content_type, raw = exc.code, exc.headers.get("Content-Type", ""), exc.read()
    except urllib.error.URLError as exc:
        reason = exc.reason
        text = reason.strerror if isinstance(reason, OSError) and reason.strerror else str(reason)
        raise ServiceUnreachable(f"Nothing answers at {LOOPBACK}:{info['port']}: {text}.") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise ServiceUnreachable(f"Nothing answers at {LOOPBACK}:{info['port']}: {exc or type(exc).__name__}.") \
            from exc
    text = raw.decode("utf-8", errors="replace")
    if content_type.split(";")[0].strip() == "application/json":
        try:
            return status, json.loads(text)
        except ValueError:
            pass
    return status, text
