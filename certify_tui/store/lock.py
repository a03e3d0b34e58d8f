"""Who is using an SQLite database: an OS lock on `<database>.lock` that every user holds while it runs.

Every process that opens the database (the service, the TUI, each CLI command) holds a shared lock;
`db restore` needs the exclusive one, so it can never swap the file under a running process. The OS
drops the lock when the process ends, even by kill -9, so there is never a stale lock to clean up.

POSIX: `flock` on the whole file (shared / exclusive). Windows: msvcrt has only exclusive byte-range
locks, so each user locks one byte of its own in a slot range, and the restorer locks a guard byte plus
the whole range: that fails while any slot is held.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import time
from pathlib import Path

from certify_tui.errors import StorageError
from certify_tui.paths import os_error_reason

_WIN_SLOTS = 4096  # Windows: users lock one byte in [1, 1 + _WIN_SLOTS); byte 0 is the restorer's guard


def lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".lock")


class DatabaseInUse(StorageError):
    """Another process holds the database (exclusive wanted) or a restore is running (shared wanted)."""


class HolderLock:
    """A lock on `<database>.lock`; `shared()` for users, `exclusive()` for a restore. `release()` or exit frees it."""

    def __init__(self, database: Path, fd: int | None, slot: int | None = None) -> None:
        self.database = database
        self._fd: int | None = fd
        self._slot = slot  # Windows only: the byte this user locked

    @classmethod
    def shared(cls, database: Path, timeout: float = 10.0) -> HolderLock:
        """Wait up to `timeout` seconds for a running restore to finish (restores take a second or two)."""
        try:
            fd = _open(database)
        except StorageError:
            # A folder we may not write (read-only mount, another user's): nobody can restore into it
            # either, so reading without the lock is safe.
            return cls(database, None)
        deadline = time.monotonic() + timeout
        while True:
            try:
                slot = _lock(fd, exclusive=False)
                return cls(database, fd, slot)
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise DatabaseInUse(f"The database {database} is being restored by another certify-tui "
                                        f"process; try again when it has finished.") from None
                time.sleep(0.1)

    @classmethod
    def exclusive(cls, database: Path) -> HolderLock:
        """The only user, or DatabaseInUse at once."""
        fd = _open(database)
        try:
            slot = _lock(fd, exclusive=True)
        except BlockingIOError:
            os.close(fd)
            raise DatabaseInUse(
                f"The database {database} is in use by another certify-tui process (the service, the TUI or a "
                f"command); stop it first (e.g. systemctl stop certify-tui, quit the TUI), then try again."
            ) from None
        return cls(database, fd, slot)

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            _unlock(fd, self._slot)
        os.close(fd)  # closing drops the lock anyway


def _open(database: Path) -> int:
    path = lock_path(database)
    extra = getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        try:
            return os.open(path, os.O_RDWR | os.O_CREAT | extra, 0o600)
        except OSError as exc:
            if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS) or os.name == "nt" or not path.exists():
                raise
            return os.open(path, os.O_RDONLY | extra)  # flock works on a read-only descriptor too
    except OSError as exc:
        raise StorageError(f"Cannot open the lock file {path}: {os_error_reason(exc)}.", detail=str(exc)) from exc


if sys.platform != "win32":  # the real OS picks the module, whatever paths.IS_WINDOWS says in tests
    import fcntl

    def _lock(fd: int, *, exclusive: bool) -> int | None:
        fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)  # BlockingIOError if held
        return None

    def _unlock(fd: int, slot: int | None) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)

else:  # pragma: no cover - Windows
    import msvcrt

    def _locked(fd: int, offset: int, length: int) -> bool:
        os.lseek(fd, offset, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, length)
        except OSError:
            return False
        return True

    def _release(fd: int, offset: int, length: int) -> None:
        os.lseek(fd, offset, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, length)

    def _lock(fd: int, *, exclusive: bool) -> int | None:
        if not _locked(fd, 0, 1):  # a restore is running (or another user is passing the guard: retry)
            raise BlockingIOError
        if exclusive:
            if not _locked(fd, 1, _WIN_SLOTS):
                _release(fd, 0, 1)
                raise BlockingIOError
            return None
        _release(fd, 0, 1)
        start = os.getpid() % _WIN_SLOTS
        for i in range(_WIN_SLOTS):
            slot = 1 + (start + i) % _WIN_SLOTS
            if _locked(fd, slot, 1):
                return slot
        raise BlockingIOError

    def _unlock(fd: int, slot: int | None) -> None:
        if slot is None:
            _release(fd, 1, _WIN_SLOTS)
            _release(fd, 0, 1)
        else:
            _release(fd, slot, 1)
