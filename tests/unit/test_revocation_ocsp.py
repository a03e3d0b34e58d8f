"""OCSP's issuerKeyHash, taken over the issuer key's BIT STRING, matches what cryptography puts in a request for
every key type and size (RSA keys need DER's long length form): an answer about our certificate is recognised."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509 import ocsp as x509_ocsp
from cryptography.x509.oid import NameOID

from certify_tui.ca.ocsp import _key_bits

KEYS = {
    "rsa2048": lambda: rsa.generate_private_key(65537, 2048),
    "rsa4096": lambda: rsa.generate_private_key(65537, 4096),
    "p256": lambda: ec.generate_private_key(ec.SECP256R1()),
    "p384": lambda: ec.generate_private_key(ec.SECP384R1()),
    "ed25519": ed25519.Ed25519PrivateKey.generate,
}


@pytest.mark.parametrize("kind", sorted(KEYS))
def test_revocation_ocsp_issuer_key_hash_matches_the_request(kind: str) -> None:
    key = KEYS[kind]()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{kind} issuer")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(7).not_valid_before(now).not_valid_after(now + timedelta(days=1))
            .sign(key, None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()))
    request = x509_ocsp.OCSPRequestBuilder().add_certificate(cert, cert, hashes.SHA1()).build()
    digest = hashes.Hash(hashes.SHA1())
    digest.update(_key_bits(cert))
    assert digest.finalize() == request.issuer_key_hash
