"""Challenge providers, found by (challenge type, provider id)."""

from __future__ import annotations

from certify_tui.challenges.base import ChallengeProvider, ChallengeTask
from certify_tui.challenges.http_standalone import StandaloneHttpProvider
from certify_tui.challenges.http_webroot import WebrootHttpProvider
from certify_tui.errors import UsageError

CHALLENGE_TYPES = ("http-01", "dns-01", "tls-alpn-01")

PROVIDERS: dict[tuple[str, str], type[ChallengeProvider]] = {
    (cls.challenge_type, cls.id): cls for cls in (StandaloneHttpProvider, WebrootHttpProvider)
}

DEFAULT_PROVIDER = {"http-01": "standalone"}


def get_provider(challenge: str, provider: str | None) -> type[ChallengeProvider]:
    if challenge not in CHALLENGE_TYPES:
        raise UsageError(f"Unknown challenge type '{challenge}'; choose one of: {', '.join(CHALLENGE_TYPES)}.")
    provider = provider or DEFAULT_PROVIDER.get(challenge)
    cls = PROVIDERS.get((challenge, provider or ""))
    if cls is None:
        known = [p for (c, p) in PROVIDERS if c == challenge]
        if not known:
            raise UsageError(f"No provider for {challenge} is available yet.")
        raise UsageError(f"Unknown {challenge} provider '{provider}'; choose one of: {', '.join(known)}.")
    return cls


def providers_for(challenge: str) -> list[type[ChallengeProvider]]:
    return [cls for (c, _), cls in PROVIDERS.items() if c == challenge]


__all__ = ["CHALLENGE_TYPES", "ChallengeProvider", "ChallengeTask", "PROVIDERS", "get_provider", "providers_for"]
