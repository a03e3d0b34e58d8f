"""Columns whose secrets are sealed (see secrets_box) in the database and plain in Python.

Reading never fails for a secret nobody uses: a value the available key cannot open stays sealed, and its
use (secrets_box.reveal, `require_open`) says which key is missing. Which plug-in options are secret is
known by the plug-ins, above the store: they register `SecretOptions` here (challenges/deploy do at import).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import peewee

from certify_tui import secrets_box

# (kind "challenge" or "task", plug-in id) -> the keys of its secret options.
SecretOptions = Callable[[str, str], frozenset[str]]
_lookups: list[SecretOptions] = []


def register_secret_options(lookup: SecretOptions) -> None:
    if lookup not in _lookups:
        _lookups.append(lookup)


def secret_keys(kind: str, plugin_id: str | None) -> frozenset[str]:
    if not plugin_id:
        return frozenset()
    return frozenset().union(*(lookup(kind, plugin_id) for lookup in _lookups))


def seal_options(kind: str, plugin_id: str | None, options: Mapping[str, Any]) -> dict[str, Any]:
    secret = secret_keys(kind, plugin_id)
    return {key: secrets_box.seal(value) if key in secret and isinstance(value, str) and value else value
            for key, value in options.items()}


def open_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Every sealed value opened where the key can (see secrets_box.try_reveal)."""
    return {key: secrets_box.try_reveal(value) if secrets_box.is_sealed(value) else value
            for key, value in options.items()}


def require_open(options: Mapping[str, Any]) -> dict[str, Any]:
    """`options` with every secret in plain text, or the one clear error naming the missing key."""
    return {key: secrets_box.reveal(value) if secrets_box.is_sealed(value) else value
            for key, value in options.items()}


def seal_rules_json(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**rule, "options": seal_options("challenge", rule.get("provider"), rule.get("options") or {})}
            for rule in rules]


def seal_deployment_json(deployment: dict[str, Any]) -> dict[str, Any]:
    tasks = [{**task, "options": seal_options("task", task.get("type"), task.get("options") or {})}
             for task in deployment.get("tasks") or []]
    return {**deployment, "tasks": tasks}


def open_rules_json(rules: Any) -> Any:
    if not isinstance(rules, list):
        return rules
    return [{**rule, "options": open_options(rule.get("options") or {})} if isinstance(rule, dict) else rule
            for rule in rules]


def open_deployment_json(deployment: Any) -> Any:
    if not isinstance(deployment, dict) or not isinstance(deployment.get("tasks"), list):
        return deployment
    tasks = [{**task, "options": open_options(task.get("options") or {})} if isinstance(task, dict) else task
             for task in deployment["tasks"]]
    return {**deployment, "tasks": tasks}


class SealedTextField(peewee.TextField):
    """A secret text (an account key): sealed in the database, plain in Python where the key opens it."""

    def db_value(self, value: Any) -> str | None:
        return None if value is None else secrets_box.seal(str(value))

    def python_value(self, value: Any) -> str | None:
        return None if value is None else secrets_box.try_reveal(str(value))


class SealedJSONField(peewee.TextField):
    """A JSON object of secrets (a credential's), sealed whole in the database."""

    def db_value(self, value: Any) -> str | None:
        return None if value is None else secrets_box.seal(json.dumps(value, sort_keys=True))

    def python_value(self, value: Any) -> Any:
        if value is None:
            return None
        text = secrets_box.try_reveal(str(value))
        return text if secrets_box.is_sealed(text) else json.loads(text)
