"""Challenge providers, found by (challenge type, provider id).

Each provider module exposes `providers() -> list[type[ChallengeProvider]]`; adding a provider
is adding a module to PROVIDER_MODULES (or a provider to an existing module's list), with no UI code.
"""

from __future__ import annotations

import importlib
from functools import cache

from certify_tui.challenges.base import ChallengeProvider, ChallengeTask
from certify_tui.errors import UsageError

CHALLENGE_TYPES = ("http-01", "dns-01", "tls-alpn-01")

PROVIDER_MODULES = (
    "certify_tui.challenges.http_standalone",
    "certify_tui.challenges.http_webroot",
    "certify_tui.challenges.tls_alpn",
    "certify_tui.challenges.dns.rfc2136",
    "certify_tui.challenges.dns.script",
    "certify_tui.challenges.dns.manual",
    "certify_tui.challenges.dns.lexicon_adapter",
)

DEFAULT_PROVIDER = {"http-01": "standalone", "tls-alpn-01": "standalone"}


@cache
def all_providers() -> dict[tuple[str, str], type[ChallengeProvider]]:
    found: dict[tuple[str, str], type[ChallengeProvider]] = {}
    for name in PROVIDER_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # a provider module not written yet, or removed: skip it
                continue
            raise
        for cls in module.providers():
            found.setdefault((cls.challenge_type, cls.id), cls)
    return found


def get_provider(challenge: str, provider: str | None) -> type[ChallengeProvider]:
    if challenge not in CHALLENGE_TYPES:
        raise UsageError(f"Unknown challenge type '{challenge}'; choose one of: {', '.join(CHALLENGE_TYPES)}.")
    provider = provider or DEFAULT_PROVIDER.get(challenge)
    registry = all_providers()
    cls = registry.get((challenge, provider or ""))
    if cls is None:
        known = sorted(p for (c, p) in registry if c == challenge)
        if not known:
            raise UsageError(f"No provider for {challenge} is available yet.")
        if provider is None:
            raise UsageError(f"Choose a {challenge} provider with --provider: {', '.join(known[:20])}"
                             + (f" and {len(known) - 20} more" if len(known) > 20 else "") + ".")
        listed = ", ".join(known) if len(known) <= 20 else ", ".join(known[:20]) + f", ... ({len(known)} in all)"
        raise UsageError(f"Unknown {challenge} provider '{provider}'; choose one of: {listed}.")
    return cls


def providers_for(challenge: str) -> list[type[ChallengeProvider]]:
    return [cls for (c, _), cls in sorted(all_providers().items()) if c == challenge]


__all__ = ["CHALLENGE_TYPES", "ChallengeProvider", "ChallengeTask", "all_providers", "get_provider",
           "providers_for"]
