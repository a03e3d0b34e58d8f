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
from certify_tui.store.credentials import get_credential
from certify_tui.store.sealed import require_open


def check_rule(rule: ChallengeRule, *, given: bool = True) -> ChallengeRule:
    """The rule validated and normalised: the provider resolved to its id, options checked against its
    declared parameters and, when `given` now by a person rather than loaded from the store, as input
    (addresses, paths)."""
    credential = get_credential(rule.credential) if rule.credential else None
    if credential is not None and rule.challenge == credential.challenge and rule.provider is None:
        rule = replace(rule, provider=credential.provider)  # the credential says which provider
    cls = get_provider(rule.challenge, rule.provider)
    pattern = rule.pattern.strip()
    if pattern != "*":
        matches_rule(pattern, "example.com")  # raises UsageError for a malformed pattern
    own = dict(rule.options or {})
    if credential is None:
        options = (cls.validate_input if given else cls.validate_options)(own)
        return ChallengeRule(pattern=pattern, challenge=rule.challenge, provider=cls.id, options=options)
    if (credential.challenge, credential.provider) != (rule.challenge, cls.id):
        raise UsageError(f"The credential '{credential.name}' is for {credential.challenge} {credential.provider}, "
                         f"not {rule.challenge} {cls.id}: choose the challenge {credential.challenge} "
                         f"(--challenge {credential.challenge}) to use it.", field="credential")
    # Checked together, stored apart: the rule keeps only its own options, so rotating the credential reaches it.
    (cls.validate_input if given else cls.validate_options)({**own, **credential.options()})
    options = {key: value for key, value in cls.validate_options({**credential.options(), **own}).items()
               if key in own}
    return ChallengeRule(pattern=pattern, challenge=rule.challenge, provider=cls.id, options=options,
                         credential=credential.name)


def make_rule(challenge: str = "http-01", provider: str | None = None, options: dict[str, Any] | None = None,
              pattern: str = "*", *, given: bool = True, credential: str | None = None) -> ChallengeRule:
    """A validated rule from its parts (see check_rule)."""
    return check_rule(ChallengeRule(pattern, challenge, provider, dict(options or {}), credential or None),
                      given=given)


def rule_for(rules: Sequence[ChallengeRule], identifier: str) -> ChallengeRule:
    for rule in rules:
        if matches_rule(rule.pattern, identifier):
            return rule
    raise UsageError(f"No challenge rule matches '{identifier}'; add a rule for it or a default rule ('*').",
                     field="rules")


def rule_options(rule: ChallengeRule) -> dict[str, Any]:
    """The options the provider runs with: the rule's own over its credential's current values, every secret
    opened (or the one error naming the missing key)."""
    options = dict(rule.options or {})
    if rule.credential:
        options = {**get_credential(rule.credential).options(), **options}
    return require_open(options)


def provider_from(rule: ChallengeRule) -> ChallengeProvider:
    return get_provider(rule.challenge, rule.provider)(rule_options(rule))


def redacted(rule: ChallengeRule) -> ChallengeRule:
    """The rule with its secret options masked, to show or log."""
    cls = get_provider(rule.challenge, rule.provider)
    return replace(rule, options=cls.redact(rule.options or {}))
