"""Challenge types the `acme` library no longer knows, registered before any authorization is decoded."""

from __future__ import annotations

from typing import Any

import josepy as jose
from acme import challenges as acme_challenges

ALPN_CHALLENGE = "tls-alpn-01"


def register_acme_challenge() -> None:
    """Teach the acme library the tls-alpn-01 challenge again (acme 5 dropped its TLS-ALPN classes).

    Must run before the CA's authorizations are decoded, or they hold an unrecognised challenge."""
    if ALPN_CHALLENGE in acme_challenges.Challenge.TYPES:
        return

    class TLSALPN01Response(acme_challenges.KeyAuthorizationChallengeResponse):
        typ = ALPN_CHALLENGE

    class TLSALPN01(acme_challenges.KeyAuthorizationChallenge):
        response_cls = TLSALPN01Response
        typ = ALPN_CHALLENGE

        def validation(self, account_key: jose.JWK, **kwargs: Any) -> str:
            return self.key_authorization(account_key)

    acme_challenges.ChallengeResponse.register(TLSALPN01Response)
    acme_challenges.Challenge.register(TLSALPN01)


register_acme_challenge()
