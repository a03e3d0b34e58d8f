"""Every route the API serves, in one table: the app's URL map and the OpenAPI document are built from it."""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from certify_tui.service import (
    api_routes_bundle,
    api_routes_certificates,
    api_routes_renew,
    api_routes_revoke,
    api_routes_settings,
    api_routes_system,
    api_routes_tasks,
)
from certify_tui.service.api_http import ApiContext, Route, json_response
from certify_tui.service.openapi import openapi_document


def openapi(ctx: ApiContext, request: Request) -> Response:
    return json_response(openapi_document(ROUTES))


ROUTES: tuple[Route, ...] = (
    *api_routes_system.ROUTES,
    *api_routes_certificates.ROUTES,
    *api_routes_renew.ROUTES,
    *api_routes_revoke.ROUTES,
    *api_routes_bundle.ROUTES,
    *api_routes_tasks.ROUTES,
    *api_routes_settings.ROUTES,
    # Behind the token like the rest: the API's callers hold the token, and without it nothing (not even
    # which paths exist) is revealed.
    Route("GET", "/api/openapi.json", openapi, "This document (OpenAPI 3.1)", {200: "the document"},
          {"type": "object"}),
)
