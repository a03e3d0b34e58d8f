"""Backup rotation that never loses the fuller backup, the holder lock, and the new-folder guard, on real
SQLite files (the CLI paths are covered end to end in tests/integration/test_db_safety.py)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from certify_tui.errors import StorageError, UsageError
from certify_tui.lifecycle import Core
from certify_tui.lifecycle import database as db_use_cases
from certify_tui.renewal import maintenance
from certify_tui.store import guard
from certify_tui.store.lock import DatabaseInUse, HolderLock
from certify_tui.store.models import Account, ManagedCertificate
from certify_tui.store.url import parse_database_url


@pytest.fixture
def core(tmp_path: Path) -> Iterator[Core]:
    core = Core.open(str(tmp_path / "data"))
    yield core
    core.close()


def _certificates(db_file: Path) -> int:
    conn = sqlite3.connect(f"{db_file.as_uri()}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT COUNT(*) FROM managed_certificate").fetchone()[0]
    finally:
        conn.close()


def _set_certificates(count: int) -> None:
    account = Account.get_or_create(email="ops@example.com", directory_url="https://ca.example/dir",
                                    defaults={"account_key_pem": "-----KEY-----"})[0]
    ManagedCertificate.delete().execute()
    for i in range(count):
        ManagedCertificate.create(name=f"c{i}", account=account, primary_identifier=f"c{i}.example.com",
                                  identifiers=[f"c{i}.example.com"])


def test_shrinking_backups_keep_the_fullest_as_last_good(core: Core) -> None:
    root = core.data.root
    last_good = root / "certify.db.bak.last-good"
    for count in (2, 2):
        _set_certificates(count)
        assert maintenance.backup_database(core).last_good is None
    assert not last_good.exists()
    _set_certificates(1)
    result = maintenance.backup_database(core)
    assert result.last_good == last_good and "last-good" in result.message
    assert _certificates(last_good) == 2
    _set_certificates(0)  # shrinking again: the 1-certificate backup must not replace the 2-certificate one
    maintenance.backup_database(core)
    maintenance.backup_database(core)
    assert _certificates(last_good) == 2
    assert _certificates(root / "certify.db.bak") == 0 and _certificates(root / "certify.db.bak.old") == 0
    _set_certificates(3)  # a fuller one later becomes the one kept
    maintenance.backup_database(core)
    _set_certificates(0)
    maintenance.backup_database(core)
    assert _certificates(last_good) == 3


def test_restore_plan_points_at_a_fuller_backup(core: Core) -> None:
    _set_certificates(2)
    maintenance.backup_database(core)
    _set_certificates(0)
    maintenance.backup_database(core)
    core.close()  # a restore needs the database to itself
    plan = Core.open(str(core.data.root), connect=False).restore_plan()
    assert plan.source.path == core.data.root / "certify.db.bak" and plan.source.certificates == 0
    assert {b.path.name for b in plan.fuller} == {"certify.db.bak.old", "certify.db.bak.last-good"}


def test_holder_lock_shared_and_exclusive(tmp_path: Path) -> None:
    database = tmp_path / "certify.db"
    first, second = HolderLock.shared(database), HolderLock.shared(database)  # many users at once
    with pytest.raises(DatabaseInUse, match="in use"):
        HolderLock.exclusive(database)
    first.release()
    second.release()
    restorer = HolderLock.exclusive(database)
    with pytest.raises(DatabaseInUse, match="being restored"):
        HolderLock.shared(database, timeout=0.3)
    restorer.release()
    HolderLock.shared(database).release()


def test_earlier_data_ignores_an_empty_new_folder(tmp_path: Path) -> None:
    root = tmp_path / "data"
    for sub in ("certificates", "logs/certificates"):
        (root / sub).mkdir(parents=True)
    (root / "logs" / "certify-tui.log").write_text("")  # opened by the first run before the database
    assert guard.earlier_data(root, root / "certify.db") == []
    (root / "logs" / "certify-tui.log").write_text("registered account ...\n")
    (root / "certify.db.bak.old").write_bytes(b"x")
    assert guard.earlier_data(root, root / "certify.db") == ["backups", "logs"]
    with pytest.raises(StorageError, match="db restore"):
        guard.refuse_new_database(root / "certify.db", root, "missing")


def test_earlier_data_counts_certificate_folders_not_bookkeeping(tmp_path: Path) -> None:
    """`certificates/.storing` holds marks of versions being stored (repair.py); it is no certificate."""
    root = tmp_path / "data"
    (root / "certificates" / ".storing").mkdir(parents=True)
    assert guard.earlier_data(root, root / "certify.db") == []
    (root / "certificates" / "www").mkdir()
    assert guard.earlier_data(root, root / "certify.db") == ["certificates"]


@pytest.mark.parametrize("action", ["backup", "restore"])
def test_postgres_backup_and_restore_are_refused_without_a_server(tmp_path: Path, action: str) -> None:
    target = parse_database_url("postgresql://certify:pw@127.0.0.1:1/certify")
    data = Core.open(str(tmp_path / "data"), connect=False).data  # SQLite default, untouched
    with pytest.raises(UsageError, match="pg_dump"):
        if action == "backup":
            db_use_cases.backup_database(data, target)
        else:
            db_use_cases.restore_plan(data, target)
