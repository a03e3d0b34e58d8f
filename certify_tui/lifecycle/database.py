"""Use cases for the database itself: check it, back it up, restore a backup (`certify-tui db ...`)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import peewee

from certify_tui.errors import StorageError, UsageError
from certify_tui.paths import DataDir, certificate_folders
from certify_tui.store import backup, guard, migrations
from certify_tui.store.backup import DatabaseSummary
from certify_tui.store.restore import RestorePlan, RestoreResult, plan_restore, restore
from certify_tui.store.url import DatabaseURL

PG_BACKUP = "PostgreSQL databases are backed up with pg_dump and restored with pg_restore"


@dataclass
class DatabaseCheck:
    """`db check`: the live database, the certificate folders and what each backup holds."""

    url: str  # password hidden
    kind: str  # sqlite, postgresql
    latest_schema: int
    database: DatabaseSummary | None  # SQLite only
    schema_version: int | None = None
    accounts: int | None = None
    certificates: int | None = None
    certificate_folders: int = 0
    backups: list[DatabaseSummary] = field(default_factory=list)
    note: str = ""
    fresh: bool = False  # no database yet in a data folder with no trace of one: the next command creates it

    @property
    def ok(self) -> bool:
        if self.database is not None:
            return self.database.ok and (self.schema_version or 0) <= self.latest_schema
        return self.schema_version is not None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "url": self.url, "kind": self.kind,
            "database": self.database.as_dict() if self.database else None,
            "integrity": self.database.integrity if self.database else "not checked",
            "schema_version": self.schema_version, "latest_schema": self.latest_schema,
            "accounts": self.accounts, "certificates": self.certificates,
            "certificate_folders": self.certificate_folders,
            "backups": [b.as_dict() for b in self.backups], "note": self.note, "fresh": self.fresh,
        }


@dataclass
class BackupDone:
    path: Path
    summary: DatabaseSummary
    previous: Path | None = None
    last_good: Path | None = None


def check_database(data: DataDir, target: DatabaseURL, db: peewee.Database) -> DatabaseCheck:
    folders = len(certificate_folders(data.certificates))
    check = DatabaseCheck(target.redacted, target.kind, migrations.LATEST, None, certificate_folders=folders,
                          backups=backup.list_backups(data.root))
    if target.path is not None:
        live = backup.inspect(target.path, full=True)  # the full check: this is the explicit audit
        check.database = live
        if live.integrity in ("missing", "empty") and not guard.earlier_data(data.root, target.path):
            check.fresh = True
            check.note = "A new data folder: the next command creates the database."
        check.schema_version, check.accounts, check.certificates = live.schema_version, live.accounts, \
            live.certificates
        return check
    from certify_tui.store.models import Account, ManagedCertificate, SchemaVersion

    check.note = f"integrity not checked: {PG_BACKUP}"
    check.schema_version = SchemaVersion.select(peewee.fn.MAX(SchemaVersion.version)).scalar() or 0
    check.accounts, check.certificates = Account.select().count(), ManagedCertificate.select().count()
    return check


def backup_database(data: DataDir, target: DatabaseURL, to: str | os.PathLike[str] | None = None) -> BackupDone:
    source = _sqlite_only(target, "back up")
    live = backup.inspect(source, full=False)
    if not live.exists or live.integrity == "empty":
        raise StorageError(f"The database {source} is {live.integrity}; there is nothing to back up.")
    if to is not None:
        path = Path(os.path.abspath(Path(to).expanduser()))
        return BackupDone(path, backup.backup_to_file(source, path))
    done = backup.backup_into_folder(source, data.root)
    return BackupDone(done.path, done.summary, done.previous, done.last_good)


def restore_plan(data: DataDir, target: DatabaseURL, source: str | os.PathLike[str] | None = None) -> RestorePlan:
    database = _sqlite_only(target, "restore")
    return plan_restore(database, data.root, Path(source).expanduser() if source is not None else None)


def restore_database(plan: RestorePlan) -> RestoreResult:
    return restore(plan)


def _sqlite_only(target: DatabaseURL, verb: str) -> Path:
    if target.path is None:
        raise UsageError(f"certify-tui cannot {verb} this database: {PG_BACKUP}.")
    return target.path
