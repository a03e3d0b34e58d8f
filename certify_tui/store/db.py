"""Opening the database from a URL, with SQLite tuned for a multi-process, crash-safe store."""

from __future__ import annotations

import os
from pathlib import Path

import peewee
from playhouse import db_url

from certify_tui.errors import StorageError, UsageError
from certify_tui.store import migrations
from certify_tui.store.models import SchemaVersion, database_proxy

SQLITE_PRAGMAS = {
    "journal_mode": "wal",  # readers never block the writer: the TUI and the service share one file
    "foreign_keys": 1,
    "busy_timeout": 10_000,  # wait for another process's write instead of failing at once
    "synchronous": "normal",  # safe with WAL; a power cut loses at most the last commit
}


def database_url_for(path: Path) -> str:
    return f"sqlite:///{path.as_posix()}" if path.is_absolute() else f"sqlite:///{path}"


def open_database(url: str) -> peewee.Database:
    """Connect, bind the models and bring the schema up to date."""
    try:
        if url.startswith("sqlite:"):
            path = url.split("sqlite:///", 1)[-1]
            db: peewee.Database = peewee.SqliteDatabase(path, pragmas=SQLITE_PRAGMAS)
            _create_private(Path(path))
        else:
            db = db_url.connect(url)
    except (ValueError, RuntimeError, ImportError) as exc:
        raise UsageError(f"Cannot use database URL '{_redact(url)}': {exc}") from exc
    database_proxy.initialize(db)
    try:
        db.connect(reuse_if_open=True)
        migrate(db)
    except peewee.ImproperlyConfigured as exc:  # the database driver (e.g. psycopg2) is not installed
        raise UsageError(f"Cannot use database URL '{_redact(url)}': {exc} "
                         f"(install it, e.g. pip install 'certify-tui[postgres]').") from exc
    except peewee.OperationalError as exc:
        raise StorageError(f"Cannot open database '{_redact(url)}': {exc}") from exc
    return db


def close_database() -> None:
    db = database_proxy.obj
    if db is not None and not db.is_closed():
        db.close()


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
    return migrations.LATEST


def _create_private(path: Path) -> None:
    """Create the SQLite file 0600 before SQLite does, since it holds account keys."""
    if str(path) in ("", ":memory:") or path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    os.close(fd)


def _redact(url: str) -> str:
    """Hide a password in a URL before it reaches a message or a log."""
    if "://" in url and "@" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url
