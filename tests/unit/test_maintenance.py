"""Daily maintenance against a real SQLite database, real certificate files and real log handlers."""

from __future__ import annotations

import datetime as dt
import logging
import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from servers.common import count_rows

from certify_tui.certfiles import CertificateFiles
from certify_tui.events import RequestLog
from certify_tui.lifecycle import Core
from certify_tui.renewal import maintenance
from certify_tui.store.models import Account, CertificateVersion, ManagedCertificate, Setting

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
PEM = serialization.Encoding.PEM


# --- a tiny CA (as in test_certfiles) ----------------------------------------------------------------


def _cert(subject: str, key: ec.EllipticCurvePrivateKey, issuer: str, issuer_key: ec.EllipticCurvePrivateKey,
          *, ca: bool) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(hours=1))
        .not_valid_after(NOW + dt.timedelta(days=90))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    return builder.sign(issuer_key, hashes.SHA256())


class TinyCA:
    def __init__(self) -> None:
        self.root_key = ec.generate_private_key(ec.SECP256R1())
        self.inter_key = ec.generate_private_key(ec.SECP256R1())
        self.inter = _cert("Tiny Intermediate", self.inter_key, "Tiny Root", self.root_key, ca=True)

    def issue(self, domain: str = "shop.example.com") -> tuple[bytes, bytes]:
        key = ec.generate_private_key(ec.SECP256R1())
        leaf = _cert(domain, key, "Tiny Intermediate", self.inter_key, ca=False)
        key_pem = key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        return leaf.public_bytes(PEM) + self.inter.public_bytes(PEM), key_pem


@pytest.fixture(scope="module")
def ca() -> TinyCA:
    return TinyCA()


@pytest.fixture
def core(tmp_path: Path) -> Iterator[Core]:
    core = Core.open(str(tmp_path / "data"))
    yield core
    core.close()


def _account(email: str = "ops@example.com") -> Account:
    return Account.create(email=email, directory_url="https://ca.example/dir", account_key_pem="-----KEY-----")


def _certificate(account: Account, name: str) -> ManagedCertificate:
    return ManagedCertificate.create(name=name, account=account, primary_identifier=f"{name}.example.com",
                                     identifiers=[f"{name}.example.com"])


def _issue(core: Core, ca: TinyCA, cert: ManagedCertificate) -> CertificateVersion:
    """Install a new version on disk and record it, as a successful request does."""
    stored = CertificateFiles(core.data.certificates, cert.name).install(*ca.issue())
    return CertificateVersion.create(
        certificate=cert, version=stored.version, serial=stored.serial, not_before=stored.not_before,
        not_after=stored.not_after, fingerprint_sha256=stored.fingerprint_sha256, issuer=stored.issuer,
        archive_dir=str(stored.directory), files=stored.files)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)



# --- backup ------------------------------------------------------------------------------------------


def test_backup_while_another_connection_writes(core: Core) -> None:
    account = _account()
    _certificate(account, "shop")
    stop = threading.Event()
    written: list[int] = []
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            i = 0
            while not stop.is_set():
                Setting.create(key=f"load-{i}", value={"i": i})  # its own connection, its own commits
                written.append(i)
                i += 1
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            core.db.close()  # this thread's connection

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 50:  # the writer is really writing before and during the backups
            threading.Event().wait(0.005)
        before = len(written)
        first = maintenance.backup_database(core)
        second = maintenance.backup_database(core)
    finally:
        stop.set()
        thread.join(10)
    assert not errors, errors
    after = len(written)

    bak = core.data.root / "certify.db.bak"
    old = core.data.root / "certify.db.bak.old"
    assert first.ok and not first.skipped and first.path == bak and first.previous is None
    assert second.ok and second.previous == old and second.size == bak.stat().st_size
    conn = sqlite3.connect(f"{bak.as_uri()}?mode=ro", uri=True)
    try:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT name FROM managed_certificate").fetchall() == [("shop",)]
        assert conn.execute("SELECT email FROM account").fetchall() == [("ops@example.com",)]
        load_rows = conn.execute("SELECT COUNT(*) FROM setting WHERE key LIKE 'load-%'").fetchone()[0]
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # standalone: no -wal needed
    finally:
        conn.close()
    assert {"account", "managed_certificate", "certificate_version", "setting", "schema_version"} <= tables
    assert before <= load_rows <= after  # a consistent snapshot taken while the writer ran
    # The older backup was rotated, not overwritten, and it is a complete database too.
    assert before <= count_rows(old, "setting") <= load_rows
    leftovers = [p.name for p in core.data.root.iterdir() if p.name.startswith(".")]
    assert leftovers == []


@posix_only
def test_backup_files_are_private(core: Core) -> None:
    old_umask = os.umask(0o022)
    try:
        _account()
        maintenance.backup_database(core)
        maintenance.backup_database(core)
    finally:
        os.umask(old_umask)
    assert _mode(core.data.root / "certify.db.bak") == 0o600
    assert _mode(core.data.root / "certify.db.bak.old") == 0o600


def test_backup_rotation_keeps_previous(core: Core) -> None:
    _account("a@example.com")
    maintenance.backup_database(core)
    _account("b@example.com")
    result = maintenance.backup_database(core)
    assert result.ok
    assert count_rows(core.data.root / "certify.db.bak.old", "account") == 1
    assert count_rows(core.data.root / "certify.db.bak", "account") == 2


# --- integrity -----------------------------------------------------------------------------------------


def test_integrity_ok(core: Core) -> None:
    _certificate(_account(), "shop")
    result = maintenance.integrity_check(core)
    assert result.ok and result.problems == [] and not result.skipped


def test_integrity_reports_broken_foreign_key(core: Core) -> None:
    core.db.execute_sql("PRAGMA foreign_keys=OFF")
    try:
        core.db.execute_sql(
            "INSERT INTO certificate_version (certificate_id, version, serial, not_before, not_after, "
            "fingerprint_sha256, issuer, archive_dir, files, created_at) "
            "VALUES (999, 1, '01', '2025-01-01', '2025-04-01', '00', '', '/x', '{}', '2025-01-01')")
    finally:
        core.db.execute_sql("PRAGMA foreign_keys=ON")
    result = maintenance.integrity_check(core)
    assert not result.ok
    assert any("certificate_version" in p and "managed_certificate" in p for p in result.problems)


# --- pruning ----------------------------------------------------------------------------------------------


def _versions(cert: ManagedCertificate) -> list[int]:
    return [v.version for v in CertificateVersion.select().where(CertificateVersion.certificate == cert)
            .order_by(CertificateVersion.version)]


def test_prune_keeps_newest_and_deletes_rows(core: Core, ca: TinyCA) -> None:
    account = _account()
    shop, blog = _certificate(account, "shop"), _certificate(account, "blog")
    for _ in range(5):
        _issue(core, ca, shop)
    _issue(core, ca, blog)

    result = maintenance.prune_versions(core, keep=2)

    assert result.ok and result.errors == []
    assert CertificateFiles(core.data.certificates, "shop").versions() == [4, 5]
    assert _versions(shop) == [4, 5] and result.rows_deleted == 3
    assert CertificateFiles(core.data.certificates, "blog").versions() == [1] and _versions(blog) == [1]
    assert set(result.removed) == {"shop"} and len(result.removed["shop"]) == 3
    assert CertificateFiles(core.data.certificates, "shop").has_live()
    assert maintenance.prune_versions(core, keep=2).removed == {}  # nothing more to do


@posix_only
def test_prune_keeps_the_live_version_after_a_rollback(core: Core, ca: TinyCA) -> None:
    cert = _certificate(_account(), "shop")
    first = _issue(core, ca, cert)
    for _ in range(3):
        _issue(core, ca, cert)
    # An operator pointed live back at version 1: it must survive, with its row.
    files = CertificateFiles(core.data.certificates, "shop", use_symlinks=True)
    os.remove(files.live_dir)
    os.symlink(os.path.join("archive", Path(first.archive_dir).name), files.live_dir)

    result = maintenance.prune_versions(core, keep=2)

    assert result.ok and files.versions() == [1, 3, 4] and _versions(cert) == [1, 3, 4]
    assert result.rows_deleted == 1 and files.has_live()


def test_prune_never_deletes_the_current_row(core: Core, ca: TinyCA) -> None:
    cert = _certificate(_account(), "shop")
    _issue(core, ca, cert)
    newest = _issue(core, ca, cert)
    result = maintenance.prune_versions(core, keep=1)
    assert result.ok and _versions(cert) == [2]
    assert Path(newest.archive_dir).is_dir()


# --- logs -----------------------------------------------------------------------------------------------


def test_rotate_certificate_log(core: Core) -> None:
    log = core.data.certificate_log("shop")
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("x" * 2000)
    log.with_name("shop.log.1").write_text("older")
    log.with_name("shop.log.3").write_text("oldest, beyond keep")
    small = core.data.certificate_log("blog")
    small.write_text("small")

    result = maintenance.rotate_logs(core.data, max_bytes=1000, keep=2)

    assert result.ok and log in result.rotated and small not in result.rotated
    assert not log.exists()
    assert log.with_name("shop.log.1").read_text() == "x" * 2000
    assert log.with_name("shop.log.2").read_text() == "older"
    assert not log.with_name("shop.log.3").exists()
    assert small.read_text() == "small"
    # The next request appends to a fresh file (RequestLog opens the path for each line).
    RequestLog(log).info("after rotation")
    assert "after rotation" in log.read_text() and log.stat().st_size < 1000


def test_rotate_app_log_reopens_handler(core: Core) -> None:
    logger = logging.getLogger("certify_tui")
    handler = next(h for h in logger.handlers
                   if isinstance(h, logging.FileHandler) and h.baseFilename == str(core.data.app_log))
    for i in range(40):
        logger.info("before rotation line %d %s", i, "y" * 50)
    handler.flush()
    assert core.data.app_log.stat().st_size > 1000

    result = maintenance.rotate_logs(core.data, max_bytes=1000, keep=3)
    logger.info("after rotation marker")
    handler.flush()

    assert result.ok and core.data.app_log in result.rotated
    rotated = core.data.app_log.with_name("certify-tui.log.1")
    assert "before rotation line 39" in rotated.read_text(encoding="utf-8")
    assert "after rotation marker" not in rotated.read_text(encoding="utf-8")
    current = core.data.app_log.read_text(encoding="utf-8")
    assert "after rotation marker" in current and "before rotation line" not in current
    assert "maintenance rotate-logs: rotated 1 log(s)" in current  # its own line lands in the new file
    assert handler in logger.handlers


# --- all of it ------------------------------------------------------------------------------------------


def test_run_daily_uses_keep_versions(core: Core, ca: TinyCA) -> None:
    core.update_settings({"keep_versions": 1})
    cert = _certificate(_account(), "shop")
    for _ in range(3):
        _issue(core, ca, cert)
    results = maintenance.run_daily(core)
    assert [r.step for r in results] == ["backup", "integrity", "prune", "rotate-logs", "cleanup",
                                         "revocation-check"]
    assert all(r.ok for r in results), results
    assert results[-1].message.startswith("checked 0 certificate(s)")  # it names no OCSP responder or CRL
    assert _versions(cert) == [3]
    assert (core.data.root / "certify.db.bak").is_file()


def test_run_daily_step_failure_does_not_stop_others(core: Core, ca: TinyCA) -> None:
    cert = _certificate(_account(), "shop")
    core.update_settings({"keep_versions": 1})
    for _ in range(2):
        _issue(core, ca, cert)
    # A backup that cannot be rotated: both names are non-empty folders, so the rename fails.
    for name in ("certify.db.bak", "certify.db.bak.old"):
        (core.data.root / name).mkdir()
        (core.data.root / name / "keep").write_text("x")

    results = maintenance.run_daily(core)

    backup, integrity, prune, rotate, cleanup, revocation = results
    assert not backup.ok and backup.message.startswith("failed:") and "certify.db.bak" in backup.message
    assert integrity.ok and prune.ok and rotate.ok and cleanup.ok and revocation.ok
    assert _versions(cert) == [2]
    assert (core.data.root / "certify.db.bak" / "keep").read_text() == "x"  # untouched
    assert [p.name for p in core.data.root.iterdir() if p.name.startswith(".")] == []
    assert "maintenance backup: failed:" in core.data.app_log.read_text(encoding="utf-8")
