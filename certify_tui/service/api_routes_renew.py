"""`POST /api/certificates/{name}/renew`: renew now (forced), optionally only if a preview still holds."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from certify_tui.errors import CertifyError, NotFoundError, UsageError
from certify_tui.service.api_http import ApiContext, Route, error_response, json_response, read_json

if TYPE_CHECKING:
    from certify_tui.plan import Plan


def renew(ctx: ApiContext, request: Request, name: str) -> Response:
    core = ctx.core
    cert = core.get_certificate(name)  # 404 before anything else
    name = cert.name
    fingerprint = _previewed_fingerprint(request)
    plan = core.preview(name) if fingerprint is not None else None
    if plan is not None and plan.fingerprint != fingerprint:
        return error_response(409, f"'{name}' changed since it was previewed: nothing was ordered; preview it "
                                   "again, then renew.", name=name)
    with ctx.renewing_lock:
        if name in ctx.renewing:
            return error_response(409, f"{name} is already being renewed; try again later.", name=name)
        ctx.renewing.add(name)
    try:
        outcome, busy = _run_renewal(ctx, cert, plan)
    except (NotFoundError, UsageError):
        raise
    except CertifyError as exc:
        return json_response({"name": name, "ok": False, "error": exc.message}, 502)
    finally:
        with ctx.renewing_lock:
            ctx.renewing.discard(name)
    if busy:
        message = outcome.get("message") or f"{name} is being renewed elsewhere; try again later."
        return json_response({**outcome, "error": message}, 409)
    if not outcome["ok"]:
        return json_response({**outcome, "error": outcome.get("message") or f"Renewing {name} failed."}, 502)
    outcome["certificate"] = core.certificate_view(core.get_certificate(name))
    return json_response(outcome)


def _run_renewal(ctx: ApiContext, cert: Any, plan: Plan | None = None) -> tuple[dict[str, Any], bool]:
    """({name, ok, message, ...}, busy) of a forced renewal; Core.renew takes the certificate's lease
    itself and answers "busy" when another process holds it. `plan`: the preview the client saw."""
    name = cert.name
    plans = {name: plan} if plan is not None else None
    outcome = next((o for o in ctx.core.renew([name], force=True, plans=plans) if o.name == name), None)
    if outcome is None:
        return {"name": name, "ok": False, "action": "busy", "message": ""}, True
    busy = outcome.action == "busy"
    return {"name": name, "ok": outcome.ok and not busy, "action": outcome.action,
            "message": outcome.message, "serial": outcome.serial}, busy


def _previewed_fingerprint(request: Request) -> str | None:
    """The `plan` fingerprint a client sends with what it previewed (optional), or None."""
    if not request.content_length:
        return None
    body = read_json(request)
    if not isinstance(body, dict):
        raise UsageError('The body must be a JSON object, such as {"plan": "<fingerprint from the preview>"}.')
    fingerprint = body.get("plan")
    if fingerprint is not None and not isinstance(fingerprint, str):
        raise UsageError('"plan" must be the fingerprint (a string) that the preview returned.')
    return fingerprint


ROUTES = (
    Route("POST", "/api/certificates/<name>/renew", renew,
          "Renew now (forced); with {\"plan\": fingerprint} only if that preview still holds",
          {200: "{name, ok, action, message, serial, certificate}", 404: "no such certificate",
           400: "a malformed body", 409: "busy, or changed since the preview (nothing ordered)",
           422: "a setting is wrong: {error, field}", 502: "the CA or validation failed"},
          {"type": "object"},
          body={"type": "object", "properties": {"plan": {"type": "string"}}, "additionalProperties": True},
          body_required=False),
)
