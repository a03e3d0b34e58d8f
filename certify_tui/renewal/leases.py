"""One renewer per certificate, across threads, processes and servers sharing the database.

A lease is (owner, expiry) on the certificate's row, taken with one conditional UPDATE, which
SQLite and PostgreSQL both apply atomically. A crashed worker's lease expires; on the same host
a lease whose process is gone is taken over at once, so a restart after `kill -9` resumes.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from certify_tui.errors import NotFoundError, OperationError
from certify_tui.processes import pid_alive
from certify_tui.store.models import ManagedCertificate

LEASE_SECONDS = 15 * 60  # longer than any order's timeout; renewed work never outlives it
_PROCESS_NONCE = uuid.uuid4().hex[:8]


def process_started() -> datetime:
    """When this process was created (not when this module was imported): two commands launched together
    both count as started before either issues anything. Falls back to the import time."""
    try:
        if sys.platform == "win32":
            import ctypes
            from ctypes import wintypes

            times = [wintypes.FILETIME() for _ in range(4)]
            handle = ctypes.windll.kernel32.GetCurrentProcess()
            if ctypes.windll.kernel32.GetProcessTimes(handle, *[ctypes.byref(t) for t in times]):
                ticks = (times[0].dwHighDateTime << 32) | times[0].dwLowDateTime  # 100 ns since 1601
                return datetime(1601, 1, 1, tzinfo=UTC) + timedelta(microseconds=ticks // 10)
        else:
            with open(f"/proc/{os.getpid()}/stat", encoding="ascii") as f:
                start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])  # field 22: start time after boot
            with open("/proc/uptime", encoding="ascii") as f:
                uptime = float(f.read().split()[0])
            age = uptime - start_ticks / os.sysconf("SC_CLK_TCK")
            return datetime.now(UTC) - timedelta(seconds=max(age, 0.0))
    except (OSError, ValueError, IndexError, AttributeError):
        pass
    return _IMPORTED


_IMPORTED = datetime.now(UTC)


def owner_id() -> str:
    """host:pid:nonce:thread; the nonce tells a restarted process from a recycled pid."""
    return f"{socket.gethostname()}:{os.getpid()}:{_PROCESS_NONCE}:{threading.get_ident()}"


def _process_gone(owner: str) -> bool:
    """True when the owner ran on this host and its process no longer exists."""
    parts = owner.split(":")
    if len(parts) < 3 or parts[0] != socket.gethostname():
        return False
    try:
        pid = int(parts[1])
    except ValueError:
        return False
    if pid == os.getpid():
        return parts[2] != _PROCESS_NONCE
    return not pid_alive(pid)


def acquire(name: str, owner: str, seconds: int = LEASE_SECONDS) -> bool:
    now = datetime.now(UTC)
    m = ManagedCertificate
    free = m.lease_owner.is_null() | (m.lease_expires < now) | (m.lease_owner == owner)
    taken = m.update(lease_owner=owner, lease_expires=now + timedelta(seconds=seconds)).where(
        (m.name == name) & free).execute()
    if taken:
        return True
    row = m.select(m.lease_owner).where(m.name == name).first()
    if row is None:
        raise NotFoundError(f"No certificate named '{name}'.")
    if row.lease_owner and _process_gone(row.lease_owner):
        # Take over a dead local process's lease, still conditionally: two restarts cannot both win.
        return bool(m.update(lease_owner=owner, lease_expires=now + timedelta(seconds=seconds)).where(
            (m.name == name) & (m.lease_owner == row.lease_owner)).execute())
    return False


def release(name: str, owner: str) -> None:
    m = ManagedCertificate
    m.update(lease_owner=None, lease_expires=None).where((m.name == name) & (m.lease_owner == owner)).execute()


def holder(name: str) -> str | None:
    row = ManagedCertificate.select(ManagedCertificate.lease_owner).where(ManagedCertificate.name == name).first()
    return row.lease_owner if row else None


class Busy(OperationError):
    def __init__(self, name: str, owner: str | None) -> None:
        who = owner.rsplit(":", 2)[0] if owner else "another worker"
        super().__init__(f"'{name}' is being renewed by {who} right now; try again when it finishes.")


@contextmanager
def lease(name: str, owner: str | None = None) -> Iterator[str]:
    owner = owner or owner_id()
    if not acquire(name, owner):
        raise Busy(name, holder(name))
    try:
        yield owner
    finally:
        release(name, owner)
