"""Challenge rules: which challenge type and provider validates which identifiers.

Rules are tried in order; the first whose pattern matches wins; "*" is the default rule.
A rule is a `ChallengeRule` (certify_tui.model); `check_rule` is the one place one is validated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from certify_tui.challenges import get_provider
from certify_tui.challenges.base import ChallengeProvider
from certify_tui.errors import UsageError
from certify_tui.identifiers import matches_rule
from certify_tui.model import ChallengeRule


def check_rule(rule: ChallengeRule, *, given: bool = True) -> ChallengeRule:
    """The rule validated and normalised: the provider resolved to its id, options checked against its
    declared parameters and, when `given` now by a person rather than loaded from the store, as input
    (addresses, paths)."""
    cls = get_provider(rule.challenge, rule.provider)
    pattern = rule.pattern.strip()
    if pattern != "*":
        matches_rule(pattern, "example.com")  # raises UsageError for a malformed pattern
    options = (cls.validate_input if given else cls.validate_options)(rule.options or {})
    return ChallengeRule(pattern=pattern, challenge=rule.challenge, provider=cls.id, options=options)


def make_rule(challenge: str = "http-01", provider: str | None = None, options: dict[str, Any] | None = None,
              pattern: str = "*", *, given: bool = True) -> ChallengeRule:
    """A validated rule from its parts (see check_rule)."""
    return check_rule(ChallengeRule(pattern, challenge, provider, dict(options or {})), given=given)


def rule_for(rules: Sequence[ChallengeRule], identifier: str) -> ChallengeRule:
    for rule in rules:
        if matches_rule(rule.pattern, identifier):
            return rule
    raise UsageError(f"No challenge rule matches '{identifier}'; add a rule for it or a default rule ('*').",
                     field="rules")


def provider_from(rule: ChallengeRule) -> ChallengeProvider:
    return get_provider(rule.challenge, rule.provider)(rule.options or {})


def redacted(rule: ChallengeRule) -> ChallengeRule:
    """The rule with its secret options masked, to show or log."""
    cls = get_provider(rule.challenge, rule.provider)
    return replace(rule, options=cls.redact(rule.options or {}))
