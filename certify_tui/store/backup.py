"""SQLite backups: what a database file holds, online copies, and rotation that never loses the fuller one.

The data folder keeps `certify.db.bak` (newest) and `certify.db.bak.old` (the one before). A backup that
holds fewer accounts or certificates than the `certify.db.bak` it pushes aside first keeps that fuller
one as `certify.db.bak.last-good`, which later rotations never touch, unless an even fuller one replaces it:
an emptied database can then no longer rotate every good copy out.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import peewee

from certify_tui import paths
from certify_tui.errors import StorageError
from certify_tui.paths import fsync_directory, os_error_reason
from certify_tui.store.guard import check_rows
from certify_tui.store.readonly import connect_read_only

BACKUP_NAME = "certify.db.bak"
OLD_NAME = f"{BACKUP_NAME}.old"
LAST_GOOD_NAME = f"{BACKUP_NAME}.last-good"


@dataclass
class DatabaseSummary:
    """What one SQLite file holds; `problems` is empty when it is a sound certify-tui database."""

    path: Path
    exists: bool
    size: int = 0
    modified: datetime | None = None
    integrity: str = "ok"  # ok, damaged, missing, empty, not checked
    problems: list[str] = field(default_factory=list)
    schema_version: int | None = None
    accounts: int | None = None
    certificates: int | None = None
    versions: int | None = None

    @property
    def ok(self) -> bool:
        return self.integrity == "ok" and self.schema_version is not None

    def holds_less_than(self, other: DatabaseSummary) -> bool:
        """Fewer accounts or fewer certificates than `other` (an unreadable file holds nothing)."""
        return ((self.accounts or 0) < (other.accounts or 0)
                or (self.certificates or 0) < (other.certificates or 0))

    def holds_at_least(self, other: DatabaseSummary) -> bool:
        return ((self.accounts or 0) >= (other.accounts or 0)
                and (self.certificates or 0) >= (other.certificates or 0))

    def contents(self) -> str:
        if self.accounts is None:
            return "-"
        return f"{self.accounts} account(s), {self.certificates} certificate(s)"

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = str(self.path)
        data["modified"] = self.modified.isoformat() if self.modified else None
        data["ok"] = self.ok
        return data


def inspect(path: Path, *, full: bool = True) -> DatabaseSummary:
    """Read-only look at an SQLite file: integrity (`integrity_check`, or `quick_check` if not `full`), counts."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return DatabaseSummary(path, exists=False, integrity="missing")
    except OSError as exc:
        return DatabaseSummary(path, exists=True, integrity="damaged", problems=[os_error_reason(exc)])
    summary = DatabaseSummary(path, exists=True, size=stat.st_size,
                              modified=datetime.fromtimestamp(stat.st_mtime, UTC))
    if stat.st_size == 0:
        summary.integrity = "empty"
        return summary
    def connect(options: str) -> sqlite3.Connection:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?{options}", uri=True, timeout=10)
        try:
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        except sqlite3.Error:
            conn.close()
            raise
        return conn

    try:
        # read-only: looking never creates or changes the database, and works on read-only media too
        conn = connect_read_only(path, connect)
    except StorageError as exc:  # unreadable as it stands, which says nothing about damage
        summary.integrity, summary.problems = "unreadable", [exc.message]
        return summary
    except sqlite3.Error as exc:
        summary.integrity, summary.problems = "damaged", [str(exc)]
        return summary
    try:
        pragma = "integrity_check" if full else "quick_check"
        rows = check_rows(conn.execute(f"PRAGMA {pragma}(20)"))
        if rows != ["ok"]:
            summary.integrity, summary.problems = "damaged", rows
            return summary
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "schema_version" not in tables:
            summary.integrity, summary.problems = "empty", ["no certify-tui tables"]
            return summary
        summary.schema_version = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0
        counts = {"account": 0, "managed_certificate": 0, "certificate_version": 0}
        for table in counts:
            if table in tables:
                counts[table] = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        summary.accounts = counts["account"]
        summary.certificates = counts["managed_certificate"]
        summary.versions = counts["certificate_version"]
    except sqlite3.Error as exc:
        summary.integrity, summary.problems = "damaged", [str(exc)]
    finally:
        conn.close()
    return summary


def backup_names() -> tuple[str, ...]:
    return (BACKUP_NAME, OLD_NAME, LAST_GOOD_NAME)


def list_backups(root: Path, *, full: bool = True) -> list[DatabaseSummary]:
    """The backups in the data folder, newest first (by the time they were written)."""
    found = [inspect(root / name, full=full) for name in backup_names() if (root / name).exists()]
    return sorted(found, key=lambda s: s.modified or datetime.min.replace(tzinfo=UTC), reverse=True)


def copy_database(source: Path, target: Path, *, read_only: bool = False) -> DatabaseSummary:
    """Consistent online copy of `source` to the new file `target` (0600, standalone, integrity-checked).

    SQLite's backup API reads one snapshot from its own connection, so other processes may keep writing.
    On any failure `target` does not exist afterwards. `read_only` for a backup being restored, which may sit
    on read-only media; the live database is opened read-write (mode=rw, never created), as WAL needs.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    try:
        os.close(os.open(target, flags, 0o600))  # 0600 before SQLite opens it: it holds account keys
        if not paths.IS_WINDOWS:
            os.chmod(target, 0o600)
    except OSError as exc:
        raise StorageError(f"Could not create {target}: {os_error_reason(exc)}.", detail=str(exc)) from exc
    try:
        mode = "ro" if read_only else "rw"  # neither creates a missing source
        src = sqlite3.connect(f"{source.resolve().as_uri()}?mode={mode}", uri=True, timeout=10)
        try:
            dest = sqlite3.connect(target, timeout=10)
            try:
                src.backup(dest)  # one step, one read snapshot, whatever others write meanwhile
                dest.execute("PRAGMA journal_mode=DELETE")  # a standalone file: no -wal beside it
                rows = check_rows(dest.execute("PRAGMA integrity_check"))
                if rows != ["ok"]:
                    raise StorageError(f"The copy of {source} failed its integrity check ({'; '.join(rows[:3])}); "
                                       f"nothing was replaced.")
            finally:
                dest.close()
        finally:
            src.close()
        with open(target, "rb+") as handle:  # on disk before a rename makes it visible
            os.fsync(handle.fileno())
    except BaseException as exc:
        for leftover in (target, Path(f"{target}-journal")):
            with contextlib.suppress(OSError):
                leftover.unlink()
        if isinstance(exc, sqlite3.Error):
            raise StorageError(f"Could not copy the database {source}: {exc}.", detail=str(exc)) from exc
        if isinstance(exc, OSError):
            raise StorageError(f"Could not copy the database {source} to {target}: {os_error_reason(exc)}.",
                               detail=str(exc)) from exc
        raise
    return inspect(target)


@dataclass
class RotatedBackup:
    path: Path
    summary: DatabaseSummary
    previous: Path | None = None  # the one it replaced, now certify.db.bak.old
    last_good: Path | None = None  # set when a fuller backup was kept aside as certify.db.bak.last-good

    def describe(self) -> str:
        """One line for the app log: what was written and which older copies are kept."""
        message = f"wrote {self.path} ({self.summary.size} bytes, {self.summary.contents()})"
        if self.previous is not None:
            message += f"; previous kept as {self.previous.name}"
        if self.last_good is not None:
            message += (f"; the copy holds fewer accounts or certificates than the previous backup, which is also "
                        f"kept as {self.last_good.name}")
        return message


def sqlite_file(db: peewee.Database) -> Path | None:
    """The SQLite file behind an open database: None for any other database (PostgreSQL) or an in-memory one."""
    if not isinstance(db, peewee.SqliteDatabase):
        return None
    name = str(db.database)
    if name in ("", ":memory:") or name.startswith("file::memory:"):
        return None
    return Path(name)


def backup_into_folder(source: Path, root: Path) -> RotatedBackup:
    """Back `source` up to `root/certify.db.bak`: the previous one becomes `.bak.old`, and a fuller one
    than the new copy is also kept as `.bak.last-good`."""
    target, old, last_good = root / BACKUP_NAME, root / OLD_NAME, root / LAST_GOOD_NAME
    temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    summary = copy_database(source, temp)
    kept: Path | None = None
    try:
        had_previous = target.exists()
        if had_previous:
            current = inspect(target, full=False)
            if current.ok and summary.holds_less_than(current):
                kept_one = inspect(last_good, full=False) if last_good.exists() else None
                if kept_one is None or not kept_one.ok or current.holds_at_least(kept_one):
                    _copy_file(target, last_good)
                    kept = last_good
            os.replace(target, old)
        os.replace(temp, target)
        fsync_directory(root)
    except OSError as exc:
        raise StorageError(f"Could not back up the database to {target}: {os_error_reason(exc)}.",
                           detail=str(exc)) from exc
    finally:
        with contextlib.suppress(OSError):
            temp.unlink()
    summary.path = target
    return RotatedBackup(target, summary, previous=old if had_previous else None, last_good=kept)


def backup_to_file(source: Path, target: Path) -> DatabaseSummary:
    """`db backup --to FILE`: a new file only (an existing one is never overwritten)."""
    if target.exists():
        raise StorageError(f"{target} already exists; choose another file name or remove it first.")
    if not target.parent.is_dir():
        raise StorageError(f"Cannot write {target}: the folder {target.parent} does not exist.")
    temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    summary = copy_database(source, temp)
    try:
        if target.exists():  # appeared meanwhile
            raise StorageError(f"{target} already exists; choose another file name or remove it first.")
        os.replace(temp, target)
        fsync_directory(target.parent)
    except OSError as exc:
        raise StorageError(f"Could not write {target}: {os_error_reason(exc)}.", detail=str(exc)) from exc
    finally:
        with contextlib.suppress(OSError):
            temp.unlink()
    summary.path = target
    return summary


def _copy_file(source: Path, target: Path) -> None:
    """Byte copy through a 0600 temporary file renamed into place (mtime kept: it says when the backup was made)."""
    temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    try:
        paths.write_new_file(temp, source.read_bytes(), mode=0o600)
        stat = source.stat()
        os.utime(temp, (stat.st_atime, stat.st_mtime))
        os.replace(temp, target)
    finally:
        with contextlib.suppress(OSError):
            temp.unlink()
