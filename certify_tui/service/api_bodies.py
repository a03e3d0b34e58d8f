"""The API's JSON bodies: their schemas (for the OpenAPI document) and how each becomes the core's values.

Only the JSON's shape is checked here (an object, a list of names, scalar options); every value is validated
by the core exactly as for the CLI and the editor: `CertificateChanges.from_json` and `apply_changes`, then
`build_certificate` (rules, names, account, key type, deployment) and `check_tasks`. The certificate schema
is derived from CertificateChanges' own fields, so a setting added there shows up in the document (or the
test that compares them fails).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields, replace
from types import UnionType
from typing import Any, get_args, get_origin, get_type_hints

from certify_tui.deploy.base import DeploymentTask
from certify_tui.errors import UsageError
from certify_tui.keys import KEY_TYPES
from certify_tui.lifecycle.certificates import DEPLOYMENT_MODES, CertificateSpec
from certify_tui.lifecycle.spec_changes import CertificateChanges, apply_changes
from certify_tui.model import RENEWAL_KINDS, ChallengeRule, RenewalPolicy, TaskConfig
from certify_tui.plugins import SECRET_MASK, Param
from certify_tui.service.api_http import Schema

# -- schemas --------------------------------------------------------------------------------------

SCALAR = {"type": ["string", "number", "boolean", "null"]}
OPTIONS_SCHEMA: Schema = {"type": "object", "additionalProperties": SCALAR,
                          "description": "The plug-in's options (GET /api/providers lists them); secrets may be "
                                         "given here, they are masked in every answer."}
RENEWAL_SCHEMA: Schema = {
    "description": "When renewal is due: exactly one of percent (of the lifetime, 1-99), days_before (expiry) "
                   "or days_after (issuance).",
    "oneOf": [{"type": "object", "properties": {kind: {"type": "number"}}, "required": [kind],
               "additionalProperties": False} for kind in RENEWAL_KINDS],
}
RULE_SCHEMA: Schema = {
    "type": "object", "additionalProperties": False,
    "properties": {"pattern": {"type": "string", "default": "*"}, "challenge": {"type": "string"},
                   "provider": {"type": ["string", "null"]}, "options": OPTIONS_SCHEMA,
                   "credential": {"type": ["string", "null"],
                                  "description": "a stored credential for the provider (certify-tui credential list)"}},
}
_PARAM_TYPES = {"int": "integer", "bool": "boolean"}  # other declared types are text


def _param_schema(param: Param) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": _PARAM_TYPES.get(param.type, "string"), "description": param.label}
    if param.choices:
        schema["enum"] = list(param.choices)
    return schema


# Every task type's shared options (trigger, retries, ...), as the runner declares them.
RUNNER_KEYS = tuple(p.key for p in DeploymentTask.COMMON_PARAMS)
TASK_SCHEMA: Schema = {
    "type": "object", "required": ["type"], "additionalProperties": False,
    "properties": {
        "type": {"type": "string", "description": "a task type id (GET /api/providers: tasks)"},
        "title": {"type": "string"}, "options": OPTIONS_SCHEMA,
        "credential": {"type": ["string", "null"],
                       "description": "a stored credential for this task type (certify-tui credential add NAME "
                                      "--task TYPE): its values fill the options when the task runs"},
        **{p.key: _param_schema(p) for p in DeploymentTask.COMMON_PARAMS},
    },
}
_FIELD_NOTES = {
    "name": "a new name (refused once the certificate has files)",
    "domains": "the whole list of names, replaced; the first is the primary",
    "add_domains": "names added (if not there yet)", "remove_domains": "names removed",
    "tags": "the whole list of tags, replaced ([] clears them)", "add_tags": "tags added",
    "remove_tags": "tags removed",
    "account": "the account's email or id", "preferred_chain": "issuer CN of the preferred chain ('' none)",
    "profile": "the ACME profile ('' none)",
    "fallback_accounts": "accounts (emails or ids) at other CAs to fail over to, in order, after repeated "
                         "CA-side failures ([] clears them: the fallback_accounts setting applies)", "deployment_site": "the site id, for the single mode (GET /api/sites)",
}
_FIELD_ENUMS: dict[str, list[str]] = {"key_type": list(KEY_TYPES), "deployment_mode": list(DEPLOYMENT_MODES)}
CREATE_ONLY = {"challenge": {"type": "string", "default": "http-01"}, "provider": {"type": ["string", "null"]},
               "options": OPTIONS_SCHEMA, "credential": RULE_SCHEMA["properties"]["credential"], "rules": {"type": "array", "items": RULE_SCHEMA},
               "tasks": {"type": "array", "items": TASK_SCHEMA}}
PATCH_EXTRA = {"rules": {"type": "array", "items": RULE_SCHEMA, "description": "the whole list, replaced"}}
CHANGE_ONLY = ("add_domains", "remove_domains", "add_tags", "remove_tags")  # a new one is given its list


def _schema_of(hint: Any) -> dict[str, Any]:
    """The JSON schema of a CertificateChanges field type, null allowed (null leaves a setting as it is)."""
    options = [a for a in get_args(hint) if a is not type(None)] if isinstance(hint, UnionType) else [hint]
    if len(options) != 1:
        raise TypeError(f"no JSON schema for {hint}: add it to service/api_bodies.py")
    (kind,) = options
    if kind is str:
        return {"type": ["string", "null"]}
    if kind is bool:
        return {"type": ["boolean", "null"]}
    if get_origin(kind) is tuple and get_args(kind)[0] is str:
        return {"type": ["array", "null"], "items": {"type": "string"}}
    if kind is RenewalPolicy:
        return dict(RENEWAL_SCHEMA)
    raise TypeError(f"no JSON schema for {hint}: add it to service/api_bodies.py")


def changes_properties() -> dict[str, Any]:
    """A schema property for each CertificateChanges field, from its type hint."""
    hints = get_type_hints(CertificateChanges)
    properties = {}
    for f in fields(CertificateChanges):
        schema = _schema_of(hints[f.name])
        if f.name in _FIELD_ENUMS:
            schema["enum"] = [*_FIELD_ENUMS[f.name], None]
        if f.name in _FIELD_NOTES:
            schema["description"] = _FIELD_NOTES[f.name]
        properties[f.name] = schema
    return properties


def patch_schema() -> Schema:
    return {"type": "object", "additionalProperties": False, "minProperties": 1,
            "properties": {**changes_properties(), **PATCH_EXTRA}}


def create_schema() -> Schema:
    properties = {k: v for k, v in changes_properties().items() if k not in CHANGE_ONLY}
    properties["name"] = {"type": "string", "description": "a short name: letters, digits, '.', '_' and '-'"}
    properties["domains"] = {"type": "array", "items": {"type": "string"}, "minItems": 1,
                             "description": "the names; the first is the primary"}
    return {"type": "object", "additionalProperties": False, "required": ["name", "domains"],
            "properties": {**properties, **CREATE_ONLY},
            "description": "challenge/provider/options make one rule for every name; rules (first match wins) "
                           "replace them. Left out: the configured default rule."}


# -- bodies into the core's values ----------------------------------------------------------------

def new_certificate(body: Mapping[str, Any]) -> CertificateSpec:
    """The spec of `POST /api/certificates`, as `cert add` builds it: a start from the validation options,
    then the settings applied through CertificateChanges."""
    for key in CHANGE_ONLY:
        if key in body:
            whole = key.split("_", 1)[1]  # add_tags -> tags
            raise UsageError(f"'{key}' changes an existing certificate: give a new one its '{whole}'.", field=whole)
    settings = {k: v for k, v in body.items() if k not in CREATE_ONLY}
    if body.get("name") is None:
        raise UsageError("'name' is required: a short name (letters, digits, '.', '_' and '-').", field="name")
    name = _text(body["name"], "name", "name")
    if body.get("domains") is None:
        raise UsageError("'domains' is required: a list of the names to include.", field="domains")
    challenge = body.get("challenge") if body.get("challenge") is not None else "http-01"
    start = CertificateSpec(name=name, domains=[], challenge=_text(challenge, "rules[0]", "challenge"),
                            provider=_optional_text(body.get("provider"), "rules[0]", "provider"),
                            options=_options(body.get("options"), "rules[0]"),
                            credential=_optional_text(body.get("credential"), "rules[0]", "credential"),
                            rules=rules_from_json(body.get("rules")) or [],
                            tasks=tasks_from_json(body.get("tasks")))
    return apply_changes(start, CertificateChanges.from_json(settings))


def patch_body(body: Mapping[str, Any]) -> tuple[CertificateChanges, list[ChallengeRule] | None]:
    """`PATCH /api/certificates/{name}`: the changes, and the new rules if given."""
    settings = {k: v for k, v in body.items() if k not in PATCH_EXTRA}
    changes = CertificateChanges.from_json(settings)
    rules = rules_from_json(body.get("rules"))
    if changes == CertificateChanges() and rules is None:
        raise UsageError("Nothing to change: give at least one setting (GET /api/openapi.json lists them).")
    return changes, rules


def rules_from_json(value: object) -> list[ChallengeRule] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise UsageError("'rules' must be a non-empty list of rules such as "
                         '{"pattern": "*", "challenge": "http-01", "provider": "standalone"}.', field="rules")
    rules = []
    for index, item in enumerate(value):
        where = f"rules[{index}]"
        if not isinstance(item, dict):
            raise UsageError(f"{where} must be an object with pattern, challenge, provider and options.", field=where)
        _known_keys(item, RULE_SCHEMA, where)
        rules.append(ChallengeRule(pattern=_text(item.get("pattern", "*"), where, "pattern"),
                                   challenge=_text(item.get("challenge") or "http-01", where, "challenge"),
                                   provider=_optional_text(item.get("provider"), where, "provider"),
                                   options=_options(item.get("options"), where),
                                   credential=_optional_text(item.get("credential"), where, "credential")))
    return rules


def keep_masked_secrets(rules: list[ChallengeRule], stored: Sequence[ChallengeRule]) -> list[ChallengeRule]:
    """Rules sent back as GET showed them have their secrets masked: a masked option keeps the value of the
    stored rule with the same pattern, challenge and provider, so a read-change-write never stores the mask."""
    kept = []
    for index, rule in enumerate(rules):
        masked = [key for key, value in rule.options.items() if value == SECRET_MASK]
        same = next((s for s in stored if (s.pattern, s.challenge, s.provider)
                     == (rule.pattern.strip(), rule.challenge, rule.provider)), None)
        missing = [key for key in masked if same is None or key not in same.options]
        if missing:
            raise UsageError(f"rules[{index}]: option '{missing[0]}' is the mask {SECRET_MASK}: give the secret "
                             "itself (a mask keeps the stored secret of a rule with the same pattern, challenge "
                             "and provider).", field=f"rules[{index}]")
        if masked and same is not None:
            rule = replace(rule, options={**rule.options, **{key: same.options[key] for key in masked}})
        kept.append(rule)
    return kept


def tasks_from_json(value: object) -> list[TaskConfig] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise UsageError("'tasks' must be a list of tasks such as {\"type\": \"command\", \"options\": {...}}.",
                         field="tasks")
    return [task_from_json(item, f"tasks[{index}]") for index, item in enumerate(value)]


def task_from_json(body: object, where: str = "tasks") -> TaskConfig:
    """A task as `cert task add` makes one: the runner's options (trigger, retries, ...) join the type's."""
    if not isinstance(body, dict):
        raise UsageError(f"{where} must be an object such as {{\"type\": \"export\", \"options\": {{...}}}}.",
                         field=where)
    _known_keys(body, TASK_SCHEMA, where)
    task_type = body.get("type")
    if not isinstance(task_type, str) or not task_type:
        raise UsageError("'type' is required: a task type id (GET /api/providers lists them).", field=where)
    options: dict[str, Any] = _options(body.get("options"), where)
    for key in RUNNER_KEYS:
        if body.get(key) is None:
            continue
        if key in options:
            raise UsageError(f"Option '{key}' is given twice: give it once.", field=where)
        options[key] = body[key]
    return TaskConfig(type=task_type, options=options, title=_text(body.get("title") or "", where, "title"),
                      credential=_optional_text(body.get("credential"), where, "credential") or None)


def _known_keys(body: Mapping[str, Any], schema: Schema, where: str) -> None:
    unknown = sorted(set(body) - set(schema["properties"]))
    if unknown:
        raise UsageError(f"{where}: unknown key '{unknown[0]}' (keys: {', '.join(schema['properties'])}).",
                         field=where)


def _text(value: object, where: str, key: str) -> str:
    if not isinstance(value, str):
        raise UsageError(f"'{key}' must be text.", field=where)
    return value


def _optional_text(value: object, where: str, key: str) -> str | None:
    return None if value is None else _text(value, where, key)


def _options(value: object, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str | int | float | bool) or v is None
                                              for v in value.values()):
        raise UsageError("'options' must be an object of option names to text, numbers or true/false.", field=where)
    return dict(value)
