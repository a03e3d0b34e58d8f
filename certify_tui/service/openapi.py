"""The API described as an OpenAPI 3.1 document, generated from the route table (never kept by hand).

Paths come from the werkzeug rules ("<int:number>" becomes "{number}", an integer), bodies and answers from
each route's schemas, and the errors every route can give (401, and 400/422 for bodies) are added here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from certify_tui import __version__
from certify_tui.service.api_http import JSON_TYPE, Route

_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")
ERROR_SCHEMA = {"type": "object", "required": ["error"],
                "properties": {"error": {"type": "string", "description": "one readable line"},
                               "field": {"type": "string", "description": "the setting at fault (422), as "
                                                                          "CertificateSpec names it: rules[0], ..."}}}
UNAUTHORIZED = "no or a wrong token (checked before any body byte is read)"


def openapi_path(rule: str) -> str:
    """A werkzeug rule as an OpenAPI path template."""
    return _PARAM.sub(lambda m: "{" + m.group(2) + "}", rule)


def _path_parameters(rule: str) -> list[dict[str, Any]]:
    return [{"name": name, "in": "path", "required": True,
             "schema": {"type": "integer", "minimum": 1} if converter == "int" else {"type": "string"}}
            for converter, name in _PARAM.findall(rule)]


def _operation(route: Route) -> dict[str, Any]:
    parameters = _path_parameters(route.path) + [
        {"name": q.name, "in": "query", "required": False, "schema": dict(q.schema), "description": q.description}
        for q in route.query]
    responses: dict[str, Any] = {}
    for status, description in sorted(route.responses.items()):
        if status < 300:
            content = {route.answer_type: {"schema": dict(route.answer) if route.answer else {"type": "string"}}}
        else:
            content = {JSON_TYPE: {"schema": {"$ref": "#/components/schemas/Error"}}}
        responses[str(status)] = {"description": description, "content": content}
    operation: dict[str, Any] = {
        "operationId": f"{route.method.lower()}_{route.handler.__name__}", "summary": route.summary,
        "parameters": parameters, "responses": responses}
    if route.open:
        operation["security"] = []
    else:
        responses.setdefault("401", {"description": UNAUTHORIZED,
                                     "content": {JSON_TYPE: {"schema": {"$ref": "#/components/schemas/Error"}}}})
    if route.body is not None:
        operation["requestBody"] = {"required": route.body_required,
                                    "content": {JSON_TYPE: {"schema": dict(route.body)}}}
    return operation


def openapi_document(routes: Iterable[Route]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(openapi_path(route.path), {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {"title": "certify-tui local API", "version": __version__,
                 "description": "JSON over 127.0.0.1 only. Every request but GET /healthz carries "
                                "'Authorization: Bearer <token>' with the token from <data-dir>/api-token. "
                                "Errors are {\"error\"}; a bad setting is 422 with the \"field\" it is about."},
        "servers": [{"url": "http://127.0.0.1:9696", "description": "the default port (see service.json)"}],
        "security": [{"bearer": []}],
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
                       "schemas": {"Error": ERROR_SCHEMA}},
        "paths": paths,
    }
