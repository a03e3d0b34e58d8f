"""Putting a backup back in place of the live SQLite database, keeping whatever was there aside."""

from __future__ import annotations

import contextlib
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from certify_tui.errors import StorageError, UsageError
from certify_tui.paths import fsync_directory, os_error_reason
from certify_tui.store import migrations
from certify_tui.store.backup import DatabaseSummary, copy_database, inspect, list_backups
from certify_tui.store.lock import HolderLock


@dataclass
class RestorePlan:
    database: Path
    source: DatabaseSummary
    current: DatabaseSummary
    fuller: list[DatabaseSummary]  # good backups holding more than the chosen one (offered with --from)


@dataclass
class RestoreResult:
    database: Path
    source: Path
    aside: Path | None  # where the replaced file went (certify.db.damaged-<time>), None if there was none
    restored: DatabaseSummary


def plan_restore(database: Path, root: Path, source: Path | None = None) -> RestorePlan:
    """Which backup would be restored (the given one, else the newest good one) and what it replaces.

    Refuses at once (DatabaseInUse) while another process uses the database, before anyone is asked.
    """
    HolderLock.exclusive(database).release()
    if source is not None:
        source = Path(os.path.abspath(source))
        if source == Path(os.path.abspath(database)):
            raise UsageError(f"{source} is the database itself; name a backup with --from.")
        chosen = inspect(source)
        if not chosen.exists:
            raise UsageError(f"No such backup: {source}.")
        if not chosen.ok:
            raise StorageError(f"{source} is not a sound certify-tui database ({_why(chosen)}); "
                               f"choose another backup (`certify-tui db check` lists them).")
        good = [b for b in list_backups(root) if b.ok]
    else:
        backups = list_backups(root)
        good = [b for b in backups if b.ok]
        if not good:
            what = ", ".join(f"{b.path.name}: {_why(b)}" for b in backups) or "none found"
            raise StorageError(f"No good backup in {root} to restore ({what}); name one with --from FILE.")
        chosen = good[0]
    if (chosen.schema_version or 0) > migrations.LATEST:
        raise StorageError(f"{chosen.path} has schema version {chosen.schema_version}, newer than this certify-tui "
                           f"understands ({migrations.LATEST}); upgrade certify-tui first.")
    fuller = [b for b in good if b.path != chosen.path and chosen.holds_less_than(b)]
    return RestorePlan(database, chosen, inspect(database), fuller)


def restore(plan: RestorePlan) -> RestoreResult:
    """Copy the backup in (checked), move the current file and its -wal aside, rename the copy into place."""
    database = plan.database
    lock = HolderLock.exclusive(database)  # held throughout: nobody opens the database half-restored
    temp = database.with_name(f".{database.name}.{secrets.token_hex(6)}.tmp")
    aside: Path | None = None
    try:
        restored = copy_database(plan.source.path, temp, read_only=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        candidate = database.with_name(f"{database.name}.damaged-{stamp}")
        try:
            if database.exists():
                aside = candidate
                os.replace(database, aside)
            # A stale -wal beside the restored file would be replayed into it: it belongs with the old one.
            for suffix in ("-wal", "-journal"):
                side = database.with_name(database.name + suffix)
                if side.exists():
                    os.replace(side, candidate.with_name(candidate.name + suffix))
            with contextlib.suppress(FileNotFoundError):
                database.with_name(database.name + "-shm").unlink()  # only an index of the -wal
            os.replace(temp, database)
            fsync_directory(database.parent)
        except OSError as exc:
            raise StorageError(f"Could not restore {database}: {os_error_reason(exc)}"
                               f"{f' (the previous file is at {aside})' if aside else ''}.",
                               detail=str(exc)) from exc
    finally:
        with contextlib.suppress(OSError):
            temp.unlink()
        lock.release()
    restored.path = database
    return RestoreResult(database, plan.source.path, aside, restored)


def _why(summary: DatabaseSummary) -> str:
    if summary.problems:
        return f"{summary.integrity}: {summary.problems[0]}"
    return summary.integrity
