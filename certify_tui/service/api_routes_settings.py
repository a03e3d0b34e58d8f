"""`/api/settings...`: the application settings (as `settings show|set`, secrets masked), the notification
channels (as `settings notify ...`) and the test notification."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request, Response

from certify_tui.errors import UsageError
from certify_tui.plugins import SECRET_MASK
from certify_tui.service.api_http import ApiContext, Route, json_response, read_json_object

_EMAIL_FIELDS = {"smtp_host": str, "smtp_port": int, "security": str, "user": str, "password": str,
                 "credential": str, "from": str, "to": list}


def _masked(ctx: ApiContext) -> dict[str, Any]:
    secret = {p.key for p in ctx.core.settings_params() if p.secret}
    return {k: (SECRET_MASK if k in secret and v else v) for k, v in ctx.core.settings().items()}


def show_settings(ctx: ApiContext, request: Request) -> Response:
    return json_response({"settings": _masked(ctx), "params": [p.to_dict() for p in ctx.core.settings_params()]})


def change_settings(ctx: ApiContext, request: Request) -> Response:
    body = read_json_object(request, '{"pool_size": 8}')
    known = {p.key for p in ctx.core.settings_params()}
    unknown = sorted(set(body) - known)
    if unknown:
        raise UsageError(f"Unknown setting '{unknown[0]}' (GET /api/settings lists them).", field=unknown[0])
    # A secret sent back masked, as GET shows it, keeps its stored value.
    ctx.core.update_settings({k: v for k, v in body.items() if v != SECRET_MASK})
    return json_response({"settings": _masked(ctx)})


def show_channels(ctx: ApiContext, request: Request) -> Response:
    return json_response(ctx.core.notify_channels())


def set_email(ctx: ApiContext, request: Request) -> Response:
    body = read_json_object(request, '{"smtp_host": "smtp.example.com", "to": ["ops@example.com"]}')
    for key, value in body.items():
        kind = _EMAIL_FIELDS.get(key)
        if kind is None:
            raise UsageError(f"Unknown field '{key}' (valid: {', '.join(_EMAIL_FIELDS)}).", field=key)
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            raise UsageError(f"'{key}' must be {'a list of addresses' if kind is list else kind.__name__}.",
                             field=key)
    if not body.get("smtp_host"):
        raise UsageError("Give the SMTP server: {\"smtp_host\": \"smtp.example.com\"}.", field="smtp_host")
    view = ctx.core.set_email_channel(
        body["smtp_host"], port=body.get("smtp_port"), security=body.get("security") or "starttls",
        user=body.get("user"), password=body.get("password"), credential=body.get("credential"),
        sender=body.get("from"), to=[str(a) for a in body.get("to") or []])
    return json_response(view)


def set_webhook(ctx: ApiContext, request: Request) -> Response:
    body = read_json_object(request, '{"url": "https://hooks.example.com/certify"}')
    if not isinstance(body.get("url"), str) or set(body) != {"url"}:
        raise UsageError('The body must be {"url": "https://..."}.', field="url")
    return json_response(ctx.core.set_webhook_channel(body["url"]))


def remove_channel(ctx: ApiContext, request: Request, kind: str) -> Response:
    return json_response(ctx.core.remove_notify_channel(kind))


def test_notification(ctx: ApiContext, request: Request) -> Response:
    return json_response(ctx.core.send_test_notification().to_dict())


CHANNELS = {"type": "object", "description": "{email: {smtp_host, smtp_port, security, credential, from, to, "
                                             "to_is_default} or null, webhook (scheme://host/... only) or null, "
                                             "urls (apprise, redacted), channels: [label], notify_on_success}"}
EMAIL_BODY = {"type": "object", "required": ["smtp_host"], "additionalProperties": False, "properties": {
    "smtp_host": {"type": "string"}, "smtp_port": {"type": "integer", "description": "0 or absent: by security"},
    "security": {"enum": ["starttls", "tls", "plain"]}, "user": {"type": "string"},
    "password": {"type": "string", "description": "stored as the credential (default notify-smtp), sealed"},
    "credential": {"type": "string"}, "from": {"type": "string"},
    "to": {"type": "array", "items": {"type": "string"}, "description": "absent: the accounts' contacts"}}}
BAD = {400: "malformed JSON", 422: "a bad value: {error, field}"}
ROUTES = (
    Route("GET", "/api/settings", show_settings, "The application settings (secrets masked) and their parameters",
          {200: "{settings, params}"}, {"type": "object"}),
    Route("PATCH", "/api/settings", change_settings, "Change settings (as `settings set`): only the keys given",
          {200: "{settings}", **BAD}, {"type": "object"},
          body={"type": "object", "description": "{key: value}; a secret sent as ******** is kept"}),
    Route("GET", "/api/settings/notify", show_channels, "The notification channels (no password or token)",
          {200: "the channels"}, CHANNELS),
    Route("PUT", "/api/settings/notify/email", set_email, "Email through an SMTP server (as `settings notify email`)",
          {200: "the channels", **BAD}, CHANNELS, body=EMAIL_BODY),
    Route("PUT", "/api/settings/notify/webhook", set_webhook, "POST notifications as JSON to a URL",
          {200: "the channels", **BAD}, CHANNELS,
          body={"type": "object", "required": ["url"], "properties": {"url": {"type": "string"}},
                "additionalProperties": False}),
    Route("DELETE", "/api/settings/notify/<kind>", remove_channel, "Stop a channel: email, webhook, urls or all",
          {200: "the channels left", 422: "no such channel kind"}, CHANNELS),
    Route("POST", "/api/settings/test-notification", test_notification,
          "Send a test message to every channel (as `settings test-notification`)",
          {200: "{ok, delivered, failed, message, at}: ok is false when a channel failed or none is set"},
          {"type": "object"}),
)
