"""Turning a full disk or a read-only data folder into one line a person can act on.

The same two conditions reach us in many shapes: an OSError (ENOSPC, EDQUOT, EROFS) from a file write,
SQLite's "database or disk is full" / "attempt to write a readonly database", or a later error (such as
peewee's "cannot rollback") raised while handling one of those. `cause_of` walks the whole chain.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from certify_tui.errors import CertifyError, StorageError

DISK_FULL = "No space left on device"
READ_ONLY = "Read-only file system"
_FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_SQLITE_FULL = ("database or disk is full",)
_SQLITE_READ_ONLY = ("attempt to write a readonly database", "readonly database")
_SQLITE_IO = ("disk i/o error", "unable to open database file")
# Below this, SQLite's vague "disk I/O error" on this folder is taken as a full disk: its shared-memory
# file alone needs 32 KiB, and a write of one page can fail with less than that free.
_NEARLY_FULL = 64 * 1024


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def free_bytes(path: Path) -> int | None:
    """Bytes free for us at `path` (or its nearest existing parent), None if unknown."""
    current = Path(path)
    while not current.exists() and current.parent != current:
        current = current.parent
    try:
        return shutil.disk_usage(current).free
    except OSError:
        return None


def is_read_only_folder(path: Path) -> bool:
    """True when `path` is on a file system mounted read-only (root's permissions do not matter there)."""
    statvfs = getattr(os, "statvfs", None)
    if statvfs is not None:
        try:
            return bool(statvfs(path).f_flag & getattr(os, "ST_RDONLY", 1))
        except OSError:
            return False
    return path.exists() and not os.access(path, os.W_OK)  # Windows: the read-only attribute


def cause_of(exc: BaseException, folder: Path | None = None) -> str | None:
    """DISK_FULL or READ_ONLY if that is what `exc` (or anything it was raised from) comes down to."""
    for link in _chain(exc):
        if isinstance(link, OSError) and link.errno in _FULL_ERRNOS:
            return DISK_FULL
        if isinstance(link, OSError) and link.errno == errno.EROFS:
            return READ_ONLY
        text = str(link).lower()
        if any(marker in text for marker in _SQLITE_FULL):
            return DISK_FULL
        if any(marker in text for marker in _SQLITE_READ_ONLY):
            return READ_ONLY
    if folder is not None and any(marker in str(link).lower() for link in _chain(exc) for marker in _SQLITE_IO):
        if is_read_only_folder(folder):
            return READ_ONLY
        free = free_bytes(folder)
        if free is not None and free < _NEARLY_FULL:
            return DISK_FULL
    return None


def storage_error(exc: BaseException, what: str, folder: Path | None = None) -> StorageError | None:
    """One clear StorageError for a full disk or a read-only folder while writing `what`, else None."""
    cause = cause_of(exc, folder)
    if cause == DISK_FULL:
        return StorageError(f"{DISK_FULL} while writing {what}: free some space and try again.", detail=str(exc))
    if cause == READ_ONLY:
        where = f" {folder}" if folder is not None else ""
        return StorageError(f"Cannot write {what}: the data folder{where} is on a read-only file system; "
                            f"remount it read-write to make changes.", detail=str(exc))
    return None


def explain(exc: BaseException, database: Path | str, folder: Path | None = None) -> CertifyError | None:
    """The error a person should see for `exc`: the first CertifyError it was raised from (a later failure,
    such as releasing a lease on a full disk, must not hide it), else a full disk or read-only folder."""
    for link in _chain(exc):
        if isinstance(link, CertifyError):
            return link
    return storage_error(exc, f"the database {database}", folder)
