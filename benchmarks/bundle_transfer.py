"""Moving an installation of N certificates (each with its current files) with an encrypted bundle.

Builds a source data folder (one account, N certificates whose files come from a private CA made here and
are stored with lifecycle.adopt, as an import does), then times: export, the import's dry run into an empty
data folder, the import itself, and a second dry run (everything unchanged). No CA is contacted.

    .venv/bin/python benchmarks/bundle_transfer.py [N]
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from certify_tui.keys import generate_key, key_to_pem
from certify_tui.lifecycle import Core
from certify_tui.lifecycle.adopt import adopt_version
from certify_tui.store.models import Account, ManagedCertificate

T = TypeVar("T")
PASSPHRASE = "benchmark passphrase"
DIRECTORY = "https://acme.example.test/directory"


def _name(text: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])


def private_ca() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(_name("Bench CA")).issuer_name(_name("Bench CA"))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


def leaf(ca: tuple[ec.EllipticCurvePrivateKey, x509.Certificate], domain: str) -> tuple[bytes, bytes]:
    ca_key, ca_cert = ca
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(_name(domain)).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=89))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(domain)]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM) + ca_cert.public_bytes(serialization.Encoding.PEM)
    return pem, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())


def build_source(root: Path, count: int) -> None:
    core = Core.open(str(root))
    try:
        Account.create(email="bench@example.test", directory_url=DIRECTORY, key_type="ec256",
                       account_key_pem=key_to_pem(generate_key("ec256")).decode(), uri=f"{DIRECTORY}/acct/1",
                       tos_agreed=True, allow_internal_names=True)
        ca = private_ca()
        for i in range(count):
            domain = f"site{i}.example.test"
            core.add_certificate(name=f"site{i}", domains=[domain], provider="standalone",
                                 options={"address": "127.0.0.1", "port": 8080})
            adopt_version(core.data, ManagedCertificate.get(ManagedCertificate.name == f"site{i}"), *leaf(ca, domain))
    finally:
        core.close()


def timed(label: str, run: Callable[[], T]) -> T:
    started = time.perf_counter()
    result = run()
    print(f"{label:<34} {time.perf_counter() - started:7.2f} s")
    return result


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    with tempfile.TemporaryDirectory() as tmp:
        source, target, bundle = Path(tmp) / "source", Path(tmp) / "target", Path(tmp) / "all.bundle"
        timed(f"build the source ({count} certificates)", lambda: build_source(source, count))
        core = Core.open(str(source))
        timed("export", lambda: core.export_bundle(str(bundle), PASSPHRASE))
        core.close()
        print(f"{'bundle size':<34} {bundle.stat().st_size / 1024:7.0f} KiB")
        core = Core.open(str(target))
        plan = timed("dry run into an empty folder", lambda: core.plan_bundle_import(str(bundle), PASSPHRASE))
        timed("import (one transaction)", lambda: core.import_bundle(plan))
        again = timed("dry run again (all unchanged)", lambda: core.plan_bundle_import(str(bundle), PASSPHRASE))
        counts = again.counts()
        assert counts["new"] == 0 and counts["changed"] == 0, counts
        assert ManagedCertificate.select().count() == count
        core.close()


if __name__ == "__main__":
    main()
