"""The API's WSGI application: authentication, routing by the route table, and errors as JSON.

Routing, requests and responses are werkzeug's. Each waitress worker thread uses its own database
connection (peewee's connection state is per thread) and closes it after each request, so nothing is
shared between threads and nothing outlives the server.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from certify_tui.errors import CAError, CertifyError, NotFoundError, OperationError, StorageError, UsageError
from certify_tui.service.api_http import ApiContext, Route, error_response
from certify_tui.service.api_routes import ROUTES
from certify_tui.service.http_guard import UNAUTHORIZED, bearer_challenge, token_matches

if TYPE_CHECKING:
    from certify_tui.lifecycle import Core

log = logging.getLogger(__name__)


def status_of(exc: CertifyError) -> int:
    """The HTTP status of an error a use case raised (a UsageError with a field is 422: see dispatch)."""
    if isinstance(exc, UsageError):
        return 404 if isinstance(exc, NotFoundError) else 400
    if isinstance(exc, CAError):
        return 502
    if isinstance(exc, OperationError) and not isinstance(exc, StorageError):
        return 409  # valid, but not possible in the certificate's state (e.g. nothing issued to deploy yet)
    return 500


def url_map(routes: Iterable[Route]) -> Map:
    """werkzeug's URL map of the routes; each rule's endpoint is its route's `endpoint`."""
    return Map([Rule(route.path, endpoint=route.endpoint, methods=[route.method]) for route in routes])


class ApiApp:
    """The WSGI application over a `Core`; every route (api_routes.ROUTES) is a Core use case."""

    def __init__(self, core: Core, token: str, routes: Iterable[Route] = ROUTES) -> None:
        if not token:
            raise ValueError("the API needs a non-empty token")
        self.core = core
        self.context = ApiContext(core)
        self._token = token.encode("utf-8")
        self._owner_thread = threading.get_ident()  # whose connection is the Core's own: never closed here
        self.routes = {route.endpoint: route for route in routes}
        self.url_map = url_map(self.routes.values())
        self.open_paths = frozenset(route.path for route in self.routes.values() if route.open)

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
        if request.path not in self.open_paths:
            problem = self._auth_problem(request)
            if problem is not None:
                return problem
        adapter = self.url_map.bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match()
        except NotFound:
            return error_response(404, f"No such endpoint: {request.path}")
        except MethodNotAllowed as exc:
            allowed = ", ".join(sorted(exc.valid_methods or []))
            return error_response(405, f"{request.method} is not allowed on {request.path}", {"Allow": allowed})
        except HTTPException as exc:  # e.g. a redirect werkzeug decided on
            return exc.get_response(request.environ)
        try:
            return self.routes[endpoint].handler(self.context, request, **args)
        except UsageError as exc:
            if exc.field is not None:  # a certificate setting is wrong: 422 says which one
                return error_response(422, exc.message, field=exc.field)
            return error_response(status_of(exc), exc.message)
        except CertifyError as exc:
            return error_response(status_of(exc), exc.message)
        except Exception:  # noqa: BLE001 - a client gets JSON; the app log gets the traceback
            log.exception("API %s %s failed", request.method, request.path)
            return error_response(500, "Internal error; see the certify-tui app log.")

    def _auth_problem(self, request: Request) -> Response | None:
        # The transport guard (http_guard) has checked this before the body was read; checked again
        # here so the application is safe under any server.
        authorization = request.headers.get("Authorization", "")
        if token_matches(authorization, self._token):
            return None
        return error_response(401, UNAUTHORIZED, {"WWW-Authenticate": bearer_challenge(authorization)})

    def _release_connection(self) -> None:
        """Close this worker thread's database connection (peewee keeps one per thread)."""
        if threading.get_ident() == self._owner_thread:
            return
        db = self.core.db
        with contextlib.suppress(Exception):
            if not db.is_closed():
                db.close()
