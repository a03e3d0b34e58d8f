"""A ClientNetwork that retries badNonce more than once and remembers the last response.

The library retries a rejected nonce once; at Pebble's default 5% rejection rate that loses
about one renewal in twenty-five. A bounded loop makes that practically never happen.
"""

from __future__ import annotations

import logging
from typing import Any

import josepy as jose
import requests
from acme import client as acme_client
from acme import messages

from certify_tui import __version__

log = logging.getLogger(__name__)

BAD_NONCE_RETRIES = 10
USER_AGENT = f"certify-tui/{__version__}"


class RetryingNetwork(acme_client.ClientNetwork):
    """Not thread-safe (one requests.Session and nonce pool): use one per thread."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("user_agent", USER_AGENT)
        super().__init__(*args, **kwargs)
        self.last_response: requests.Response | None = None
        self.bad_nonce_retries = 0  # counted for tests and diagnostics

    def _send_request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        # The library's version formats every header and body for a debug log line even when debug
        # logging is off; at tens of requests per second that is measurable CPU.
        kwargs["verify"] = self.verify_ssl
        headers = kwargs.setdefault("headers", {})
        headers.setdefault("User-Agent", self.user_agent)
        kwargs.setdefault("timeout", self._default_timeout)
        response = self.session.request(method, url, *args, **kwargs)
        if "Accept" not in headers:
            response.encoding = "utf-8"  # ACME JSON is UTF-8; spares requests' charset detection
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s -> HTTP %d", method, url, response.status_code)
        self.last_response = response  # problem documents lose the headers (Retry-After) otherwise
        return response

    def post(self, *args: Any, **kwargs: Any) -> requests.Response:
        for attempt in range(BAD_NONCE_RETRIES + 1):
            try:
                return self._post_once(*args, **dict(kwargs))
            except messages.Error as error:
                if error.code != "badNonce" or attempt == BAD_NONCE_RETRIES:
                    raise
                self.bad_nonce_retries += 1
                log.debug("badNonce, retrying (%d)", attempt + 1)
        raise AssertionError("unreachable")


def jwk_and_alg(key: Any) -> tuple[jose.JWK, jose.JWASignature]:
    """The JWK and signature algorithm for an account key (the library defaults to RS256)."""
    from cryptography.hazmat.primitives.asymmetric import ec

    if isinstance(key, ec.EllipticCurvePrivateKey):
        alg = {"secp256r1": jose.ES256, "secp384r1": jose.ES384, "secp521r1": jose.ES512}[key.curve.name]
        return jose.JWKEC(key=key), alg
    return jose.JWKRSA(key=key), jose.RS256
