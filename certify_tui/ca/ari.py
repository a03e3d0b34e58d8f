"""ACME Renewal Information (RFC 9773): ask the CA when to renew, and name what a new order replaces."""

from __future__ import annotations

import base64
import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509

from certify_tui.ca.client import AcmeSession
from certify_tui.errors import CAError
from certify_tui.polling import retry_after_seconds

DEFAULT_RECHECK = timedelta(hours=6)  # RFC 9773 suggests polling about this often without Retry-After
MIN_RECHECK = timedelta(minutes=1)
MAX_RECHECK = timedelta(days=1)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def cert_id(cert_pem: bytes) -> str:
    """The certificate's ARI identifier: base64url(AKI keyIdentifier) '.' base64url(serial DER integer)."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    try:
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    except x509.ExtensionNotFound as exc:
        raise CAError("The certificate has no Authority Key Identifier, so ARI cannot name it.") from exc
    if aki.key_identifier is None:
        raise CAError("The certificate's Authority Key Identifier has no key identifier.")
    serial = cert.serial_number
    # DER INTEGER content: big-endian two's complement, so a high bit needs a leading zero byte.
    serial_bytes = serial.to_bytes((serial.bit_length() + 8) // 8, "big")
    return f"{_b64(aki.key_identifier)}.{_b64(serial_bytes)}"


@dataclass(frozen=True)
class RenewalWindow:
    start: datetime
    end: datetime
    explanation_url: str | None
    recheck_at: datetime  # when to ask again (Retry-After, clamped)

    def pick(self, rng: random.Random | None = None) -> datetime:
        """A uniformly random moment inside the window, as RFC 9773 asks, so clients spread their load."""
        span = max((self.end - self.start).total_seconds(), 0.0)
        return self.start + timedelta(seconds=(rng or random).uniform(0, span))


def supports_ari(session: AcmeSession) -> bool:
    try:
        return bool(session.directory["renewalInfo"])  # Directory has no __contains__
    except KeyError:
        return False


def fetch_window(session: AcmeSession, cert_pem: bytes, now: datetime | None = None) -> RenewalWindow:
    """GET the renewalInfo resource (unauthenticated) for this certificate."""
    now = now or datetime.now(UTC)
    url = f"{session.directory['renewalInfo'].rstrip('/')}/{cert_id(cert_pem)}"
    response = session._call(lambda: session.net.get(url, content_type="application/json"))
    try:
        body = json.loads(response.text)
        window = body["suggestedWindow"]
        start = datetime.fromisoformat(window["start"].replace("Z", "+00:00")).astimezone(UTC)
        end = datetime.fromisoformat(window["end"].replace("Z", "+00:00")).astimezone(UTC)
    except (ValueError, KeyError, TypeError) as exc:
        raise CAError(f"The CA's renewal information is malformed: {exc}") from exc
    if end < start:
        raise CAError("The CA's renewal window ends before it starts.")
    wait = retry_after_seconds(response.headers.get("Retry-After"))
    recheck = timedelta(seconds=wait) if wait is not None else DEFAULT_RECHECK
    recheck = min(max(recheck, MIN_RECHECK), MAX_RECHECK)
    return RenewalWindow(start, end, body.get("explanationURL"), now + recheck)
