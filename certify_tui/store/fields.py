"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar, cast

import peewee

from certify_tui.model import ChallengeRule, DeploymentSettings, RenewalPolicy
from certify_tui.store.sealed import (
    open_deployment_json,
    open_rules_json,
    seal_deployment_json,
    seal_rules_json,
)

T = TypeVar("T")


class JSONField(peewee.TextField):
    """JSON in a text column: portable, and small enough that native JSON types buy nothing here."""

    def db_value(self, value: Any) -> str | None:
        return None if value is None else json.dumps(value, sort_keys=True)

    def python_value(self, value: str | None) -> Any:
        return None if value is None else json.loads(value)


class UTCDateTimeField(peewee.DateTimeField):
    """Stores naive UTC, returns aware UTC, so comparisons never mix local and UTC time."""

    def db_value(self, value: datetime | None) -> Any:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return super().db_value(value)

    def python_value(self, value: Any) -> datetime | None:
        parsed: datetime | None = super().python_value(value)  # what db_value stored parses back
        if isinstance(parsed, datetime):
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
        return parsed


class _TypedAccessor(peewee.FieldAccessor):
    """Assigning the JSON form (what older code and tests write) stores the typed value all the same."""

    field: TypedJSONField[Any]

    def __set__(self, instance: peewee.Model, value: Any) -> None:
        super().__set__(instance, None if value is None else self.field.typed(value))


class TypedJSONField(JSONField, Generic[T]):
    """A typed value (see certify_tui.model) in Python, its JSON form in the database: the one place they
    convert. The stored JSON keeps the shape it always had, so existing databases need no migration."""

    accessor_class = _TypedAccessor

    def __init__(self, from_json: Callable[[Any], T], to_json: Callable[[T], Any], kind: type | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._from_json, self._to_json, self._kind = from_json, to_json, kind

    def typed(self, value: Any) -> T:
        """`value` typed: as it is when it already is, else read from its JSON form."""
        if self._kind is not None and isinstance(value, self._kind):
            return cast(T, value)
        return self._from_json(value)

    def db_value(self, value: Any) -> str | None:
        return None if value is None else super().db_value(self._to_json(self.typed(value)))

    def python_value(self, value: str | None) -> T | None:
        raw = super().python_value(value)
        return None if raw is None else self._from_json(raw)


def _rules_from_json(data: Any) -> tuple[ChallengeRule, ...]:
    if isinstance(data, tuple | list) and all(isinstance(rule, ChallengeRule) for rule in data):
        return tuple(data)
    if not isinstance(data, list | tuple):
        raise ValueError(f"the stored challenge rules are not a list: {data!r:.60}")
    return tuple(ChallengeRule.from_json(rule) for rule in open_rules_json(list(data)))


def challenge_rules_field(**kwargs: Any) -> TypedJSONField[tuple[ChallengeRule, ...]]:
    """Rules in order, first match wins: [{pattern, challenge, provider, options, credential}, ...] in the
    database, secret options sealed (store/sealed.py)."""
    return TypedJSONField(_rules_from_json, lambda rules: seal_rules_json([rule.to_json() for rule in rules]),
                          default=tuple, **kwargs)


def _deployment_from_json(data: Any) -> DeploymentSettings:
    return DeploymentSettings.from_json(open_deployment_json(data))


def deployment_field(**kwargs: Any) -> TypedJSONField[DeploymentSettings]:
    """{"mode": ..., "site": ... (single only), "tasks": [...]} in the database, secret task options sealed."""
    return TypedJSONField(_deployment_from_json, lambda value: seal_deployment_json(value.to_json()),
                          DeploymentSettings, default=DeploymentSettings, **kwargs)


def renewal_field(**kwargs: Any) -> TypedJSONField[RenewalPolicy]:
    """{"percent": 75}, {"days_before": 30} or {"days_after": 60} in the database."""
    return TypedJSONField(RenewalPolicy.from_json, RenewalPolicy.to_json, RenewalPolicy, default=RenewalPolicy,
                          **kwargs)
