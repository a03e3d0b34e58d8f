"""Challenge rules: which challenge type and provider validates which identifiers.

A rule is a plain dict so it stores as JSON: {"pattern", "challenge", "provider", "options"}.
Rules are tried in order; the first whose pattern matches wins; "*" is the default rule.
"""

from __future__ import annotations

from typing import Any

from certify_tui.challenges import get_provider
from certify_tui.challenges.base import ChallengeProvider
from certify_tui.errors import UsageError
from certify_tui.identifiers import matches_rule

Rule = dict[str, Any]


def make_rule(challenge: str = "http-01", provider: str | None = None, options: dict[str, Any] | None = None,
              pattern: str = "*", *, given: bool = True) -> Rule:
    """A validated rule; options are checked against the provider's declared parameters, and, when
    `given` now by a person rather than loaded from the store, as input (addresses, paths)."""
    cls = get_provider(challenge, provider)
    if pattern.strip() != "*":
        matches_rule(pattern, "example.com")  # raises UsageError for a malformed pattern
    return {"pattern": pattern.strip(), "challenge": challenge, "provider": cls.id,
            "options": (cls.validate_input if given else cls.validate_options)(options or {})}


def rule_for(rules: list[Rule], identifier: str) -> Rule:
    for rule in rules:
        if matches_rule(rule["pattern"], identifier):
            return rule
    raise UsageError(f"No challenge rule matches '{identifier}'; add a rule for it or a default rule ('*').")


def provider_from(rule: Rule) -> ChallengeProvider:
    return get_provider(rule["challenge"], rule["provider"])(rule.get("options") or {})


def redacted(rule: Rule) -> Rule:
    cls = get_provider(rule["challenge"], rule["provider"])
    return {**rule, "options": cls.redact(rule.get("options") or {})}
