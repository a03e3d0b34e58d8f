"""`/api/certificates...`: list, show, create, change, remove, preview, log, deploy and test certificates.

Every handler is a Core use case; the bodies are parsed in `api_bodies` and validated by the core, so a
bad value is the same 422 (with its field) as the CLI's error for it.
"""

from __future__ import annotations

from dataclasses import replace

from werkzeug.wrappers import Request, Response

from certify_tui.lifecycle.spec_changes import apply_changes
from certify_tui.service.api_bodies import (
    create_schema,
    keep_masked_secrets,
    new_certificate,
    patch_body,
    patch_schema,
)
from certify_tui.service.api_http import (
    TEXT_TYPE,
    ApiContext,
    QueryParam,
    Route,
    json_response,
    query_flag,
    read_json_object,
)

VIEW = {"type": "object", "description": "a certificate's view (secrets masked), as `cert show --json`"}
NOT_FOUND = {404: "no such certificate"}
INVALID = {400: "malformed JSON, or a body that is not an object", 422: "a bad value: {error, field}"}


def list_certificates(ctx: ApiContext, request: Request) -> Response:
    tags = request.args.getlist("tag")  # ?tag=a&tag=b: those with both, as `cert list --tag`
    return json_response([ctx.core.certificate_view(c) for c in ctx.core.list_certificates(tags)])


def show_certificate(ctx: ApiContext, request: Request, name: str) -> Response:
    return json_response(ctx.core.certificate_view(ctx.core.get_certificate(name)))


def create_certificate(ctx: ApiContext, request: Request) -> Response:
    body = read_json_object(request, '{"name": "web", "domains": ["www.example.com"]}')
    cert = ctx.core.add_certificate(new_certificate(body))
    return json_response(ctx.core.certificate_view(cert), 201, {"Location": f"/api/certificates/{cert.name}"})


def change_certificate(ctx: ApiContext, request: Request, name: str) -> Response:
    ctx.core.get_certificate(name)  # 404 before the body's errors
    changes, rules = patch_body(read_json_object(request, '{"auto_renew": false}'))
    if rules is None:
        cert = ctx.core.change_certificate(name, changes)
    else:  # the rules replaced, then the same changes (Core.change_certificate applies them this way)
        stored = ctx.core.certificate_spec(name)
        spec = replace(stored, rules=keep_masked_secrets(rules, stored.rules))
        cert = ctx.core.update_certificate(name, apply_changes(spec, changes))
    return json_response(ctx.core.certificate_view(cert))


def remove_certificate(ctx: ApiContext, request: Request, name: str) -> Response:
    keep = query_flag(request, "keep_files")
    removed = ctx.core.remove_certificate(name, delete_files=not keep)
    return json_response({"name": removed.name, "removed": True, "files_kept": keep})


def preview(ctx: ApiContext, request: Request, name: str) -> Response:
    return json_response(ctx.core.preview(name).to_dict())


def certificate_log(ctx: ApiContext, request: Request, name: str) -> Response:
    return Response(ctx.core.certificate_log(name), content_type=TEXT_TYPE)


def deploy(ctx: ApiContext, request: Request, name: str) -> Response:
    error = ctx.core.deploy(name)
    cert = ctx.core.get_certificate(name)
    return json_response({"name": cert.name, "ok": error is None, "error": error,
                          "certificate": ctx.core.certificate_view(cert)})


def test_certificate(ctx: ApiContext, request: Request, name: str) -> Response:
    checks = ctx.core.test_certificate(name)
    name = ctx.core.get_certificate(name).name
    return json_response({"name": name, "ok": not any(c.ok is False for c in checks),
                          "checks": [c.to_dict() for c in checks]})


ONE = "/api/certificates/<name>"
ROUTES = (
    Route("GET", "/api/certificates", list_certificates, "Every managed certificate",
          {200: "the views"}, {"type": "array", "items": VIEW},
          query=(QueryParam("tag", {"type": "string"}, "only those with this tag (repeat: with all of them)"),)),
    Route("POST", "/api/certificates", create_certificate, "Add a certificate (as `cert add`; nothing is ordered)",
          {201: "added: its view", **INVALID}, VIEW, body=create_schema()),
    Route("GET", ONE, show_certificate, "One certificate", {200: "its view", **NOT_FOUND}, VIEW),
    Route("PATCH", ONE, change_certificate, "Change settings (as `cert set`): only the keys given change",
          {200: "changed: its view", **NOT_FOUND, **INVALID}, VIEW, body=patch_schema()),
    Route("DELETE", ONE, remove_certificate, "Remove a certificate (and its files unless keep_files)",
          {200: "{name, removed, files_kept}", **NOT_FOUND}, {"type": "object"},
          query=(QueryParam("keep_files", {"type": "boolean", "default": False},
                            "keep the certificate's files on disk"),)),
    Route("GET", f"{ONE}/preview", preview, "What a request would do now (the Plan, with its fingerprint)",
          {200: "the plan", **NOT_FOUND, 422: "a setting is wrong: {error, field}"}, {"type": "object"}),
    Route("GET", f"{ONE}/log", certificate_log, "The certificate's log", {200: "the log", **NOT_FOUND},
          answer_type=TEXT_TYPE),
    Route("POST", f"{ONE}/deploy", deploy, "Deploy the current certificate again (sites and tasks), no order",
          {200: "{name, ok, error (null when deployed), certificate}", **NOT_FOUND,
           409: "nothing issued yet"}, {"type": "object"}),
    Route("POST", f"{ONE}/test", test_certificate, "Check names, ports, reachability, CAA and DNS access",
          {200: "{name, ok, checks: [{name, ok (null: skipped), message, remedy}]}", **NOT_FOUND},
          {"type": "object"}),
)
