"""Shared checks for the integration tests that issue real certificates from Pebble."""

from __future__ import annotations

import itertools
import os
import stat
import subprocess
import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.verification import PolicyBuilder, Store

from certify_tui.lifecycle import Core

LIVE_ROLES = ("cert", "chain", "fullchain", "privkey")
_SPKI = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
_counter = itertools.count(1)


def mode_of(path: str | os.PathLike[str]) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def public_bytes(key_or_cert: Any) -> bytes:
    public = key_or_cert.public_key()
    return public.public_bytes(*_SPKI)


def leaf_of(files: dict[str, str]) -> x509.Certificate:
    return x509.load_pem_x509_certificate(Path(files["cert"]).read_bytes())


def san_names(cert: x509.Certificate) -> list[str]:
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return list(san.get_values_for_type(x509.DNSName))


def live_bytes(files: dict[str, str]) -> dict[str, bytes]:
    """The exact content of every live file, to compare before and after an operation."""
    return {role: Path(files[role]).read_bytes() for role in LIVE_ROLES}


def verify_issued(files: dict[str, str], names: Iterable[str], root_pem: bytes, *,
                  data_dir: Path | None = None) -> x509.Certificate:
    """Check an issued live set thoroughly; return the leaf.

    - cert.pem + chain.pem, and fullchain.pem on its own, verify up to Pebble's root for every name;
    - fullchain.pem is exactly cert.pem + chain.pem;
    - privkey.pem's public key is the leaf's;
    - privkey.pem is 0600, the certificate's folder and the data folder are 0700.
    """
    names = list(names)
    assert names, "verify_issued needs at least one name"
    assert set(files) >= set(LIVE_ROLES), files
    root = x509.load_pem_x509_certificate(root_pem)
    cert_pem = Path(files["cert"]).read_bytes()
    chain_pem = Path(files["chain"]).read_bytes()
    fullchain_pem = Path(files["fullchain"]).read_bytes()
    assert fullchain_pem == cert_pem + chain_pem

    leaf = x509.load_pem_x509_certificate(cert_pem)
    intermediates = x509.load_pem_x509_certificates(chain_pem)
    assert intermediates, "chain.pem holds no intermediate"
    full = x509.load_pem_x509_certificates(fullchain_pem)
    assert full[0] == leaf
    assert full[1:] == intermediates

    now = datetime.now(UTC)
    assert leaf.not_valid_before_utc <= now < leaf.not_valid_after_utc
    assert sorted(san_names(leaf)) == sorted(names)
    for name in names:
        # A verifier takes a host name, not a pattern: check a wildcard with a name it covers.
        host = f"wildcard-probe.{name[2:]}" if name.startswith("*.") else name
        verifier = (PolicyBuilder().store(Store([root])).time(now)
                    .build_server_verifier(x509.DNSName(host)))
        built = verifier.verify(leaf, intermediates)
        assert built[0] == leaf
        assert built[-1] == root
        # fullchain.pem alone carries everything a server needs.
        verifier.verify(full[0], full[1:])

    key = serialization.load_pem_private_key(Path(files["privkey"]).read_bytes(), password=None)
    assert public_bytes(key) == public_bytes(leaf)

    privkey = Path(files["privkey"])
    assert mode_of(privkey) == 0o600, oct(mode_of(privkey))
    cert_folder = privkey.parent.parent  # <data>/certificates/<name>/live/privkey.pem
    assert mode_of(cert_folder) == 0o700, oct(mode_of(cert_folder))
    assert mode_of(privkey.parent) == 0o700  # the live set (the archived version it links to)
    data_root = data_dir if data_dir is not None else cert_folder.parent.parent
    assert mode_of(data_root) == 0o700, oct(mode_of(data_root))
    return leaf


def unique(prefix: str) -> str:
    """A name no other test in this process uses (orders at one Pebble stay independent)."""
    return f"{prefix}{os.getpid()}x{next(_counter)}"


def add_account(core: Core, pebble: Any, email: str | None = None) -> Any:
    return core.add_account(email=email or f"{unique('user')}@example.com", ca=pebble.directory_url,
                            ca_bundle=pebble.https_ca_bundle, agree_tos=True, allow_internal_names=True)


def standalone(pebble: Any, port: int | None = None) -> dict[str, Any]:
    return {"challenge": "http-01", "provider": "standalone",
            "options": {"address": "127.0.0.1", "port": pebble.http_port if port is None else port}}


def add_standalone_cert(core: Core, pebble: Any, name: str, domains: list[str], **kwargs: Any) -> Any:
    rule = standalone(pebble)
    return core.add_certificate(name=name, domains=domains, challenge=rule["challenge"],
                                provider=rule["provider"], options=rule["options"], **kwargs)


def open_core(data_dir: Path) -> Iterator[Core]:
    core = Core.open(str(data_dir))
    try:
        yield core
    finally:
        core.close()


CLI = Path(sys.executable).with_name("certify-tui")


def start_cli(data_dir: Path, *args: str, **kwargs: Any) -> subprocess.Popen[str]:
    """A real `certify-tui` process on this data folder (stdin closed: not a terminal, so no prompts)."""
    env = {k: v for k, v in os.environ.items() if k != "CERTIFY_TUI_DATA_DIR"}
    kwargs.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.Popen([str(CLI), "--data-dir", str(data_dir), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, **kwargs)


class PebbleLog:
    """Counts in Pebble's log from the moment this was made: orders placed, certificates issued."""

    def __init__(self, pebble: Any) -> None:
        self.path = Path(pebble.workdir) / "pebble.log"
        self.offset = self.path.stat().st_size

    def text(self) -> str:
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            return f.read().decode(errors="replace")

    def orders(self) -> int:
        return self.text().count("Added order ")

    def issued(self) -> int:
        return self.text().count("Issued certificate serial ")
