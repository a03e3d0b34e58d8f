"""`POST /api/certificates/{name}/revoke`: revoke the current certificate at its CA (as `cert revoke --yes`)."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request, Response

from certify_tui.errors import UsageError
from certify_tui.lifecycle.revoke import REVOKE_REASONS
from certify_tui.service.api_http import ApiContext, Route, Schema, json_response, read_json

BODY_KEYS = ("reason", "renew")
BODY: Schema = {
    "type": "object", "additionalProperties": False,
    "properties": {"reason": {"type": "string", "enum": list(REVOKE_REASONS), "default": "unspecified"},
                   "renew": {"type": "boolean", "default": False,
                             "description": "order and deploy a replacement first, then revoke the old one"}}}


def revoke(ctx: ApiContext, request: Request, name: str) -> Response:
    name = ctx.core.get_certificate(name).name  # 404 before the body's errors
    reason, renew = _body(request)
    with ctx.renewing_lock:  # a renewal this API runs for it would race the replacement
        if name in ctx.renewing:
            return json_response({"error": f"{name} is being renewed; try again later.", "name": name}, 409)
        ctx.renewing.add(name)
    try:
        result = ctx.core.revoke(name, reason=reason, renew=renew)
    finally:
        with ctx.renewing_lock:
            ctx.renewing.discard(name)
    return json_response({**result.to_dict(), "certificate": ctx.core.certificate_view(ctx.core.get_certificate(name))})


def _body(request: Request) -> tuple[str, bool]:
    """(reason, renew) from an optional JSON object; a bad value is a 422 naming its field."""
    body: Any = read_json(request) if request.content_length else None
    if body is None:
        return "unspecified", False
    if not isinstance(body, dict):
        raise UsageError('The body must be a JSON object, such as {"reason": "superseded", "renew": true}.')
    unknown = sorted(set(body) - set(BODY_KEYS))
    if unknown:
        raise UsageError(f"Unknown key '{unknown[0]}': the body takes reason and renew.", field=unknown[0])
    reason = body.get("reason", "unspecified")
    if not isinstance(reason, str) or reason not in REVOKE_REASONS:
        raise UsageError(f"'{reason}' is not a revocation reason: use one of {', '.join(REVOKE_REASONS)}.",
                         field="reason")
    renew = body.get("renew", False)
    if not isinstance(renew, bool):
        raise UsageError('"renew" must be true or false.', field="renew")
    return reason, renew


ROUTES = (
    Route("POST", "/api/certificates/<name>/revoke", revoke,
          "Revoke the current certificate at its CA (status revoked); with renew, after a replacement is deployed",
          {200: "{name, serial, reason, signed_by, revoked_at, replacement_serial, certificate}",
           404: "no such certificate", 400: "a malformed body", 422: "a bad value: {error, field}",
           409: "nothing issued, already revoked, or being renewed", 502: "the CA refused"},
          {"type": "object"}, body=BODY, body_required=False),
)
