"""Ask a certificate's OCSP responder (RFC 6960) whether it is revoked, and believe only a signed answer.

The answer must be signed by the issuer itself or by a responder certificate the issuer signed for OCSP
(id-kp-OCSPSigning), must be about this serial and issuer, and must be current.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from certify_tui.ca.revocation_http import (
    FETCH_TIMEOUT,
    OCSP_MAX_BYTES,
    RevocationAnswer,
    Status,
    fetch,
    http_urls,
)
from certify_tui.errors import OperationError

CLOCK_SKEW = timedelta(minutes=5)
_STATUS: dict[ocsp.OCSPCertStatus, Status] = {
    ocsp.OCSPCertStatus.GOOD: "good", ocsp.OCSPCertStatus.REVOKED: "revoked", ocsp.OCSPCertStatus.UNKNOWN: "unknown"}


def ocsp_urls(cert: x509.Certificate) -> list[str]:
    """The OCSP responders named in the certificate's Authority Information Access."""
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return []
    return http_urls(d.access_location for d in aia if d.access_method == AuthorityInformationAccessOID.OCSP)


def query(url: str, leaf: x509.Certificate, issuer: x509.Certificate, now: datetime, *,
          timeout: float = FETCH_TIMEOUT) -> RevocationAnswer:
    """POST one request for `leaf` to `url`; the verified answer, or OperationError (one line) saying why
    there is none (unreachable, refused, unsigned or wrongly signed, stale)."""
    request = ocsp.OCSPRequestBuilder().add_certificate(leaf, issuer, hashes.SHA1()).build()
    der = fetch(url, max_bytes=OCSP_MAX_BYTES, body=request.public_bytes(serialization.Encoding.DER),
                content_type="application/ocsp-request", timeout=timeout)
    try:
        response = ocsp.load_der_ocsp_response(der)
    except ValueError as exc:
        raise OperationError(f"{url} sent something that is not an OCSP response.", detail=str(exc)) from exc
    if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise OperationError(f"{url} refused the OCSP request ({response.response_status.name.lower()}).")
    _check_signature(url, response, issuer)
    single = _single_for(url, response, leaf, issuer)
    if single.this_update_utc > now + CLOCK_SKEW:
        raise OperationError(f"{url} sent an OCSP answer dated in the future ({single.this_update_utc:%Y-%m-%d %H:%M}"
                             f" UTC); check this machine's clock.")
    if single.next_update_utc is not None and single.next_update_utc < now - CLOCK_SKEW:
        raise OperationError(f"{url} sent a stale OCSP answer (valid until {single.next_update_utc:%Y-%m-%d %H:%M} "
                             f"UTC).")
    status = _STATUS[single.certificate_status]
    if status != "revoked":
        return RevocationAnswer(status, "ocsp", url)
    reason = single.revocation_reason.value if single.revocation_reason is not None else "unspecified"
    return RevocationAnswer("revoked", "ocsp", url, reason=reason, revoked_at=single.revocation_time_utc)


def _single_for(url: str, response: ocsp.OCSPResponse, leaf: x509.Certificate,
                issuer: x509.Certificate) -> ocsp.OCSPSingleResponse:
    for single in response.responses:
        if single.serial_number != leaf.serial_number:
            continue
        digest = hashes.Hash(single.hash_algorithm)
        digest.update(_key_bits(issuer))
        if digest.finalize() == single.issuer_key_hash:
            return single
    raise OperationError(f"{url} answered about another certificate than the one asked for.")


def _key_bits(cert: x509.Certificate) -> bytes:
    """The subjectPublicKey BIT STRING's contents, which OCSP's issuerKeyHash is taken over."""
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return _der_bit_string_contents(spki)


def _der_bit_string_contents(spki: bytes) -> bytes:
    """SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT STRING }."""
    def header(data: bytes, at: int) -> tuple[int, int]:  # (content start, content length)
        length = data[at + 1]
        if length < 0x80:
            return at + 2, length
        count = length & 0x7F
        return at + 2 + count, int.from_bytes(data[at + 2:at + 2 + count], "big")

    start, _ = header(spki, 0)  # into the outer SEQUENCE
    algo_start, algo_len = header(spki, start)
    bits_start, bits_len = header(spki, algo_start + algo_len)
    return spki[bits_start + 1:bits_start + bits_len]  # skip the unused-bits byte


def _check_signature(url: str, response: ocsp.OCSPResponse, issuer: x509.Certificate) -> None:
    """Signed by the issuer, or by a certificate in the response that the issuer made an OCSP signer."""
    hash_algorithm = response.signature_hash_algorithm
    candidates = [issuer, *(c for c in response.certificates if _delegated_by(c, issuer))]
    for signer in candidates:
        try:
            _verify(signer.public_key(), response.signature, response.tbs_response_bytes, hash_algorithm)
            return
        except (InvalidSignature, TypeError, ValueError):
            continue
    raise OperationError(f"{url} sent an OCSP answer not signed by the certificate's issuer or its responder.")


def _delegated_by(responder: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        responder.verify_directly_issued_by(issuer)
        usage = responder.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
        return False
    return ExtendedKeyUsageOID.OCSP_SIGNING in usage


def _verify(key: object, signature: bytes, data: bytes, hash_algorithm: hashes.HashAlgorithm | None) -> None:
    if isinstance(key, rsa.RSAPublicKey) and hash_algorithm is not None:
        key.verify(signature, data, padding.PKCS1v15(), hash_algorithm)
    elif isinstance(key, ec.EllipticCurvePublicKey) and hash_algorithm is not None:
        key.verify(signature, data, ec.ECDSA(hash_algorithm))
    elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        key.verify(signature, data)
    else:
        raise TypeError("unsupported OCSP signature")
