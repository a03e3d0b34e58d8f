"""The typed values a managed certificate is made of, from the editor down to the store.

Small frozen dataclasses: every layer passes them around, and only the store (store/fields.py) turns them
into JSON and back, in the shape databases have always held. `from_json` accepts what older versions stored:
a missing key takes its default, so no migration is needed. Validation lives with the use cases
(challenges/rules.py check_rule, lifecycle/certificates.py check_tasks and check_renewal), not here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

RenewalKind = Literal["percent", "days_before", "days_after"]
RENEWAL_KINDS: tuple[RenewalKind, ...] = ("percent", "days_before", "days_after")
DEFAULT_RENEWAL_PERCENT = 75.0


def _mapping(data: object, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ValueError(f"a stored {what} is not a JSON object: {data!r:.60}")
    return data


def _options(data: Mapping[str, Any], what: str) -> dict[str, Any]:
    return dict(_mapping(data.get("options") or {}, f"{what}'s options"))


@dataclass(frozen=True)
class ChallengeRule:
    """Which challenge type and provider validate the names `pattern` matches ('*': every name)."""

    pattern: str = "*"
    challenge: str = "http-01"
    provider: str | None = None  # None: the challenge type's default provider
    options: dict[str, Any] = field(default_factory=dict)
    credential: str | None = None  # a stored credential's name: its values fill the provider's options at use

    def to_json(self) -> dict[str, Any]:
        # Keys in the order the store's sorted JSON gives them back, so faces show the same text either way;
        # "credential" only when there is one, so rules without keep the JSON they always had.
        data: dict[str, Any] = {"challenge": self.challenge}
        if self.credential:
            data["credential"] = self.credential
        data.update({"options": dict(self.options), "pattern": self.pattern, "provider": self.provider})
        return data

    @classmethod
    def from_json(cls, data: object) -> ChallengeRule:
        stored = _mapping(data, "challenge rule")
        return cls(pattern=str(stored.get("pattern", "*")), challenge=str(stored.get("challenge") or "http-01"),
                   provider=stored.get("provider") or None, options=_options(stored, "challenge rule"),
                   credential=stored.get("credential") or None)


@dataclass(frozen=True)
class Credential:
    """A provider's parameters stored once under a name (secrets sealed in the database): rules refer to it."""

    name: str
    provider: str
    challenge: str = "dns-01"
    values: dict[str, Any] = field(default_factory=dict)  # not secret
    secrets: dict[str, Any] = field(default_factory=dict)  # secret: never shown, logged or on a command line

    def options(self) -> dict[str, Any]:
        """Every value, as the provider's options."""
        return {**self.values, **self.secrets}


@dataclass(frozen=True)
class TaskConfig:
    """One deployment task: a task type's id, its options, and the title people see."""

    type: str
    options: dict[str, Any] = field(default_factory=dict)
    title: str = ""  # empty: the task type's own title
    credential: str | None = None  # a stored credential (for this task type) whose values fill the options

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"options": dict(self.options), "title": self.title, "type": self.type}
        if self.credential:  # rows keep the shape older versions wrote unless it is used
            data["credential"] = self.credential
        return data

    @classmethod
    def from_json(cls, data: object) -> TaskConfig:
        stored = _mapping(data, "deployment task")
        return cls(type=str(stored.get("type") or ""), options=_options(stored, "deployment task"),
                   title=str(stored.get("title") or ""), credential=str(stored.get("credential") or "") or None)


# update: only sites that already listen with TLS get the certificate; add-or-update: a covered
# HTTP-only site also gets a TLS listener (Certify's "AddOrUpdate").
DEPLOYMENT_BINDINGS = ("update", "add-or-update")


@dataclass(frozen=True)
class DeploymentSettings:
    """Where a new certificate goes: the mode (see lifecycle DEPLOYMENT_MODES), its site, and the tasks."""

    mode: str = "files"
    site: str | None = None  # the site id, for the "single" mode only
    tasks: tuple[TaskConfig, ...] = ()
    binding: str = "update"  # one of DEPLOYMENT_BINDINGS: may an HTTP-only site be given TLS?

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"mode": self.mode}
        if self.binding != "update":  # rows keep the shape older versions wrote unless it is used
            data["binding"] = self.binding
        if self.site is not None:
            data["site"] = self.site
        data["tasks"] = [task.to_json() for task in self.tasks]
        return data

    @classmethod
    def from_json(cls, data: object) -> DeploymentSettings:
        stored = _mapping(data or {}, "deployment")
        tasks = stored.get("tasks") or []
        if not isinstance(tasks, Sequence) or isinstance(tasks, str):
            raise ValueError(f"the stored deployment tasks are not a list: {tasks!r:.60}")
        return cls(mode=str(stored.get("mode") or "files"), site=stored.get("site") or None,
                   tasks=tuple(TaskConfig.from_json(task) for task in tasks),
                   binding=str(stored.get("binding") or "update"))


@dataclass(frozen=True)
class RenewalPolicy:
    """When renewal is due: at `value` percent of the lifetime, `value` days before expiry, or after issuance."""

    kind: RenewalKind = "percent"
    value: float = DEFAULT_RENEWAL_PERCENT  # kept as given (an int stays an int), so the JSON reads as stored

    def to_json(self) -> dict[str, Any]:
        return {self.kind: self.value}

    @classmethod
    def from_json(cls, data: object) -> RenewalPolicy:
        """{"percent": 75}, {"days_before": 30} or {"days_after": 60}; empty (older rows): 75 percent.
        Several keys (never written by this version): days before wins, then days after, as before."""
        stored = _mapping(data or {}, "renewal policy")
        for kind in ("days_before", "days_after", "percent"):
            if stored.get(kind) is not None:
                value = stored[kind]
                return cls(kind, value if isinstance(value, int | float) else float(value))
        return cls()
