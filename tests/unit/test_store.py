"""The store: SQLite pragmas and file mode, migrations, custom fields, constraints, URL errors."""

from __future__ import annotations

import importlib.util
import json
import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import peewee
import pytest

from certify_tui.errors import CertifyError, StorageError, UsageError
from certify_tui.model import ChallengeRule, DeploymentSettings, RenewalPolicy
from certify_tui.store import close_database, database_url_for, migrations, open_database
from certify_tui.store.db import _redact
from certify_tui.store.models import Account, CertificateVersion, ManagedCertificate, SchemaVersion


@pytest.fixture
def db_path(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "sub" / "certify.db"  # parent missing: open_database must create it
    yield path
    close_database()


@pytest.fixture
def db(db_path: Path) -> peewee.Database:
    return open_database(database_url_for(db_path))


def _pragma(db: peewee.Database, name: str) -> object:
    return db.execute_sql(f"PRAGMA {name}").fetchone()[0]


def _account(email: str = "a@example.com") -> Account:
    return Account.create(email=email, directory_url="https://ca.example/dir", account_key_pem="-----KEY-----")


def _certificate(account: Account, name: str = "web") -> ManagedCertificate:
    return ManagedCertificate.create(name=name, account=account, primary_identifier="a.example.com",
                                     identifiers=["a.example.com"])


def _version(cert: ManagedCertificate, number: int) -> CertificateVersion:
    now = datetime.now(UTC)
    return CertificateVersion.create(certificate=cert, version=number, serial=f"{number:04x}", not_before=now,
                                     not_after=now + timedelta(days=90), fingerprint_sha256="00" * 32,
                                     archive_dir="/nowhere", files={"cert": "/nowhere/cert.pem"})


# -- SQLite settings ---------------------------------------------------------------------------------


def test_sqlite_pragmas(db: peewee.Database) -> None:
    assert str(_pragma(db, "journal_mode")).lower() == "wal"
    assert _pragma(db, "foreign_keys") == 1
    assert _pragma(db, "busy_timeout") == 10_000


@pytest.mark.skipif(os.name == "nt", reason="POSIX modes")
def test_database_file_is_private(db: peewee.Database, db_path: Path) -> None:
    assert db_path.is_file()
    assert stat.S_IMODE(db_path.stat().st_mode) == 0o600


@pytest.mark.skipif(os.name == "nt", reason="POSIX modes")
def test_wal_and_shm_files_are_private(db: peewee.Database, db_path: Path) -> None:
    old = os.umask(0o022)
    try:
        _account()  # a write creates the -wal and -shm files
    finally:
        os.umask(old)
    side_files = [p for p in db_path.parent.iterdir() if p != db_path]
    assert {p.name for p in side_files} >= {"certify.db-wal", "certify.db-shm"}
    for path in side_files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_database_url_for_absolute_path(tmp_path: Path) -> None:
    url = database_url_for(tmp_path / "x.db")
    assert url == f"sqlite:///{(tmp_path / 'x.db').as_posix()}"


# -- migrations --------------------------------------------------------------------------------------


def test_schema_version_is_latest(db: peewee.Database) -> None:
    versions = [v.version for v in SchemaVersion.select().order_by(SchemaVersion.version)]
    assert versions == list(range(1, migrations.LATEST + 1))
    assert {"account", "managed_certificate", "certificate_version"} <= set(db.get_tables())


def test_reopening_is_idempotent(db: peewee.Database, db_path: Path) -> None:
    _account()
    close_database()
    open_database(database_url_for(db_path))
    close_database()
    db2 = open_database(database_url_for(db_path))
    assert SchemaVersion.select().count() == migrations.LATEST  # no migration applied twice
    assert Account.select().count() == 1  # data kept
    assert str(_pragma(db2, "journal_mode")).lower() == "wal"


def test_schema_6_adds_tags_and_revocation_to_existing_rows(db: peewee.Database, db_path: Path) -> None:
    """A database from schema 5 (no tags, no revocation columns) keeps its certificates and gains the columns."""
    cert = ManagedCertificate.create(name="old", account=_account(), primary_identifier="a.example.com",
                                     identifiers=["a.example.com"])
    now = datetime.now(UTC)
    CertificateVersion.create(certificate=cert, version=1, serial="01", not_before=now, not_after=now,
                              fingerprint_sha256="ab", archive_dir="/x")
    for column in ("tags", "revoked_at", "revocation_reason", "revocation_checked_at"):
        db.execute_sql(f"ALTER TABLE managed_certificate DROP COLUMN {column}")
    db.execute_sql("DELETE FROM schema_version WHERE version >= 6")
    close_database()
    open_database(database_url_for(db_path))
    old = ManagedCertificate.get(ManagedCertificate.name == "old")
    assert (old.tags, old.revoked_at, old.revocation_reason) == ([], None, None)
    assert CertificateVersion.select().count() == 1  # the upgrade kept the versions (no table rebuild)


def test_schema_7_adds_failover_and_alert_columns(db: peewee.Database, db_path: Path) -> None:
    cert = ManagedCertificate.create(name="old", account=_account(), primary_identifier="a.example.com",
                                     identifiers=["a.example.com"])
    now = datetime.now(UTC)
    CertificateVersion.create(certificate=cert, version=1, serial="01", not_before=now, not_after=now,
                              fingerprint_sha256="ab", archive_dir="/x")
    for column in ("fallback_accounts", "ca_failure_count", "rate_limited_until", "alert_state"):
        db.execute_sql(f"ALTER TABLE managed_certificate DROP COLUMN {column}")
    db.execute_sql("ALTER TABLE certificate_version DROP COLUMN account_id")
    db.execute_sql("DELETE FROM schema_version WHERE version = 7")
    close_database()
    open_database(database_url_for(db_path))
    old = ManagedCertificate.get(ManagedCertificate.name == "old")
    assert (old.fallback_accounts, old.ca_failure_count, old.rate_limited_until, old.alert_state) == ([], 0, None, {})
    assert CertificateVersion.get().account_id is None


def test_newer_schema_refused(db: peewee.Database, db_path: Path) -> None:
    SchemaVersion.create(version=migrations.LATEST + 1)
    close_database()
    with pytest.raises(StorageError, match="upgrade") as info:
        open_database(database_url_for(db_path))
    assert str(migrations.LATEST + 1) in info.value.message


# -- fields ------------------------------------------------------------------------------------------


def test_utc_datetime_roundtrip_aware_utc(db: peewee.Database) -> None:
    when = datetime(2030, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    acct = Account.create(email="t@example.com", directory_url="u", account_key_pem="k", created_at=when)
    got = Account.get_by_id(acct.id).created_at
    assert got == when
    assert got.utcoffset() == timedelta(0)


def test_utc_datetime_converts_other_timezones(db: peewee.Database) -> None:
    plus2 = timezone(timedelta(hours=2))
    local = datetime(2030, 6, 1, 12, 0, tzinfo=plus2)
    acct = Account.create(email="t@example.com", directory_url="u", account_key_pem="k", created_at=local)
    got = Account.get_by_id(acct.id).created_at
    assert got == local  # the same instant
    assert got.utcoffset() == timedelta(0)
    assert (got.hour, got.minute) == (10, 0)
    # Stored naive UTC, so SQL ordering and comparisons are in UTC.
    raw = db.execute_sql("SELECT created_at FROM account WHERE id = ?", (acct.id,)).fetchone()[0]
    assert str(raw).startswith("2030-06-01 10:00:00")


def test_utc_datetime_naive_read_as_utc(db: peewee.Database) -> None:
    acct = Account.create(email="t@example.com", directory_url="u", account_key_pem="k",
                          created_at=datetime(2030, 1, 1, 8, 30))
    assert Account.get_by_id(acct.id).created_at == datetime(2030, 1, 1, 8, 30, tzinfo=UTC)


def test_json_field_roundtrip(db: peewee.Database) -> None:
    rules = [{"pattern": "*", "challenge": "http-01", "provider": "standalone",
              "options": {"address": "127.0.0.1", "port": 8080, "flag": True, "none": None}}]
    cert = ManagedCertificate.create(name="j", account=_account(), primary_identifier="a.example.com",
                                     identifiers=["a.example.com", "xn--bcher-kva.example"],
                                     challenge_rules=rules, renewal={"percent": 66.5})
    again = ManagedCertificate.get(ManagedCertificate.name == "j")
    assert again.id == cert.id
    assert again.challenge_rules == tuple(ChallengeRule.from_json(rule) for rule in rules)
    assert again.identifiers == ["a.example.com", "xn--bcher-kva.example"]
    assert again.renewal == RenewalPolicy("percent", 66.5)
    assert again.deployment == DeploymentSettings()  # the default, not a shared mutable
    # The database holds the same JSON as before the typed values.
    stored = db.execute_sql("SELECT challenge_rules, renewal FROM managed_certificate WHERE id = ?",
                            (cert.id,)).fetchone()
    assert [json.loads(text) for text in stored] == [rules, {"percent": 66.5}]


# -- constraints -------------------------------------------------------------------------------------


def test_deleting_certificate_cascades_to_versions(db: peewee.Database) -> None:
    acct = _account()
    cert, other = _certificate(acct, "web"), _certificate(acct, "mail")
    for n in (1, 2, 3):
        _version(cert, n)
    _version(other, 1)
    assert CertificateVersion.select().count() == 4
    # Not recursive=True: the database's ON DELETE CASCADE (foreign_keys=1) must do it.
    ManagedCertificate.delete().where(ManagedCertificate.id == cert.id).execute()
    remaining = list(CertificateVersion.select())
    assert [v.certificate_id for v in remaining] == [other.id]


def test_account_with_certificates_cannot_be_deleted(db: peewee.Database) -> None:
    acct = _account()
    _certificate(acct)
    with pytest.raises(peewee.IntegrityError):
        Account.delete().where(Account.id == acct.id).execute()


def test_certificate_name_unique(db: peewee.Database) -> None:
    acct = _account()
    _certificate(acct, "web")
    with pytest.raises(peewee.IntegrityError):
        _certificate(acct, "web")
    assert ManagedCertificate.select().count() == 1


def test_version_number_unique_per_certificate(db: peewee.Database) -> None:
    cert = _certificate(_account())
    _version(cert, 1)
    with pytest.raises(peewee.IntegrityError):
        _version(cert, 1)


# -- URLs and errors ---------------------------------------------------------------------------------


def test_unknown_scheme_is_usage_error() -> None:
    with pytest.raises(UsageError, match="nosuchdb"):
        open_database("nosuchdb://x")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://certify:s3cret@db.example:5432/certify", "postgresql://certify:***@db.example:5432/certify"),
        ("postgresql://certify:p@ss:w@db.example/certify", "postgresql://certify:***@db.example/certify"),
        ("sqlite:///var/lib/certify.db", "sqlite:///var/lib/certify.db"),
    ],
)
def test_redact_hides_password(url: str, expected: str) -> None:
    assert _redact(url) == expected
    assert "s3cret" not in _redact(url) and "ss:w" not in _redact(url)


@pytest.mark.skipif(importlib.util.find_spec("psycopg2") is not None, reason="tests the no-driver case")
def test_postgres_without_driver_is_a_clear_error() -> None:
    with pytest.raises(CertifyError) as info:
        open_database("postgresql://certify:s3cret@127.0.0.1:1/certify")
    assert "s3cret" not in info.value.message
