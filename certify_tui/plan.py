"""The Preview: what a request will do, as plain data.

The TUI renders it, the CLI prints it, the API returns it as JSON, and `request` executes it: its
`steps` are what a request does, in order, and the events of a request name them. What running it needs
beyond what it shows (the rules' unmasked options, the sites and tasks themselves) rides along in
`execution`, which never reaches the JSON or the text.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from certify_tui.errors import OperationError
from certify_tui.identifiers import to_unicode
from certify_tui.model import ChallengeRule

if TYPE_CHECKING:
    from certify_tui.deploy import DeploymentTargets


@dataclass(frozen=True)
class ValidationStep:
    identifier: str
    challenge: str
    provider: str
    how: str  # one line: "built-in listener on 0.0.0.0:80"
    rule: str  # the matching rule's pattern
    options: dict[str, Any]  # secrets masked


@dataclass(frozen=True)
class FileStep:
    role: str  # cert, chain, fullchain, privkey
    path: str
    mode: str


@dataclass(frozen=True)
class PlanStep:
    id: str  # "order", "validate:<identifier>", "store", "deploy" or "deploy:<site id>", "task:<number>"
    kind: str  # order, validate, store, deploy, task
    title: str  # one line for a person; secrets masked
    subject: str | None = None  # what it concerns, in a few words: the identifier, the site's names, the task


@dataclass(frozen=True)
class Execution:
    """What running a plan needs beyond what it shows. Never shown: rule options are unmasked here."""

    account_id: int
    rules: tuple[ChallengeRule, ...]  # the certificate's challenge rules, in order
    rule_of: dict[str, int]  # identifier -> index in `rules` (one provider per rule answers together)
    deployment: DeploymentTargets  # the mode, the sites, the tasks
    # The executable content as compared between a preview and its request (secrets masked: a changed
    # secret is not something a person could see in a preview).
    content: dict[str, Any]


class PlanChanged(OperationError):
    """The certificate changed between the preview a face showed and the request."""


@dataclass(frozen=True)
class Plan:
    certificate: str
    account: str
    ca: str
    directory_url: str
    identifiers: list[str]
    primary: str
    key_type: str
    reuse_key: bool
    preferred_chain: str | None
    profile: str | None
    validations: list[ValidationStep]
    files: list[FileStep]
    deployment_mode: str
    deployment: list[str]
    tasks: list[str]
    renewal: str
    next_renewal: datetime | None
    steps: list[PlanStep]
    execution: Execution = field(repr=False, compare=False)
    warnings: list[str] = field(default_factory=list)

    @property
    def fingerprint(self) -> str:
        """Equal for two plans that would do the same thing (names, rules, key, account, sites, tasks)."""
        canonical = json.dumps(self.execution.content, sort_keys=True, default=str, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def changes_from(self, other: Plan) -> list[str]:
        """What differs between this plan and `other` ("names", "rules", ...), for a person."""
        mine, theirs = self.execution.content, other.execution.content
        return [key for key in sorted(set(mine) | set(theirs)) if mine.get(key) != theirs.get(key)]

    def check_unchanged(self, previewed: Plan) -> None:
        """PlanChanged unless `previewed` (the plan a face showed) does what this one does."""
        if previewed.fingerprint != self.fingerprint:
            changed = ", ".join(self.changes_from(previewed)) or "its settings"
            raise PlanChanged(f"'{self.certificate}' changed since it was previewed ({changed}): "
                              "nothing was ordered; preview it again, then request.")

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: _plain(getattr(self, f.name)) for f in fields(self) if f.name != "execution"}
        data["next_renewal"] = self.next_renewal.isoformat() if self.next_renewal else None
        data["fingerprint"] = self.fingerprint
        return data

    def render_text(self) -> str:
        def name(n: str) -> str:
            shown = to_unicode(n)
            return n if shown == n else f"{shown} ({n})"

        lines = [
            f"Certificate {self.certificate}",
            f"  CA:          {self.ca} ({self.directory_url})",
            f"  Account:     {self.account}",
            f"  Key:         {self.key_type}" + (" (reusing the current key)" if self.reuse_key else " (new key)"),
        ]
        if self.profile:
            lines.append(f"  Profile:     {self.profile}")
        if self.preferred_chain:
            lines.append(f"  Chain:       prefer '{self.preferred_chain}'")
        lines.append("Identifiers and validation:")
        for step in self.validations:
            primary = " (primary)" if step.identifier == self.primary else ""
            lines.append(f"  {name(step.identifier)}{primary}")
            lines.append(f"      {step.challenge} via {step.provider}: {step.how}  [rule {step.rule}]")
        lines.append("Files written:")
        lines += [f"  {f.role:<10}{f.path}  ({f.mode})" for f in self.files]
        lines.append(f"Deployment: {self.deployment_mode}")
        lines += [f"  - {d}" for d in self.deployment]
        lines.append("Tasks:" + ("" if self.tasks else " none"))
        lines += [f"  - {t}" for t in self.tasks]
        when = self.next_renewal.strftime("%Y-%m-%d %H:%M UTC") if self.next_renewal else "after issuance"
        lines.append(f"Renewal: {self.renewal}; next: {when}")
        lines.append("Steps:")
        lines += [f"  {number}. {step.title}" for number, step in enumerate(self.steps, 1)]
        lines += [f"Warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return asdict(value) if is_dataclass(value) and not isinstance(value, type) else value
