"""The Preview: what a request will do, as plain data.

The TUI renders it, the CLI prints it, the API returns it as JSON, and `request` executes it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from certify_tui.identifiers import to_unicode


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
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["next_renewal"] = self.next_renewal.isoformat() if self.next_renewal else None
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
        lines += [f"Warning: {w}" for w in self.warnings]
        return "\n".join(lines)
