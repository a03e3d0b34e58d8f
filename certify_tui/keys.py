"""Private keys, CSRs and certificate facts, through `cryptography`."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from certify_tui.errors import UsageError

KEY_TYPES: dict[str, str] = {
    "ec256": "ECDSA P-256 (fast, widely supported; the default)",
    "ec384": "ECDSA P-384",
    "rsa2048": "RSA 2048-bit (for old clients)",
    "rsa3072": "RSA 3072-bit",
    "rsa4096": "RSA 4096-bit (slow to generate)",
}
DEFAULT_KEY_TYPE = "ec256"

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def check_key_type(key_type: str) -> str:
    key_type = key_type.strip().lower()
    if key_type not in KEY_TYPES:
        raise UsageError(f"Unknown key type '{key_type}'; choose one of: {', '.join(KEY_TYPES)}.")
    return key_type


def generate_key(key_type: str = DEFAULT_KEY_TYPE) -> PrivateKey:
    key_type = check_key_type(key_type)
    if key_type == "ec256":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "ec384":
        return ec.generate_private_key(ec.SECP384R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=int(key_type[3:]))


def key_type_of(key: PrivateKey) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return {"secp256r1": "ec256", "secp384r1": "ec384"}.get(key.curve.name, key.curve.name)
    return f"rsa{key.key_size}"


def key_to_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_key(pem: bytes) -> PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise UsageError("Only ECDSA and RSA private keys are supported.")
    return key


def make_csr(key: PrivateKey, names: Sequence[str]) -> bytes:
    """A CSR for `names`: the first is the common name (if it fits in 64 characters), all are SANs."""
    builder = x509.CertificateSigningRequestBuilder()
    if len(names[0]) <= 64:
        builder = builder.subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
    builder = builder.add_extension(
        x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
    )
    csr = builder.sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM)


def split_pem_chain(pem: bytes | str) -> list[bytes]:
    """Each certificate of a PEM bundle, in order."""
    text = pem.decode() if isinstance(pem, bytes) else pem
    marker = "-----END CERTIFICATE-----"
    blocks = []
    for part in text.split(marker):
        start = part.find("-----BEGIN CERTIFICATE-----")
        if start != -1:
            blocks.append((part[start:] + marker + "\n").encode())
    return blocks


@dataclass(frozen=True)
class CertificateFacts:
    serial: str
    not_before: datetime
    not_after: datetime
    fingerprint_sha256: str
    issuer_cn: str
    names: tuple[str, ...]


def certificate_facts(pem: bytes) -> CertificateFacts:
    cert = x509.load_pem_x509_certificate(pem)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = tuple(san.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        names = ()
    return CertificateFacts(
        serial=format(cert.serial_number, "x"),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        fingerprint_sha256=hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest(),
        issuer_cn=issuer_common_name(cert),
        names=names,
    )


def issuer_common_name(cert: x509.Certificate) -> str:
    attrs = cert.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else cert.issuer.rfc4514_string()


def utcnow() -> datetime:
    return datetime.now(UTC)
