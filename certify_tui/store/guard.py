"""Guarding the SQLite database at open: never start afresh over an earlier one, notice damage early.

- A database is created only for a data folder with no trace of an earlier one (certificates, backups,
  certificate logs, a non-empty app log or write-ahead log). A deleted or emptied `certify.db` beside such
  traces is refused, naming the file and `certify-tui db restore`, instead of silently starting empty
  (after which the service would have rotated the good backups out).
- Every open runs `PRAGMA quick_check`, bounded in time; damage gives one line naming the file and
  `db restore`, never "unexpected DatabaseError".
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path

import peewee

from certify_tui.errors import StorageError
from certify_tui.paths import certificate_folders

RESTORE_HINT = "certify-tui db restore"
# PRAGMA quick_check reads every page once (O(N), no index cross-check): ~1 ms per MB here. The budget
# keeps a start-up on a huge file or a slow disk from stalling: past it the check is abandoned (it is a
# start-up guard, not the real audit) and the daily maintenance's full integrity_check still runs.
QUICK_CHECK_BUDGET = 0.5  # seconds
_PROGRESS_STEP = 10_000  # SQLite VM instructions between two looks at the clock
DAMAGE_CODES = frozenset({"SQLITE_CORRUPT", "SQLITE_NOTADB"})


class DatabaseDamaged(StorageError):
    """The SQLite file is not a sound database."""


def backup_files(root: Path) -> list[Path]:
    """Backups and damaged copies kept in the data folder (`certify.db.bak*`, `certify.db.damaged-*`)."""
    with contextlib.suppress(OSError):
        return sorted(p for pattern in ("certify.db.bak*", "certify.db.damaged-*")
                      for p in root.glob(pattern) if p.is_file() and not p.name.endswith(("-wal", "-shm")))
    return []


def earlier_data(root: Path, database: Path) -> list[str]:
    """What in the data folder shows a database existed before (empty list: a genuinely new folder)."""
    found: list[str] = []
    if certificate_folders(root / "certificates"):
        found.append("certificates")
    if backup_files(root):
        found.append("backups")
    logs = root / "logs"
    with contextlib.suppress(OSError):
        app_log = logs / "certify-tui.log"
        if any((logs / "certificates").glob("*.log")) or (app_log.is_file() and app_log.stat().st_size > 0):
            found.append("logs")
    with contextlib.suppress(OSError):
        wal = database.with_name(database.name + "-wal")
        if wal.is_file() and wal.stat().st_size > 0:
            found.append("a write-ahead log")
    return found


def refuse_new_database(database: Path, root: Path, state: str) -> None:
    """StorageError if `root` shows an earlier database; `state` says what is wrong ('missing', 'empty')."""
    found = earlier_data(root, database)
    if found:
        raise StorageError(
            f"The database {database} is {state}, but {root} holds {_join(found)} of an earlier one; nothing "
            f"was created: restore it with `{RESTORE_HINT}` (`certify-tui db check` lists the backups)."
        )


def damaged(database: Path | str, reason: str) -> DatabaseDamaged:
    return DatabaseDamaged(f"The database {database} is damaged ({reason}); restore the last good backup with "
                           f"`{RESTORE_HINT}` (the damaged file is kept aside).", detail=reason)


def sqlite_error_name(exc: BaseException) -> str | None:
    """SQLITE_CORRUPT, SQLITE_NOTADB, ... from an sqlite3 error or a peewee error wrapping one."""
    seen: BaseException | None = exc
    for _ in range(4):
        if seen is None:
            return None
        name = getattr(seen, "sqlite_errorname", None)
        if name:
            return str(name)
        inner = seen.args[0] if seen.args and isinstance(seen.args[0], BaseException) else None
        seen = seen.__cause__ or inner
    return None


def is_damage(exc: BaseException) -> bool:
    if sqlite_error_name(exc) in DAMAGE_CODES:
        return True
    text = str(exc).lower()  # older SQLite builds without error names
    return "malformed" in text or "file is not a database" in text


def known_database_error(exc: BaseException) -> DatabaseDamaged | None:
    """The one-line message for damage SQLite reports in the middle of some query, else None."""
    from certify_tui.store.models import database_proxy

    db = database_proxy.obj
    if isinstance(db, peewee.SqliteDatabase) and is_damage(exc):
        return damaged(db.database, str(exc))
    return None


def quick_check(db: peewee.Database, database: Path | str, budget: float = QUICK_CHECK_BUDGET) -> None:
    """For an SQLite database (its connection is an sqlite3.Connection).
    Raise DatabaseDamaged if `PRAGMA quick_check` finds a problem; give up quietly after `budget` seconds."""
    conn: sqlite3.Connection = db.connection()
    deadline = time.monotonic() + budget
    conn.set_progress_handler(lambda: int(time.monotonic() > deadline), _PROGRESS_STEP)
    try:
        rows = check_rows(conn.execute("PRAGMA quick_check(5)"))
    except sqlite3.OperationalError as exc:
        if "interrupt" in str(exc).lower():
            return  # over budget: left to the daily integrity_check
        raise
    except sqlite3.DatabaseError as exc:
        raise damaged(database, str(exc)) from exc
    finally:
        conn.set_progress_handler(None, 0)
    if rows != ["ok"]:
        raise damaged(database, "; ".join(rows[:2]))


def check_rows(rows: Iterable[tuple[object, ...]]) -> list[str]:
    """integrity_check/quick_check output as one problem a line (SQLite puts several lines in one row)."""
    lines = [line.strip() for row in rows for line in str(row[0]).splitlines()]
    return [line for line in lines if line and not line.startswith("*** in database")]


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
