"""The API's other resources: health, version, the summary, metrics, the plug-ins' declared parameters, the web sites."""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from certify_tui import __version__
from certify_tui.service.api_http import METRICS_TYPE, ApiContext, Route, json_response
from certify_tui.service.metrics import render_metrics


def healthz(ctx: ApiContext, request: Request) -> Response:
    return json_response({"status": "ok"})


def appversion(ctx: ApiContext, request: Request) -> Response:
    return json_response({"version": __version__})


def metrics(ctx: ApiContext, request: Request) -> Response:
    return Response(render_metrics(ctx.core.list_certificates()), content_type=METRICS_TYPE)


def summary(ctx: ApiContext, request: Request) -> Response:
    """Status at a glance (lifecycle/fleet_status.py): what `certify-tui status` shows."""
    return json_response(ctx.core.status_summary())


def providers(ctx: ApiContext, request: Request) -> Response:
    """What a client may put in rules and tasks: every plug-in with its declared parameters (`secret` flags
    the values masked in answers), and the other choices a certificate offers."""
    core = ctx.core
    challenges = {challenge: [{"id": cls.id, "title": cls.title, "description": cls.description,
                               "params": cls.describe_params()} for cls in classes]
                  for challenge, classes in core.challenge_providers().items()}
    tasks = [{"id": cls.id, "title": cls.title, "description": cls.description, "params": cls.describe_params()}
             for cls in core.deployment_task_types()]
    return json_response({"challenges": challenges, "tasks": tasks, "key_types": core.key_types(),
                          "deployment_modes": core.deployment_modes()})


def sites(ctx: ApiContext, request: Request) -> Response:
    """The sites of the configured (or the installed servers') nginx and Apache configurations."""
    return json_response([site.to_dict() for site in ctx.core.discover_sites()])


PARAMS = {"type": "array", "items": {"type": "object", "description": "{key, label, type, required, secret, "
                                                                     "default, help, choices, ...}"}}
PLUGIN = {"type": "object", "properties": {"id": {"type": "string"}, "title": {"type": "string"},
                                           "description": {"type": "string"}, "params": PARAMS}}
ROUTES = (
    Route("GET", "/healthz", healthz, "Liveness (no token)", {200: '{"status": "ok"}'},
          {"type": "object"}, open=True),
    Route("GET", "/api/system/appversion", appversion, "The certify-tui version", {200: '{"version": ...}'},
          {"type": "object", "properties": {"version": {"type": "string"}}}),
    Route("GET", "/api/summary", summary,
          "Status at a glance: counts by state, next renewals, certificates in warning (expiring without a "
          "successful renewal, repeated failures, rate limited, revoked), the worker's last run, the alert "
          "channels and their last delivery", {200: "{total, counts, next_renewals, soonest_expiries, warnings, "
                                                    "worker, last_run, alerts}"}, {"type": "object"}),
    Route("GET", "/metrics", metrics, "Prometheus metrics (text format 0.0.4)", {200: "the metrics"},
          answer_type=METRICS_TYPE),
    Route("GET", "/api/providers", providers,
          "Challenge providers and deployment task types with their declared parameters (secrets flagged)",
          {200: "{challenges: {type: [plugin]}, tasks: [plugin], key_types, deployment_modes}"},
          {"type": "object", "properties": {
              "challenges": {"type": "object", "additionalProperties": {"type": "array", "items": PLUGIN}},
              "tasks": {"type": "array", "items": PLUGIN}, "key_types": {"type": "object"},
              "deployment_modes": {"type": "object"}}}),
    Route("GET", "/api/sites", sites, "nginx server blocks and Apache virtual hosts (ids for deployment_site)",
          {200: "the sites"}, {"type": "array", "items": {"type": "object"}}),
)
