"""Opening the database from a URL, with SQLite tuned for a multi-process, crash-safe store."""

from __future__ import annotations

import os
from pathlib import Path

import peewee
from playhouse import db_url

from certify_tui import secrets_box
from certify_tui.errors import StorageError, UsageError
from certify_tui.paths import ensure_private_dir, os_error_reason, resolve_data_dir
from certify_tui.store import guard, migrations
from certify_tui.store.lock import HolderLock
from certify_tui.store.models import SchemaVersion, database_proxy
from certify_tui.store.url import parse_database_url, redact, sqlite_url

SQLITE_PRAGMAS = {
    "journal_mode": "wal",  # readers never block the writer: the TUI and the service share one file
    "foreign_keys": 1,
    "busy_timeout": 10_000,  # wait for another process's write instead of failing at once
    "synchronous": "normal",  # safe with WAL; a power cut loses at most the last commit
}


# The one database this process uses (the models' proxy is process-wide too) holds this lock.
_holder: HolderLock | None = None


def database_url_for(path: Path) -> str:
    return sqlite_url(path)


def open_database(url: str, *, data_root: Path | None = None) -> peewee.Database:
    """Connect, bind the models and bring the schema up to date.

    With `data_root` (the data folder), an SQLite database is created only if that folder holds no trace
    of an earlier one (see guard.py). Every SQLite open runs a time-bounded quick check.
    """
    target = parse_database_url(url)
    secrets_box.use_key_file(secret_key_path(target.path, data_root))
    if target.path is not None:
        db: peewee.Database = _open_sqlite(target.path, data_root)
    else:
        try:
            db = db_url.connect(url)
        except (ValueError, RuntimeError, ImportError) as exc:
            raise UsageError(f"Cannot use database URL '{target.redacted}': {exc}") from exc
    database_proxy.initialize(db)
    try:
        db.connect(reuse_if_open=True)
        if target.path is not None:
            guard.quick_check(db, target.path)
            if data_root is not None and not db.table_exists(SchemaVersion._meta.table_name):
                guard.refuse_new_database(target.path, data_root, "empty (it holds no tables)")
        migrate(db)
    except peewee.ImproperlyConfigured as exc:  # the database driver (e.g. psycopg2) is not installed
        db.close()
        raise UsageError(f"Cannot use database URL '{target.redacted}': {exc} "
                         f"(install it, e.g. pip install 'certify-tui[postgres]').") from exc
    except peewee.DatabaseError as exc:
        db.close()
        if target.path is not None and guard.is_damage(exc):
            raise guard.damaged(target.path, str(exc)) from exc
        raise StorageError(f"Cannot open database '{target.redacted}': {exc}") from exc
    except BaseException:
        db.close()
        raise
    finally:
        if db.is_closed():
            close_database()  # refused: let go of the lock too
    return db


def secret_key_path(database: Path | None, data_root: Path | None) -> Path:
    """The key file sealing this database's secrets: in the data folder; without one, next to an SQLite file,
    else in the default data folder."""
    if data_root is not None:
        return data_root / secrets_box.KEY_FILE_NAME
    if database is not None:
        return database.parent / secrets_box.KEY_FILE_NAME
    return resolve_data_dir() / secrets_box.KEY_FILE_NAME


def _open_sqlite(path: Path, data_root: Path | None) -> peewee.SqliteDatabase:
    """Check the file before SQLite touches it: SQLite would silently start afresh on a missing or empty one."""
    try:
        if path.is_dir():
            raise UsageError(f"The database path {path} is a folder; name a file inside it.")
        size = path.stat().st_size if path.exists() else None
    except OSError as exc:
        raise StorageError(f"Cannot read the database file {path}: {os_error_reason(exc)}.") from exc
    if data_root is not None and not size:
        guard.refuse_new_database(path, data_root, "missing" if size is None else "empty (0 bytes)")
    _create_private(path)
    _hold(path)
    return peewee.SqliteDatabase(str(path), pragmas=SQLITE_PRAGMAS)


def _hold(path: Path) -> None:
    """Hold the database's shared lock while it is open, so `db restore` cannot swap it under us."""
    global _holder
    if _holder is not None:
        _holder.release()
        _holder = None
    _holder = HolderLock.shared(path)


def close_database() -> None:
    global _holder
    db = database_proxy.obj
    if db is not None and not db.is_closed():
        db.close()
    if _holder is not None:
        _holder.release()
        _holder = None


def migrate(db: peewee.Database) -> int:
    """Apply every migration newer than the stored version, each in its own transaction."""
    with db.atomic():
        db.create_tables([SchemaVersion], safe=True)
        current = SchemaVersion.select(peewee.fn.MAX(SchemaVersion.version)).scalar() or 0
    if current > migrations.LATEST:
        raise StorageError(
            f"The database has schema version {current}, newer than this certify-tui understands "
            f"({migrations.LATEST}); upgrade certify-tui."
        )
    for number in range(current + 1, migrations.LATEST + 1):
        with db.atomic():
            migrations.MIGRATIONS[number - 1](db)
            SchemaVersion.create(version=number)
    if current < migrations.LATEST and isinstance(db, peewee.SqliteDatabase):
        # Upgraded: earlier pages (plain-text secrets before schema 5) must not linger in the write-ahead log.
        db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return migrations.LATEST


def _create_private(path: Path) -> None:
    """Create the SQLite file 0600 before SQLite does, since it holds account keys."""
    if path.exists():
        return
    try:
        if not path.parent.exists():  # only a folder we create is made 0700; an existing one is the user's
            ensure_private_dir(path.parent)
        fd = os.open(path, os.O_CREAT | os.O_WRONLY | getattr(os, "O_BINARY", 0), 0o600)
        os.close(fd)
    except StorageError as exc:
        raise StorageError(f"Cannot create the database file {path}: {exc.message}", detail=exc.detail) from exc
    except OSError as exc:
        raise StorageError(f"Cannot create the database file {path}: {os_error_reason(exc)}; "
                           f"choose a folder you can write to.", detail=str(exc)) from exc


def _redact(url: str) -> str:
    return redact(url)
