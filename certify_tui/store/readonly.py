"""Opening the SQLite database of a read-only data folder (mounted read-only for inspection, a snapshot).

SQLite cannot open a WAL database read-only unless its `-shm` file exists or can be created; on read-only
media `immutable=1` tells it nobody writes the file, so it needs neither locks nor the shared memory.
Any write then fails with "attempt to write a readonly database", which the faces report in one line.
"""

from __future__ import annotations

from pathlib import Path

import peewee

from certify_tui.errors import StorageError
from certify_tui.store import migrations
from certify_tui.store.models import SchemaVersion, database_proxy


def open_read_only(path: Path) -> peewee.Database:
    if not path.is_file():
        raise StorageError(f"The data folder {path.parent} is read-only and has no database ({path.name}); "
                           f"remount it read-write to create one.")
    db = peewee.SqliteDatabase(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True,
                               pragmas={"foreign_keys": 1})
    database_proxy.initialize(db)
    try:
        db.connect(reuse_if_open=True)
        current = SchemaVersion.select(peewee.fn.MAX(SchemaVersion.version)).scalar() or 0
    except peewee.PeeweeException as exc:
        raise StorageError(f"Cannot read the database {path} (read-only data folder): {exc}.") from exc
    if current != migrations.LATEST:
        raise StorageError(f"The database {path} has schema version {current} and this certify-tui needs "
                           f"{migrations.LATEST}: the data folder is read-only, so it cannot be upgraded; "
                           f"remount it read-write once.")
    return db
