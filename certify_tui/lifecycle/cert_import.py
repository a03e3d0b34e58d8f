"""`cert import`: a certificate issued elsewhere (PEM files or a PKCS#12/PFX) becomes a managed certificate.

Its names come from the certificate, its key type from the key; its files become the current version
(lifecycle.adopt), so it deploys now and is renewed over ACME when due. Every check a person can fix has its
own message: a key that does not belong to the certificate, an unsupported key type, a PFX password, a chain
out of order (put in order here), an expired certificate (imported, flagged, renewed at once)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from certify_tui.certfiles import CertificateFiles
from certify_tui.errors import UsageError
from certify_tui.keys import KEY_TYPES, PrivateKey, key_to_pem, key_type_of
from certify_tui.lifecycle import certificates
from certify_tui.lifecycle.adopt import adopt_version
from certify_tui.lifecycle.certificates import CertificateSpec
from certify_tui.paths import DataDir
from certify_tui.store.models import ManagedCertificate

_SPKI = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


class PasswordNeeded(UsageError):
    """The PFX is protected and no (or a wrong) password was given; a face may ask and try again."""


@dataclass(frozen=True)
class CertificateBundle:
    """The files to adopt: the leaf first, then its chain in order; the key as unencrypted PKCS#8 PEM."""

    fullchain_pem: bytes
    key_pem: bytes
    names: list[str]
    key_type: str
    not_after: datetime
    dropped: int = 0  # certificates given that are not in the leaf's chain (left out)

    @property
    def expired(self) -> bool:
        return self.not_after <= datetime.now(UTC)


def from_pem(cert_pem: bytes, key_pem: bytes, chain_pem: bytes = b"") -> CertificateBundle:
    certs = _load_certificates(cert_pem, "--cert") + (_load_certificates(chain_pem, "--chain") if chain_pem else [])
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except TypeError:
        raise UsageError("The key file is encrypted: decrypt it first (openssl pkey -in KEY -out PLAIN.key), "
                         "then import the plain key.", field="key") from None
    except (ValueError, UnsupportedAlgorithm):
        raise UsageError("The key file holds no PEM private key this app can read.", field="key") from None
    return _bundle(key, certs)


def from_pfx(data: bytes, password: str | None) -> CertificateBundle:
    tries = [password.encode()] if password is not None else [None, b""]
    for attempt in tries:
        try:
            key, leaf, extra = pkcs12.load_key_and_certificates(data, attempt)
            break
        except ValueError:
            continue
        except UnsupportedAlgorithm as exc:
            raise UsageError(f"The PFX uses an encryption this system cannot read ({exc}): export it again "
                             f"with openssl pkcs12 -export (AES).", field="pfx") from None
    else:
        if password is None:
            raise PasswordNeeded("The PFX is protected by a password: give it with --password @FILE or "
                                 "--password env:VAR, or at the prompt.", field="password")
        raise PasswordNeeded("The PFX password is wrong (or the file is no PKCS#12 bundle).", field="password")
    if key is None or leaf is None:
        raise UsageError("The PFX must hold the certificate and its private key; this one lacks "
                         f"{'its key' if key is None else 'the certificate'}.", field="pfx")
    return _bundle(key, [leaf, *extra])


def _load_certificates(pem: bytes, option: str) -> list[x509.Certificate]:
    try:
        certs = x509.load_pem_x509_certificates(pem)
    except ValueError:
        raise UsageError(f"{option}: the file holds no PEM certificate.", field=option.strip("-")) from None
    return certs


def _bundle(key: Any, certs: list[x509.Certificate]) -> CertificateBundle:
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        kind = type(key).__name__.removeprefix("_").replace("PrivateKey", "") or "this"
        raise UsageError(f"{kind} keys are not supported: ECDSA (P-256, P-384) and RSA (2048-4096 bits) are.",
                         field="key")
    private: PrivateKey = key
    key_type = key_type_of(private)
    if key_type not in KEY_TYPES:
        raise UsageError(f"The key is {key_type}, which is not supported: use one of {', '.join(KEY_TYPES)}.",
                         field="key")
    public = private.public_key().public_bytes(*_SPKI)
    leaf = next((c for c in certs if c.public_key().public_bytes(*_SPKI) == public), None)
    if leaf is None:
        raise UsageError("The private key does not belong to the certificate (their public keys differ): "
                         "give the key the certificate was issued for.", field="key")
    chain = _chain(leaf, [c for c in certs if c is not leaf])
    names = certificate_names(leaf)
    if not names:
        raise UsageError("The certificate names no DNS name: only certificates for domain names can be "
                         "managed and renewed over ACME.", field="cert")
    pem = serialization.Encoding.PEM
    return CertificateBundle(b"".join(c.public_bytes(pem) for c in [leaf, *chain]), key_to_pem(private), names,
                             key_type, leaf.not_valid_after_utc, dropped=len(certs) - 1 - len(chain))


def _chain(leaf: x509.Certificate, others: list[x509.Certificate]) -> list[x509.Certificate]:
    """The issuers from the leaf upwards, in order, whatever order they were given in."""
    chain: list[x509.Certificate] = []
    current = leaf
    while current.issuer != current.subject:
        parent = next((c for c in others if c.subject == current.issuer and c not in chain), None)
        if parent is None:
            break
        chain.append(parent)
        current = parent
    return chain


def certificate_names(leaf: x509.Certificate) -> list[str]:
    """The certificate's DNS names, its common name first (the primary name, as certbot orders them)."""
    try:
        san = list(leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                   .get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        san = []
    common = [str(a.value) for a in leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    return list(dict.fromkeys([*[c for c in common if c in san], *san]))


def import_certificate(data: DataDir, name: str, bundle: CertificateBundle, *, account: str | None = None,
                       challenge: str = "http-01", provider: str | None = None,
                       options: dict[str, Any] | None = None, credential: str | None = None) -> ManagedCertificate:
    """A new managed certificate for the bundle's names, its files the current version (all or nothing)."""
    spec = CertificateSpec(name=name, domains=bundle.names, account=account, challenge=challenge,
                           provider=provider, options=dict(options or {}), credential=credential,
                           key_type=bundle.key_type, deployment_mode="files")
    cert = certificates.add_certificate(data, spec)
    try:
        adopt_version(data, cert, bundle.fullchain_pem, bundle.key_pem)
    except BaseException:
        cert.delete_instance(recursive=True)
        CertificateFiles(data.certificates, cert.name).remove_all()
        raise
    return cert
