"""Keeping the database and `live/` in agreement after a crash, and clearing what a killed process left.

Storing a version (lifecycle.request._store) goes: intent mark -> archive folder -> one transaction that
records the version row and switches `live` -> mark removed. The rule for repair is "live follows the
database": whatever point a crash (or `kill -9`, or a full disk) interrupted, `live` is pointed back at
the version the database records, archive folders newer than it that no row knows are removed, and
temporary files (`.pending-privkey.pem.*.tmp`, `.live.*.tmp`) go. Repair runs under the certificate's
lease, so it never races a process that is storing right now.

`repair_interrupted` runs at every start and only looks at marked certificates (one folder listing when
nothing was interrupted); `sweep` (daily maintenance) looks at every certificate, for leftovers made
before marks existed or whose mark was lost.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import peewee

from certify_tui.certfiles import CertificateFiles
from certify_tui.errors import CertifyError
from certify_tui.paths import DataDir, ensure_private_dir, fsync_directory, write_error
from certify_tui.renewal import leases
from certify_tui.renewal.step_result import StepResult, report
from certify_tui.store.models import CertificateVersion, ManagedCertificate

log = logging.getLogger("certify_tui")

MARKS = ".storing"  # under certificates/; a certificate name never starts with '.'
STALE_TEMP_SECONDS = 3600  # a temporary file in the data folder this old belongs to no running process


@dataclass
class CleanupResult(StepResult):
    step: ClassVar[str] = "cleanup"
    actions: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _marks(data: DataDir) -> Path:
    return data.certificates / MARKS


def mark_storing(data: DataDir, name: str) -> Path:
    """Note on disk that `name` is storing a version; raises StorageError (nothing changed) if it cannot."""
    path = ensure_private_dir(_marks(data)) / name
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        os.close(fd)
    except OSError as exc:
        raise write_error(path, exc) from exc
    fsync_directory(path.parent)
    return path


def clear_mark(path: Path) -> None:
    with contextlib.suppress(OSError):  # a mark left behind only costs a no-op repair
        path.unlink()


def interrupted(data: DataDir) -> list[str]:
    try:
        return sorted(entry.name for entry in _marks(data).iterdir())
    except OSError:
        return []


def repair_certificate(data: DataDir, cert: ManagedCertificate) -> list[str]:
    """Make `live` show the version the database records and remove what no row knows; returns what it did.
    The caller holds the certificate's lease."""
    files = CertificateFiles(data.certificates, cert.name)  # recover(): finishes an interrupted copy swap
    rows = list(CertificateVersion.select().where(CertificateVersion.certificate == cert))
    known = {Path(row.archive_dir).name for row in rows}
    current = max(rows, key=lambda row: row.version, default=None)
    folders = files.folders()
    actions: list[str] = []
    live = files.live_folder()
    if current is not None:
        target = files.archive / Path(current.archive_dir).name
        if live != target.name and target.is_dir() and files.is_complete(target):
            files.switch_live(target)
            live = target.name
            actions.append(f"{cert.name}: live switched back to {target.name}, the version the database records")
    elif os.path.lexists(files.live_dir) and live not in known:
        # The first version was never recorded: no live set until one is.
        files.remove_live()
        live = None
        actions.append(f"{cert.name}: removed a live set the database never recorded")
    newest = current.version if current is not None else 0
    for number, folder in sorted(folders.items()):
        if number > newest and folder.name not in known and folder.name != live:
            files.discard(folder)
            actions.append(f"{cert.name}: removed {folder.relative_to(files.base)}, a version never recorded")
    if files.base.is_dir():
        for stale in files.base.glob(".*.tmp"):
            with contextlib.suppress(OSError):
                stale.unlink()
                actions.append(f"{cert.name}: removed the leftover temporary file {stale.name}")
    return actions


def _repair_leased(data: DataDir, name: str) -> list[str] | None:
    """Repair under the lease; None if another process holds it (it is working on the certificate)."""
    cert = ManagedCertificate.get_or_none(ManagedCertificate.name == name)
    if cert is None:
        return []
    owner = leases.owner_id()
    if not leases.acquire(name, owner):
        return None
    try:
        return repair_certificate(data, cert)
    finally:
        leases.release(name, owner)


def repair_interrupted(data: DataDir) -> list[str]:
    """At start: repair each certificate whose storing was interrupted. Never fails the caller."""
    actions: list[str] = []
    for name in interrupted(data):
        try:
            done = _repair_leased(data, name)
        except (CertifyError, OSError, peewee.PeeweeException) as exc:
            log.warning("%s: could not repair after an interrupted store: %s", name, exc)
            continue
        if done is None:
            continue  # being stored right now; its owner removes the mark
        clear_mark(_marks(data) / name)
        for action in done:
            log.warning("repair: %s", action)
        actions += done
    return actions


def sweep(data: DataDir) -> CleanupResult:
    """Daily: repair every certificate (skipping busy ones) and remove stale temporary files."""
    actions: list[str] = []
    errors: list[str] = []
    for cert in ManagedCertificate.select(ManagedCertificate.name).order_by(ManagedCertificate.name):
        try:
            actions += _repair_leased(data, cert.name) or []
        except (CertifyError, OSError, peewee.PeeweeException) as exc:
            errors.append(f"{cert.name}: {exc}")
    cutoff = time.time() - STALE_TEMP_SECONDS
    for folder in (data.root, data.logs):
        for stale in folder.glob(".*.tmp") if folder.is_dir() else []:
            with contextlib.suppress(OSError):
                if stale.stat().st_mtime < cutoff:
                    stale.unlink()
                    actions.append(f"removed the leftover temporary file {stale}")
    message = f"{len(actions)} repair(s)" + (f": {'; '.join(actions[:3])}" if actions else "")
    if errors:
        message += f"; {len(errors)} failed: {'; '.join(errors[:3])}"
    return report(CleanupResult(ok=not errors, message=message, actions=actions, errors=errors))
