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
        known = [p.id for p in providers_for(challenge)]
        if not known:
            raise UsageError(f"No provider for {challenge} is available yet.")
        what = "Choose a" if provider is None else f"Unknown {challenge} provider '{provider}'."
        raise UsageError(f"{what} {challenge} provider with --provider: {_summary(known)}." if provider is None
                         else f"{what} Choose one of: {_summary(known)}.")
    return cls


def _summary(ids: list[str]) -> str:
    """Own providers by name; the many DNS-API ones counted, with a few examples."""
    own = [i for i in ids if not i.startswith("lexicon-")]
    api = [i for i in ids if i.startswith("lexicon-")]
    text = ", ".join(own)
    if api:
        examples = ", ".join(i for i in ("lexicon-cloudflare", "lexicon-route53", "lexicon-ovh") if i in api)
        text += (", or " if own else "") + f"one of {len(api)} DNS-API providers ({examples}, ...; " \
                                            f"`certify-tui providers dns-01` lists them)"
    return text


def providers_for(challenge: str) -> list[type[ChallengeProvider]]:
    """Our own providers first (they need no third-party account), then the DNS-API ones by name."""
    found = [cls for (c, _), cls in all_providers().items() if c == challenge]
    return sorted(found, key=lambda cls: (cls.id.startswith("lexicon-"), cls.id))


__all__ = ["CHALLENGE_TYPES", "ChallengeProvider", "ChallengeTask", "all_providers", "get_provider",
           "providers_for"]
