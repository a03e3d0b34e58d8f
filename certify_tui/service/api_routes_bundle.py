"""`POST /api/bundle/export` and `POST /api/bundle/import`: encrypted bundles, as the CLI and the TUI make them.

Paths are on the machine the service runs on. The passphrase travels in the body (the API is token-protected
and local), never in a URL. An export never replaces an existing file: a token holder must not be able to
overwrite one of the service's files with a bundle."""

from __future__ import annotations

import os
from typing import Any

from werkzeug.wrappers import Request, Response

from certify_tui.errors import UsageError
from certify_tui.service.api_http import ApiContext, Route, Schema, json_response, read_json_object

_PASSPHRASE: Schema = {"type": "string", "minLength": 8, "writeOnly": True}
EXPORT_BODY: Schema = {
    "type": "object", "additionalProperties": False, "required": ["path", "passphrase"],
    "properties": {"path": {"type": "string", "description": "absolute path of a new file (never replaced)"},
                   "passphrase": _PASSPHRASE}}
IMPORT_BODY: Schema = {
    "type": "object", "additionalProperties": False, "required": ["path", "passphrase"],
    "properties": {"path": {"type": "string", "description": "absolute path of the bundle"},
                   "passphrase": _PASSPHRASE,
                   "dry_run": {"type": "boolean", "default": False, "description": "only the plan"},
                   "replace": {"type": "boolean", "default": False,
                               "description": "also take items that conflict with ones here"}}}


def export_bundle(ctx: ApiContext, request: Request) -> Response:
    body = _body(request, EXPORT_BODY, '{"path": "/root/move.bundle", "passphrase": "..."}')
    path = _path(body)
    if os.path.lexists(path):
        raise UsageError(f"{path} exists: choose a new file name (an export never replaces a file).", field="path")
    return json_response(ctx.core.export_bundle(path, _passphrase(body)))


def import_bundle(ctx: ApiContext, request: Request) -> Response:
    body = _body(request, IMPORT_BODY, '{"path": "/root/move.bundle", "passphrase": "...", "dry_run": true}')
    flags = {key: body.get(key, False) for key in ("dry_run", "replace")}
    for key, value in flags.items():
        if not isinstance(value, bool):
            raise UsageError(f'"{key}" must be true or false.', field=key)
    plan = ctx.core.plan_bundle_import(_path(body), _passphrase(body), replace=flags["replace"])
    imported = None if flags["dry_run"] else ctx.core.import_bundle(plan)
    return json_response({**plan.to_dict(), "dry_run": flags["dry_run"], "imported": imported})


def _body(request: Request, schema: Schema, example: str) -> dict[str, Any]:
    body = read_json_object(request, example)
    known = schema["properties"]
    unknown = sorted(set(body) - set(known))
    if unknown:
        raise UsageError(f"Unknown key '{unknown[0]}': the body takes {', '.join(known)}.", field=unknown[0])
    return body


def _path(body: dict[str, Any]) -> str:
    path = body.get("path")
    if not isinstance(path, str) or not os.path.isabs(path):
        raise UsageError('"path" must be an absolute path on the machine the service runs on.', field="path")
    return path


def _passphrase(body: dict[str, Any]) -> str:
    passphrase = body.get("passphrase")
    if not isinstance(passphrase, str):
        raise UsageError('"passphrase" must be a string.', field="passphrase")
    return passphrase


ROUTES = (
    Route("POST", "/api/bundle/export", export_bundle,
          "Write the whole installation to a new encrypted bundle file (as `export bundle`)",
          {200: "{file, bytes, accounts, certificates, certificate_files, tasks, credentials}",
           400: "a malformed body", 422: "a bad value, or the file exists: {error, field}"},
          {"type": "object"}, body=EXPORT_BODY),
    Route("POST", "/api/bundle/import", import_bundle,
          "Plan (dry_run) or apply the import of an encrypted bundle (as `import bundle`)",
          {200: "{file, items, counts, dry_run, imported}", 400: "a malformed body",
           422: "a bad value: {error, field}", 409: "wrong passphrase or damaged file; nothing changed"},
          {"type": "object"}, body=IMPORT_BODY),
)
