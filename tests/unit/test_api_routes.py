"""The API's route table, its OpenAPI document and its JSON bodies, without a server.

The document is generated from the table; these check that it stays complete (every CertificateChanges
field, every route, the open paths the transport guard knows) and that bodies reach the core's values.
"""

from __future__ import annotations

from dataclasses import fields

import pytest

from certify_tui.deploy.base import DeploymentTask
from certify_tui.errors import UsageError
from certify_tui.lifecycle.certificates import CertificateSpec
from certify_tui.lifecycle.spec_changes import CertificateChanges
from certify_tui.model import ChallengeRule, RenewalPolicy, TaskConfig
from certify_tui.plugins import SECRET_MASK
from certify_tui.service.api_app import url_map
from certify_tui.service.api_bodies import (
    TASK_SCHEMA,
    create_schema,
    keep_masked_secrets,
    new_certificate,
    patch_body,
    patch_schema,
    rules_from_json,
    task_from_json,
)
from certify_tui.service.api_routes import ROUTES
from certify_tui.service.http_guard import OPEN_PATHS
from certify_tui.service.openapi import openapi_document, openapi_path


def test_every_certificate_setting_is_in_the_body_schemas() -> None:
    settings = {f.name for f in fields(CertificateChanges)}
    assert settings <= set(patch_schema()["properties"])
    assert set(patch_schema()["properties"]) - settings == {"rules"}
    assert settings - {"add_domains", "remove_domains", "add_tags", "remove_tags"} <= set(create_schema()["properties"])
    assert set(create_schema()["required"]) == {"name", "domains"}


def test_every_editor_field_can_be_set_over_the_api() -> None:
    from certify_tui.tui.screens.editor.steps import FIELD_STEPS

    assert {f.name for f in fields(CertificateSpec)} <= set(create_schema()["properties"])
    # Once created: the tasks through .../tasks, a rule's credential inside PATCH's rules, every other field of
    # the editor through PATCH.
    assert set(FIELD_STEPS) - {"tasks", "credential"} <= set(patch_schema()["properties"])
    assert "credential" in patch_schema()["properties"]["rules"]["items"]["properties"]
    endpoints = {route.endpoint for route in ROUTES}
    assert {"GET /api/certificates/<name>/tasks", "POST /api/certificates/<name>/tasks",
            "DELETE /api/certificates/<name>/tasks/<int:number>"} <= endpoints
    task_settings = {f.name for f in fields(TaskConfig)} | {p.key for p in DeploymentTask.COMMON_PARAMS}
    assert set(TASK_SCHEMA["properties"]) == task_settings


def test_the_document_has_every_route_once() -> None:
    document = openapi_document(ROUTES)
    documented = {(path, method.upper()) for path, methods in document["paths"].items() for method in methods}
    assert len(documented) == len(ROUTES)
    served = {(openapi_path(rule.rule), method) for rule in url_map(ROUTES).iter_rules()
              for method in rule.methods or () if method not in ("HEAD", "OPTIONS")}
    assert documented == served
    operation_ids = [op["operationId"] for methods in document["paths"].values() for op in methods.values()]
    assert len(operation_ids) == len(set(operation_ids))
    task = document["paths"]["/api/certificates/{name}/tasks/{number}"]["delete"]
    assert {p["name"]: p["schema"]["type"] for p in task["parameters"]} == {"name": "string", "number": "integer"}


def test_only_the_open_paths_of_the_guard_are_documented_without_a_token() -> None:
    assert {route.path for route in ROUTES if route.open} == set(OPEN_PATHS)


def test_a_new_certificate_is_built_like_cert_add() -> None:
    spec = new_certificate({"name": "web", "domains": ["a.example.test"], "provider": "standalone",
                            "options": {"port": 8080}, "renewal": {"days_after": 10}, "auto_renew": False,
                            "tasks": [{"type": "command", "options": {"command": "true"}, "trigger": "manual"}]})
    assert (spec.name, spec.domains, spec.provider, spec.options) == ("web", ["a.example.test"], "standalone",
                                                                      {"port": 8080})
    assert spec.renewal == RenewalPolicy("days_after", 10) and spec.auto_renew is False
    assert spec.tasks == [TaskConfig("command", {"command": "true", "trigger": "manual"})]


@pytest.mark.parametrize(("body", "field"), [
    ({"domains": ["a.test"]}, "name"),
    ({"name": "web"}, "domains"),
    ({"name": "web", "domains": ["a.test"], "add_domains": ["b.test"]}, "domains"),
    ({"name": "web", "domains": ["a.test"], "options": {"port": [1]}}, "rules[0]"),
    ({"name": "web", "domains": ["a.test"], "rules": [{"pattern": "*", "weight": 1}]}, "rules[0]"),
    ({"name": "web", "domains": ["a.test"], "tasks": [{"options": {}}]}, "tasks[0]"),
    ({"name": "web", "domains": "a.test"}, "domains"),
    ({"name": "web", "domains": ["a.test"], "reuse_key": "yes"}, "reuse_key"),
])
def test_a_body_of_the_wrong_shape_names_its_field(body: dict[str, object], field: str) -> None:
    with pytest.raises(UsageError) as caught:
        new_certificate(body)
    assert caught.value.field == field


def test_patch_needs_a_change_and_takes_rules() -> None:
    with pytest.raises(UsageError, match="Nothing to change") as caught:
        patch_body({})
    assert caught.value.field is None  # 400, not 422
    changes, rules = patch_body({"rules": [{"pattern": "*.example.test", "challenge": "dns-01"}]})
    assert changes == CertificateChanges()
    assert rules == [ChallengeRule("*.example.test", "dns-01", None, {})]
    with pytest.raises(UsageError) as caught:
        rules_from_json([])
    assert caught.value.field == "rules"


def test_a_task_takes_the_runner_options_once() -> None:
    task = task_from_json({"type": "command", "title": "t", "options": {"command": "true"}, "retries": 2})
    assert task == TaskConfig("command", {"command": "true", "retries": 2}, "t")
    with pytest.raises(UsageError, match="given twice"):
        task_from_json({"type": "command", "options": {"retries": 1}, "retries": 2})


def test_a_masked_secret_keeps_the_stored_one() -> None:
    stored = [ChallengeRule("*", "dns-01", "rfc2136", {"server": "ns1", "tsig_secret": "real"})]
    sent = [ChallengeRule("*", "dns-01", "rfc2136", {"server": "ns2", "tsig_secret": SECRET_MASK})]
    assert keep_masked_secrets(sent, stored) == [
        ChallengeRule("*", "dns-01", "rfc2136", {"server": "ns2", "tsig_secret": "real"})]
    other = [ChallengeRule("*.a", "dns-01", "rfc2136", {"tsig_secret": SECRET_MASK})]
    with pytest.raises(UsageError, match="give the secret itself") as caught:
        keep_masked_secrets(other, stored)
    assert caught.value.field == "rules[0]"
