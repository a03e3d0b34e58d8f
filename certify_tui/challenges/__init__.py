"""Challenge providers, found by (challenge type, provider id).

Providers are plug-ins declared as entry points in the group `certify_tui.challenge_providers`: ours in
pyproject.toml, others by any installed package (see plugins/registry.py). Adding one needs no UI code.
"""

from __future__ import annotations

from certify_tui.challenges.base import ChallengeProvider, ChallengeTask
from certify_tui.errors import UsageError
from certify_tui.plugins.registry import CHALLENGE_PROVIDERS, PluginGroup, SkippedPlugin
from certify_tui.store.sealed import register_secret_options

CHALLENGE_TYPES = ("http-01", "dns-01", "tls-alpn-01")

DEFAULT_PROVIDER = {"http-01": "standalone", "tls-alpn-01": "standalone"}


def _challenge_type_problem(cls: type[ChallengeProvider]) -> str | None:
    challenge = getattr(cls, "challenge_type", None)
    if challenge not in CHALLENGE_TYPES:
        return f"{cls.id} has challenge type {challenge!r}, not one of {', '.join(CHALLENGE_TYPES)}"
    return None


PROVIDERS: PluginGroup[tuple[str, str], ChallengeProvider] = PluginGroup(
    CHALLENGE_PROVIDERS, ChallengeProvider, key=lambda cls: (cls.challenge_type, cls.id),
    check=_challenge_type_problem)


def all_providers() -> dict[tuple[str, str], type[ChallengeProvider]]:
    """Every usable provider by (challenge type, id), loaded on first use."""
    return PROVIDERS.classes()


def skipped_providers() -> list[SkippedPlugin]:
    """Provider plug-ins that could not be loaded, and why."""
    return PROVIDERS.skipped()


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
    """Our own providers first (they need no third-party account), then other packages' plug-ins, then the
    DNS-API ones, each by name."""
    found = [cls for (c, _), cls in all_providers().items() if c == challenge]
    return sorted(found, key=lambda cls: (cls.id.startswith("lexicon-"), not PROVIDERS.is_own(cls), cls.id))


def _secret_options(kind: str, provider_id: str) -> frozenset[str]:
    """The store seals these options of a rule (store/sealed.py)."""
    if kind != "challenge":
        return frozenset()
    return frozenset(p.key for (_, pid), cls in all_providers().items() if pid == provider_id
                     for p in cls.params if p.secret)


register_secret_options(_secret_options)


__all__ = ["CHALLENGE_TYPES", "PROVIDERS", "ChallengeProvider", "ChallengeTask", "all_providers", "get_provider",
           "providers_for", "skipped_providers"]
