"""Archived versions and the atomically switched live set, with real certificates and real files."""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import os
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from certify_tui import certfiles
from certify_tui.certfiles import CertificateFiles
from certify_tui.errors import StorageError, UsageError

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
PEM = serialization.Encoding.PEM


# --- a tiny CA -----------------------------------------------------------------------------------


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject: str, key: ec.EllipticCurvePrivateKey, issuer: str, issuer_key: ec.EllipticCurvePrivateKey,
          *, ca: bool, serial: int | None = None) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(hours=1))
        .not_valid_after(NOW + dt.timedelta(days=90))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


class TinyCA:
    def __init__(self) -> None:
        self.root_key = _key()
        self.inter_key = _key()
        self.inter = _cert("Tiny Intermediate", self.inter_key, "Tiny Root", self.root_key, ca=True)

    def issue(self, domain: str = "example.com", *, key: ec.EllipticCurvePrivateKey | None = None,
              serial: int | None = None) -> tuple[bytes, bytes, bytes, bytes]:
        """(fullchain, key, cert, chain) PEMs for a new leaf."""
        key = key or _key()
        leaf = _cert(domain, key, "Tiny Intermediate", self.inter_key, ca=False, serial=serial)
        cert_pem, chain_pem = leaf.public_bytes(PEM), self.inter.public_bytes(PEM)
        return cert_pem + chain_pem, _key_pem(key), cert_pem, chain_pem


@pytest.fixture(scope="module")
def ca() -> TinyCA:
    return TinyCA()


@pytest.fixture(params=[True, False], ids=["symlink", "directory"])
def use_symlinks(request: pytest.FixtureRequest) -> bool:
    return request.param


def live_bytes(files: CertificateFiles) -> dict[str, bytes]:
    return {kind: path.read_bytes() for kind, path in files.live_files().items()}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- install ---------------------------------------------------------------------------------------


def test_install_writes_live_set(tmp_path: Path, ca: TinyCA, use_symlinks: bool) -> None:
    files = CertificateFiles(tmp_path, "example.com", use_symlinks=use_symlinks)
    assert not files.has_live() and files.live_key_pem() is None and files.versions() == []
    fullchain, key, cert, chain = ca.issue(serial=0xABCDEF0123456789ABCD)
    stored = files.install(fullchain, key)

    assert files.has_live()
    assert live_bytes(files) == {"cert": cert, "chain": chain, "fullchain": fullchain, "privkey": key}
    assert files.live_key_pem() == key
    assert files.live_dir.is_symlink() is use_symlinks
    if use_symlinks:
        assert os.readlink(files.live_dir) == os.path.join("archive", stored.directory.name)  # relative

    leaf = x509.load_pem_x509_certificate(cert)
    assert stored.version == 1 and files.versions() == [1]
    assert stored.serial == "abcdef0123456789abcd"
    assert stored.directory == tmp_path / "example.com" / "archive" / "0001-abcdef0123456789"
    assert stored.not_before == leaf.not_valid_before_utc and stored.not_before.tzinfo is not None
    assert stored.not_after == leaf.not_valid_after_utc
    assert stored.fingerprint_sha256 == hashlib.sha256(leaf.public_bytes(serialization.Encoding.DER)).hexdigest()
    assert stored.issuer == "CN=Tiny Intermediate"
    assert stored.files == {k: str(p) for k, p in files.live_files().items()}
    assert all(Path(p).is_absolute() for p in stored.files.values())
    for kind, name in certfiles.FILE_NAMES.items():
        assert (stored.directory / name).read_bytes() == live_bytes(files)[kind]


@posix_only
def test_modes(tmp_path: Path, ca: TinyCA, use_symlinks: bool) -> None:
    files = CertificateFiles(tmp_path / "certificates", "example.com", use_symlinks=use_symlinks)
    stored = files.install(*ca.issue()[:2])
    for folder in (tmp_path / "certificates", files.base, files.archive, stored.directory, files.live_dir):
        assert mode(folder) == 0o700, folder
    for directory in (stored.directory, files.live_dir):
        assert mode(directory / "privkey.pem") == 0o600
        for name in ("cert.pem", "chain.pem", "fullchain.pem"):
            assert mode(directory / name) == 0o644


def test_leaf_only_chain_is_accepted(tmp_path: Path, ca: TinyCA) -> None:
    _, key, cert, _ = ca.issue()
    files = CertificateFiles(tmp_path, "leafonly")
    files.install(cert, key)
    assert live_bytes(files)["chain"] == b"" and live_bytes(files)["fullchain"] == cert


def test_second_install_switches_live_and_keeps_both(tmp_path: Path, ca: TinyCA, use_symlinks: bool) -> None:
    files = CertificateFiles(tmp_path, "example.com", use_symlinks=use_symlinks)
    first = files.install(*ca.issue()[:2])
    fullchain2, key2, *_ = ca.issue()
    second = files.install(fullchain2, key2)

    assert (first.version, second.version) == (1, 2) and files.versions() == [1, 2]
    assert first.directory.is_dir() and second.directory.is_dir()
    assert live_bytes(files)["fullchain"] == fullchain2 and files.live_key_pem() == key2
    leftovers = {p.name for p in files.base.iterdir()} - {"archive", "live"}
    assert leftovers == set()


def test_switching_strategy_converts_live(tmp_path: Path, ca: TinyCA) -> None:
    CertificateFiles(tmp_path, "c", use_symlinks=False).install(*ca.issue()[:2])
    fullchain, key, *_ = ca.issue()
    files = CertificateFiles(tmp_path, "c", use_symlinks=True)
    files.install(fullchain, key)
    assert files.live_dir.is_symlink() and live_bytes(files)["fullchain"] == fullchain
    fullchain, key, *_ = ca.issue()
    files = CertificateFiles(tmp_path, "c", use_symlinks=False)
    files.install(fullchain, key)
    assert not files.live_dir.is_symlink() and live_bytes(files)["fullchain"] == fullchain
    assert {p.name for p in files.base.iterdir()} == {"archive", "live"}


# --- rejected input leaves live untouched ----------------------------------------------------------


def _rejected(files: CertificateFiles, fullchain: bytes, key: bytes, match: str) -> None:
    before = live_bytes(files)
    versions = files.versions()
    with pytest.raises(StorageError, match=match):
        files.install(fullchain, key)
    assert live_bytes(files) == before  # byte-identical
    assert files.versions() == versions  # nothing archived either


def test_key_mismatch_rejected(tmp_path: Path, ca: TinyCA, use_symlinks: bool) -> None:
    files = CertificateFiles(tmp_path, "example.com", use_symlinks=use_symlinks)
    files.install(*ca.issue()[:2])
    fullchain, _, *_ = ca.issue()
    _rejected(files, fullchain, _key_pem(_key()), "does not match")


def test_broken_chain_rejected(tmp_path: Path, ca: TinyCA, use_symlinks: bool) -> None:
    files = CertificateFiles(tmp_path, "example.com", use_symlinks=use_symlinks)
    files.install(*ca.issue()[:2])
    _, key, cert, _ = ca.issue()
    # Same name as the real intermediate but another key: names match, the signature does not.
    impostor_key = _key()
    impostor = _cert("Tiny Intermediate", impostor_key, "Tiny Root", ca.root_key, ca=True)
    _rejected(files, cert + impostor.public_bytes(PEM), key, "signature")
    # A chain certificate that did not issue the leaf at all.
    other = _cert("Other CA", impostor_key, "Other CA", impostor_key, ca=True)
    _rejected(files, cert + other.public_bytes(PEM), key, "not issued by")


def test_garbage_rejected(tmp_path: Path, ca: TinyCA) -> None:
    files = CertificateFiles(tmp_path, "example.com")
    files.install(*ca.issue()[:2])
    fullchain, key, *_ = ca.issue()
    _rejected(files, b"not a pem", key, "no PEM certificate")
    _rejected(files, b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", key, "cannot be parsed")
    _rejected(files, fullchain, b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
              "private key cannot be parsed")


def test_disk_full_during_install_leaves_live(tmp_path: Path, ca: TinyCA, use_symlinks: bool,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    files = CertificateFiles(tmp_path, "example.com", use_symlinks=use_symlinks)
    files.install(*ca.issue()[:2])
    before = live_bytes(files)
    calls = 0
    real_fsync = os.fsync

    def fsync_then_full(fd: int) -> None:
        nonlocal calls
        calls += 1
        if calls > 2:  # the archive's first files get written, then the disk fills up
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync_then_full)
    with pytest.raises(StorageError, match="No space"):
        files.install(*ca.issue()[:2])
    monkeypatch.undo()
    assert live_bytes(files) == before
    assert files.versions() == [1]
    assert {p.name for p in files.base.iterdir()} == {"archive", "live"}


# --- recovery, pruning, removal --------------------------------------------------------------------


def test_recover_from_leftover_live_old(tmp_path: Path, ca: TinyCA, use_symlinks: bool) -> None:
    files = CertificateFiles(tmp_path, "example.com", use_symlinks=use_symlinks)
    files.install(*ca.issue()[:2])
    before = live_bytes(files)
    # A crash between "live -> live.old" and "live.new -> live".
    os.replace(files.live_dir, files.base / "live.old")
    (files.base / "live.new").mkdir()
    (files.base / "live.new" / "cert.pem").write_bytes(b"half")
    assert not files.has_live()

    reopened = CertificateFiles(tmp_path, "example.com", use_symlinks=use_symlinks)
    assert reopened.has_live() and live_bytes(reopened) == before
    assert {p.name for p in reopened.base.iterdir()} == {"archive", "live"}


def test_recover_removes_stale_live_old(tmp_path: Path, ca: TinyCA) -> None:
    files = CertificateFiles(tmp_path, "example.com", use_symlinks=False)
    files.install(*ca.issue()[:2])
    before = live_bytes(files)
    (files.base / "live.old").mkdir()  # crash after the swap, before the cleanup
    files.recover()
    assert live_bytes(files) == before and not (files.base / "live.old").exists()


def test_prune_keeps_newest_and_live(tmp_path: Path, ca: TinyCA, use_symlinks: bool) -> None:
    files = CertificateFiles(tmp_path, "example.com", use_symlinks=use_symlinks)
    stored = [files.install(*ca.issue()[:2]) for _ in range(4)]
    assert files.prune(2) == [stored[0].directory, stored[1].directory]
    assert files.versions() == [3, 4]
    assert files.prune(0) == [stored[2].directory]  # version 4 is live: never removed
    assert files.versions() == [4] and files.has_live()
    assert files.prune(5) == []
    with pytest.raises(UsageError):
        files.prune(-1)


def test_prune_never_removes_live_even_if_older(tmp_path: Path, ca: TinyCA) -> None:
    files = CertificateFiles(tmp_path, "example.com", use_symlinks=True)
    first = files.install(*ca.issue()[:2])
    files.install(*ca.issue()[:2])
    # Point live back at version 1 (as an operator rollback would) and prune to one version.
    os.remove(files.live_dir)
    os.symlink(os.path.join("archive", first.directory.name), files.live_dir)
    assert files.prune(1) == []
    assert files.versions() == [1, 2] and files.has_live()


def test_remove_all(tmp_path: Path, ca: TinyCA, use_symlinks: bool) -> None:
    files = CertificateFiles(tmp_path, "example.com", use_symlinks=use_symlinks)
    files.install(*ca.issue()[:2])
    files.remove_all()
    assert not files.base.exists() and tmp_path.is_dir()
    files.remove_all()  # nothing left: still fine


@pytest.mark.parametrize("name", ["../escape", "a/b", "..", ".live", "x y", ""])
def test_path_escaping_names_rejected(tmp_path: Path, name: str) -> None:
    with pytest.raises(UsageError):
        CertificateFiles(tmp_path, name)
    assert list(tmp_path.iterdir()) == []


def test_auto_falls_back_to_copies_without_symlinks(tmp_path: Path, ca: TinyCA,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(1314, "A required privilege is not held by the client")  # Windows' refusal

    monkeypatch.setattr(os, "symlink", refuse)
    files = CertificateFiles(tmp_path, "example.com")
    fullchain, key, *_ = ca.issue()
    files.install(fullchain, key)
    assert not files.live_dir.is_symlink() and live_bytes(files)["fullchain"] == fullchain
    with pytest.raises(StorageError, match="live link"):
        CertificateFiles(tmp_path, "example.com", use_symlinks=True).install(*ca.issue()[:2])
    assert live_bytes(files)["fullchain"] == fullchain and files.versions() == [1]


def test_failed_switch_rolls_back(tmp_path: Path, ca: TinyCA, use_symlinks: bool,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    files = CertificateFiles(tmp_path, "example.com", use_symlinks=use_symlinks)
    files.install(*ca.issue()[:2])
    before = live_bytes(files)
    real_replace = os.replace

    def locked(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if Path(src).name == "live.new" or Path(src).name.startswith(".live."):
            raise PermissionError(errno.EACCES, "The file is in use by another process")  # Windows lock
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", locked)
    with pytest.raises(StorageError, match="in use"):
        files.install(*ca.issue()[:2])
    monkeypatch.undo()
    assert live_bytes(files) == before and files.versions() == [1]
    assert {p.name for p in files.base.iterdir()} == {"archive", "live"}
