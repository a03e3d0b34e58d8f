"""One built-in http-01 listener per port for every certify-tui process of a data folder on this host.

The service and a manual `renew` (or two cron runs) may need the same port at once. Sharing beats queueing:
a holder keeps a port for a whole batch (minutes for the service), so a queued process would wait that long
or give up. Instead the process that could bind the port (the holder) also answers the tokens other processes
(guests) put as files into `<data>/http-01/<host>/<address>_<port>/guests/<pid>_<nonce>/`, and keeps
listening while a live guest has tokens there. One file lock orders "a guest checks that the holder is alive
and writes its tokens" against "the holder sees no guest needs it, closes the socket and removes its mark",
so a guest never publishes to a socket that is closing. The folder is private (0700): only this user's
certify-tui can make the holder answer.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from certify_tui.paths import ensure_private_dir, write_private_file
from certify_tui.processes import pid_alive

# ACME tokens are base64url (RFC 8555 section 8.1): anything else is never looked up on disk.
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
_NONCE = uuid.uuid4().hex[:8]
_ME = f"{os.getpid()}_{_NONCE}"

_root: Path | None = None


def use_data_folder(root: Path | None) -> None:
    """Share listeners through this data folder (set when a Core opens); None: this process alone."""
    global _root
    _root = Path(root) / "http-01" / _safe(socket.gethostname()) if root is not None else None


def for_port(address: str, port: int) -> Share | None:
    return Share(_root / f"{_safe(address)}_{port}") if _root is not None else None


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]", "_", text) or "_"


def _alive(mark: str) -> bool:
    """`mark` is pid_nonce of a process on this host: is that process still running?"""
    pid_text, _, nonce = mark.partition("_")
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    if pid == os.getpid():
        return nonce == _NONCE
    return pid_alive(pid)


class Unavailable(Exception):
    """The share folder cannot be created or locked (a read-only data folder): listen alone."""


class Share:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.guests = folder / "guests"
        self.mark = folder / "holder"

    @contextmanager
    def locked(self) -> Iterator[None]:
        """An exclusive lock across processes (and threads: each call opens its own descriptor).
        Unavailable (before anything ran under it) when the data folder cannot hold the share."""
        try:
            ensure_private_dir(self.guests)
            fd = os.open(self.folder / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise Unavailable(str(exc)) from exc
        try:
            if sys.platform == "win32":  # the real OS decides which module exists (mypy reads it too)
                import msvcrt

                while True:
                    try:
                        msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
                        break
                    except OSError:  # LK_LOCK gives up after ten seconds; keep waiting
                        continue
            else:
                import fcntl

                fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            if sys.platform == "win32":
                import msvcrt

                os.lseek(fd, 0, os.SEEK_SET)
                msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
            os.close(fd)  # closing releases a flock

    # -- holder side (call under the lock) -------------------------------------------------------------
    def claim(self) -> None:
        write_private_file(self.mark, _ME.encode())

    def release(self) -> None:
        try:
            if self.mark.read_text(encoding="ascii").strip() == _ME:
                self.mark.unlink()
        except OSError:
            pass

    def guests_waiting(self) -> bool:
        """True while a live guest has tokens here; a dead guest's folder is removed on the way."""
        waiting = False
        for folder in self.guests.iterdir() if self.guests.is_dir() else ():
            if not _alive(folder.name):
                shutil.rmtree(folder, ignore_errors=True)
            elif folder.name != _ME and any(folder.iterdir()):
                waiting = True
        return waiting

    def lookup(self, token: str) -> bytes | None:
        """A guest's answer for `token` (read per request: guests come and go while the socket stays)."""
        if not _TOKEN_RE.fullmatch(token) or not self.guests.is_dir():
            return None
        for folder in self.guests.iterdir():
            try:
                return (folder / token).read_bytes()
            except OSError:
                continue
        return None

    # -- guest side --------------------------------------------------------------------------------------
    def holder_alive(self) -> bool:
        try:
            mark = self.mark.read_text(encoding="ascii").strip()
        except OSError:
            return False
        return mark != _ME and _alive(mark)

    def put(self, tokens: dict[str, str]) -> None:
        mine = ensure_private_dir(self.guests / _ME)
        for token, value in tokens.items():
            if _TOKEN_RE.fullmatch(token):
                write_private_file(mine / token, value.encode())

    def take_back(self, tokens: list[str]) -> None:
        for token in tokens:
            if _TOKEN_RE.fullmatch(token):
                (self.guests / _ME / token).unlink(missing_ok=True)

    def leave(self) -> None:
        shutil.rmtree(self.guests / _ME, ignore_errors=True)
