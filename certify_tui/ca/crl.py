"""Look a certificate up in its CA's CRL (RFC 5280), fetched once per run for every certificate that names it.

A CRL is believed only when the issuer in our stored chain signed it. A failed fetch is remembered for the run
too: an unreachable server is asked once, not once per certificate.
"""

from __future__ import annotations

from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

from certify_tui.ca.revocation_http import CRL_MAX_BYTES, FETCH_TIMEOUT, RevocationAnswer, fetch, http_urls
from certify_tui.errors import OperationError

_SIGNING_KEYS = (rsa.RSAPublicKey, ec.EllipticCurvePublicKey, ed25519.Ed25519PublicKey, ed448.Ed448PublicKey,
                 dsa.DSAPublicKey)


def crl_urls(cert: x509.Certificate) -> list[str]:
    """The http(s) CRL distribution points of the certificate (full names only)."""
    try:
        points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        return []
    return [url for point in points if point.full_name for url in http_urls(point.full_name)]


class CRLCache:
    """The CRLs of one run, by URL: each fetched and parsed at most once."""

    def __init__(self) -> None:
        self._lists: dict[str, x509.CertificateRevocationList | OperationError] = {}
        self.fetches = 0  # how many downloads this run made (tests and the run's summary read it)

    def lookup(self, url: str, leaf: x509.Certificate, issuer: x509.Certificate, now: datetime, *,
               timeout: float = FETCH_TIMEOUT) -> RevocationAnswer:
        """Whether `leaf` is on the CRL at `url`; OperationError (one line) when the CRL cannot be had or
        believed. A CRL past its next update still proves a revocation, but not its absence."""
        crl = self._get(url, timeout)
        if not _signed_by(crl, issuer):
            raise OperationError(f"The CRL at {url} is not signed by the certificate's issuer.")
        entry = crl.get_revoked_certificate_by_serial_number(leaf.serial_number)
        if entry is not None:
            return RevocationAnswer("revoked", "crl", url, reason=_reason(entry),
                                    revoked_at=entry.revocation_date_utc)
        if crl.next_update_utc is not None and crl.next_update_utc < now:
            raise OperationError(f"The CRL at {url} is out of date (next update was "
                                 f"{crl.next_update_utc:%Y-%m-%d %H:%M} UTC).")
        return RevocationAnswer("good", "crl", url)

    def _get(self, url: str, timeout: float) -> x509.CertificateRevocationList:
        if url not in self._lists:
            self.fetches += 1
            try:
                self._lists[url] = _parse(url, fetch(url, max_bytes=CRL_MAX_BYTES, timeout=timeout))
            except OperationError as exc:
                self._lists[url] = exc
        found = self._lists[url]
        if isinstance(found, OperationError):
            raise OperationError(found.message, detail=found.detail)  # a fresh one for each certificate
        return found


def _parse(url: str, data: bytes) -> x509.CertificateRevocationList:
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except ValueError as exc:
        raise OperationError(f"{url} sent something that is not a CRL.", detail=str(exc)) from exc


def _signed_by(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> bool:
    key = issuer.public_key()
    if crl.issuer != issuer.subject or not isinstance(key, _SIGNING_KEYS):
        return False
    return crl.is_signature_valid(key)


def _reason(entry: x509.RevokedCertificate) -> str:
    try:
        return entry.extensions.get_extension_for_class(x509.CRLReason).value.reason.value
    except x509.ExtensionNotFound:
        return "unspecified"

