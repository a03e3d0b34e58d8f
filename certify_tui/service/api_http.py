"""What every API route is made of: the route record, JSON answers, and reading a request's JSON body.

A route is one entry of the table in `api_routes`: its method, path and handler, plus what the OpenAPI
document says about it (summary, body schema, query parameters, answers). werkzeug's URL map and the
document are both built from that table, so they cannot disagree.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from certify_tui.errors import UsageError

if TYPE_CHECKING:
    from certify_tui.lifecycle import Core

JSON_TYPE = "application/json"
TEXT_TYPE = "text/plain; charset=utf-8"
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
Schema = Mapping[str, Any]  # a JSON Schema (2020-12, as OpenAPI 3.1 uses it)


@dataclass
class ApiContext:
    """What handlers share: the Core, and which certificates this API is renewing right now."""

    core: Core
    renewing: set[str] = field(default_factory=set)
    renewing_lock: threading.Lock = field(default_factory=threading.Lock)


Handler = Callable[..., Response]  # (context, request, **path arguments) -> response


@dataclass(frozen=True)
class QueryParam:
    name: str
    schema: Schema
    description: str


@dataclass(frozen=True)
class Route:
    """One method on one path. `path` is a werkzeug rule ("/api/certificates/<name>/tasks/<int:number>")."""

    method: str
    path: str
    handler: Handler
    summary: str
    responses: Mapping[int, str]  # status -> when it is given (errors included)
    answer: Schema | None = None  # the JSON schema of the success answer, None: not JSON
    answer_type: str = JSON_TYPE
    body: Schema | None = None  # the JSON schema of the request body, None: no body
    body_required: bool = True
    query: tuple[QueryParam, ...] = ()
    open: bool = False  # served without the token (only /healthz: http_guard.OPEN_PATHS)

    @property
    def endpoint(self) -> str:
        return f"{self.method} {self.path}"


def json_response(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    body = json.dumps(data, default=str, ensure_ascii=False) + "\n"
    return Response(body, status=status, headers=dict(headers or {}), content_type=JSON_TYPE)


def error_response(status: int, message: str, headers: Mapping[str, str] | None = None, **extra: Any) -> Response:
    return json_response({"error": message, **extra}, status, headers)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):  # 1e999 parses as infinity: no setting takes that
        raise ValueError(f"{text} is too large a number")
    return number


def read_json(request: Request) -> Any | None:
    """The body as JSON, or None without a body. Malformed JSON (NaN, Infinity, 1e999 too) is a
    UsageError (400) saying where; the body is bounded by the transport guard (1 MiB)."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return None
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_no_constant, parse_float=_finite)
    except UnicodeDecodeError:
        raise UsageError("The body is not UTF-8 text: send JSON.") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"The body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).") from None
    except (ValueError, RecursionError) as exc:
        raise UsageError(f"The body is not valid JSON: {exc}.") from None


def read_json_object(request: Request, example: str) -> dict[str, Any]:
    """The body, which must be a JSON object; `example` shows one in the error."""
    body = read_json(request)
    if body is None:
        raise UsageError(f"This request needs a JSON object as its body, such as {example}.")
    if not isinstance(body, dict):
        raise UsageError(f"The body must be a JSON object, such as {example}, not {type(body).__name__}.")
    return body


def query_flag(request: Request, name: str) -> bool:
    """A true/false query parameter (absent: false)."""
    value = request.args.get(name)
    if value is None:
        return False
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no", ""):
        return False
    raise UsageError(f"'{name}' must be true or false, not '{value}'.")
