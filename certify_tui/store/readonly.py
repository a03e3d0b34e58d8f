"""Opening the SQLite database of a read-only data folder (mounted read-only for inspection, a snapshot).

SQLite cannot open a WAL database read-only unless its `-shm` file exists or can be created; on read-only
media `immutable=1` tells it nobody writes the file, so it needs neither locks nor the shared memory.
Any write then fails with "attempt to write a readonly database", which the faces report in one line.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import peewee

from certify_tui import secrets_box
from certify_tui.errors import StorageError
from certify_tui.store import guard, migrations
from certify_tui.store.models import SchemaVersion, database_proxy

T = TypeVar("T")


def connect_read_only(path: Path, connect: Callable[[str], T]) -> T:
    """`connect(uri_options)` for a database that must only be read, on media that may be read-only.

    `connect` must read something, so that SQLite opens its shared memory there and then: `mode=ro` first
    (it reads a write-ahead log too, if its -shm file can be opened), else `immutable=1`, but only when no
    write-ahead log holds changes, because immutable reads would silently ignore them."""
    try:
        return connect("mode=ro")
    except (sqlite3.Error, peewee.PeeweeException) as exc:
        wal = path.with_name(f"{path.name}-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise StorageError(f"Cannot read the database {path}: its latest changes are still in {wal.name} "
                               f"and the data folder is read-only; remount it read-write once.") from exc
    return connect("mode=ro&immutable=1")


def open_read_only(path: Path) -> peewee.Database:
    secrets_box.use_key_file(path.parent / secrets_box.KEY_FILE_NAME)
    if not path.is_file():
        raise StorageError(f"The data folder {path.parent} is read-only and has no database ({path.name}); "
                           f"remount it read-write to create one.")
    try:
        db, current = connect_read_only(path, lambda options: _connect(path, options))
    except peewee.PeeweeException as exc:
        if guard.is_damage(exc):
            raise guard.damaged(path, str(exc)) from exc
        raise StorageError(f"Cannot read the database {path} (read-only data folder): {exc}.") from exc
    try:
        guard.quick_check(db, path)  # damage is reported the same way on read-only media
    except BaseException:
        db.close()
        raise
    if current != migrations.LATEST:
        raise StorageError(f"The database {path} has schema version {current} and this certify-tui needs "
                           f"{migrations.LATEST}: the data folder is read-only, so it cannot be upgraded; "
                           f"remount it read-write once.")
    return db


def _connect(path: Path, options: str) -> tuple[peewee.Database, int]:
    db = peewee.SqliteDatabase(f"{path.resolve().as_uri()}?{options}", uri=True, pragmas={"foreign_keys": 1})
    database_proxy.initialize(db)
    db.connect(reuse_if_open=True)
    try:
        return db, SchemaVersion.select(peewee.fn.MAX(SchemaVersion.version)).scalar() or 0
    except peewee.PeeweeException:
        db.close()
        raise
