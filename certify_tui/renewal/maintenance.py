"""Daily housekeeping: back up and check the database, prune old certificate versions, rotate logs, and ask
OCSP responders / CRLs whether a CA revoked one of our certificates.

Each step returns a small result and writes one line to the app log; `run_daily` runs them all,
and one step failing never stops the others.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import peewee

from certify_tui.certfiles import CertificateFiles
from certify_tui.errors import CertifyError
from certify_tui.paths import DataDir, os_error_reason
from certify_tui.renewal.repair import CleanupResult, sweep
from certify_tui.renewal.step_result import StepResult
from certify_tui.renewal.step_result import report as _report
from certify_tui.store import backup
from certify_tui.store.guard import RESTORE_HINT, check_rows
from certify_tui.store.models import CertificateVersion, ManagedCertificate

if TYPE_CHECKING:
    from certify_tui.lifecycle import Core

log = logging.getLogger("certify_tui")

PG_SKIPPED = "skipped: PostgreSQL is backed up with pg_dump"
LOG_MAX_BYTES = 5 * 1024 * 1024
LOG_KEEP = 5
REVOCATION_BUDGET_SECONDS = 300.0  # the whole daily revocation check; what is left waits for the next day


@dataclass
class BackupResult(StepResult):
    step: ClassVar[str] = "backup"
    path: Path | None = None  # the fresh backup
    previous: Path | None = None  # the one it replaced, kept as .bak.old
    size: int = 0
    last_good: Path | None = None  # a fuller previous backup also kept as .bak.last-good


@dataclass
class IntegrityResult(StepResult):
    step: ClassVar[str] = "integrity"
    problems: list[str] = field(default_factory=list)


@dataclass
class PruneResult(StepResult):
    step: ClassVar[str] = "prune"
    removed: dict[str, list[str]] = field(default_factory=dict)  # certificate -> removed archive folders
    rows_deleted: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class RotateResult(StepResult):
    step: ClassVar[str] = "rotate-logs"
    rotated: list[Path] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass
class RevocationCheckResult(StepResult):
    step: ClassVar[str] = "revocation-check"
    revoked: list[str] = field(default_factory=list)  # certificates found revoked (marked, renewing, notified)
    failed: list[str] = field(default_factory=list)  # no answer from any source: "name: why"
    left: int = 0  # not reached within the time budget; they go first next time


# -- backup -------------------------------------------------------------------------------------------


def backup_database(core: Core) -> BackupResult:
    """Copy the live SQLite database to `<data-dir>/certify.db.bak` (the previous one kept as `.bak.old`).

    Uses SQLite's online backup API from a separate connection, so other connections may keep writing;
    the copy is a consistent snapshot, checked with `PRAGMA integrity_check` before it is renamed into
    place, mode 0600 (it holds account keys). A copy holding fewer accounts or certificates than the backup
    it pushes aside keeps that one as `.bak.last-good` as well (see store/backup.py).
    """
    if not isinstance(core.db, peewee.SqliteDatabase):
        return _report(BackupResult(ok=True, message=PG_SKIPPED, skipped=True))
    source = backup.sqlite_file(core.db)
    if source is None:
        return _report(BackupResult(ok=True, message="skipped: in-memory database", skipped=True))
    done = backup.backup_into_folder(source, core.data.root)
    return _report(BackupResult(ok=True, message=done.describe(), path=done.path, previous=done.previous,
                                size=done.summary.size, last_good=done.last_good))


# -- integrity -------------------------------------------------------------------------------------------


def integrity_check(core: Core) -> IntegrityResult:
    """`PRAGMA integrity_check` is 'ok' and `PRAGMA foreign_key_check` finds nothing (SQLite only)."""
    if not isinstance(core.db, peewee.SqliteDatabase):
        return _report(IntegrityResult(ok=True, message="skipped: PostgreSQL checks its own integrity",
                                       skipped=True))
    problems = check_rows(core.db.execute_sql("PRAGMA integrity_check").fetchall())
    if problems == ["ok"]:
        problems = []
    for table, rowid, parent, _fk in core.db.execute_sql("PRAGMA foreign_key_check").fetchall():
        problems.append(f"{table} row {rowid} refers to a missing {parent} row")
    if problems:
        shown = "; ".join(problems[:5]) + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else "")
        return _report(IntegrityResult(ok=False, message=f"database problems: {shown}; restore the last good "
                                                         f"backup with `{RESTORE_HINT}`",
                                       problems=problems))
    return _report(IntegrityResult(ok=True, message="database ok"))


# -- pruning ---------------------------------------------------------------------------------------------


def prune_versions(core: Core, keep: int) -> PruneResult:
    """Keep the newest `keep` archived versions (and the live one) of every certificate; delete the rest
    and their `CertificateVersion` rows. The current row (highest version) is never deleted."""
    removed: dict[str, list[str]] = {}
    errors: list[str] = []
    rows_deleted = 0
    for cert in ManagedCertificate.select().order_by(ManagedCertificate.name):
        try:
            gone = CertificateFiles(core.data.certificates, cert.name).prune(keep)
            if not gone:
                continue
            removed[cert.name] = [str(path) for path in gone]
            gone_names = {path.name for path in gone}
            rows = list(CertificateVersion.select().where(CertificateVersion.certificate == cert)
                        .order_by(CertificateVersion.version.desc()))
            doomed = [row.id for row in rows[1:] if Path(row.archive_dir).name in gone_names]
            if doomed:
                rows_deleted += CertificateVersion.delete().where(CertificateVersion.id.in_(doomed)).execute()
        except (CertifyError, OSError, peewee.PeeweeException) as exc:
            errors.append(f"{cert.name}: {exc}")
    folders = sum(len(v) for v in removed.values())
    message = (f"kept {keep} per certificate; removed {folders} archived version(s) of {len(removed)} "
               f"certificate(s) and {rows_deleted} row(s)")
    if errors:
        message += f"; {len(errors)} failed: {'; '.join(errors[:3])}"
    return _report(PruneResult(ok=not errors, message=message, removed=removed,
                               rows_deleted=rows_deleted, errors=errors))


# -- logs ------------------------------------------------------------------------------------------------


def rotate_logs(data_dir: DataDir, max_bytes: int = LOG_MAX_BYTES, keep: int = LOG_KEEP) -> RotateResult:
    """Rotate the app log and each certificate log larger than `max_bytes` to `.1`, `.2`, ... keeping `keep`.

    Certificate logs are opened for each line (events.RequestLog), so a rename is enough. The app log is
    held open by a logging.FileHandler: its stream is closed under the handler's lock around the rename,
    and the handler reopens the path (a new, empty file) on its next record.
    """
    candidates = [data_dir.app_log]
    cert_logs = data_dir.logs / "certificates"
    with contextlib.suppress(OSError):
        candidates += sorted(cert_logs.glob("*.log"))
    rotated: list[Path] = []
    errors: list[str] = []
    for path in candidates:
        try:
            if not path.is_file() or path.stat().st_size <= max_bytes:
                continue
            handlers = _file_handlers(path)
            for handler in handlers:
                handler.acquire()
            try:
                for handler in handlers:
                    _close_stream(handler)  # reopened lazily by the next emit (FileHandler, mode 'a')
                _shift(path, keep)
            finally:
                for handler in reversed(handlers):
                    handler.release()
            rotated.append(path)
        except OSError as exc:
            errors.append(f"{path.name}: {os_error_reason(exc)}")
    message = f"rotated {len(rotated)} log(s) over {max_bytes} bytes" + (
        f"; {len(errors)} failed: {'; '.join(errors[:3])}" if errors else "")
    return _report(RotateResult(ok=not errors, message=message, rotated=rotated, errors=errors))


def _file_handlers(path: Path) -> list[logging.FileHandler]:
    target = os.path.normcase(os.path.abspath(path))
    found: list[logging.FileHandler] = []
    for logger in (logging.getLogger("certify_tui"), logging.getLogger()):
        for handler in logger.handlers:
            if (isinstance(handler, logging.FileHandler) and handler not in found
                    and os.path.normcase(handler.baseFilename) == target):
                found.append(handler)
    return found


def _close_stream(handler: logging.FileHandler) -> None:
    """Close the handler's file without retiring the handler: with `stream` None, emit() reopens the path."""
    stream = handler.stream
    if stream is None:
        return
    handler.stream = None
    with contextlib.suppress(OSError, ValueError):
        stream.flush()
    with contextlib.suppress(OSError, ValueError):
        stream.close()


def _shift(path: Path, keep: int) -> None:
    """path.{keep-1} -> path.{keep}, ..., path -> path.1; older ones (and any beyond `keep`) deleted."""
    def numbered(n: int) -> Path:
        return path.with_name(f"{path.name}.{n}")

    if keep < 1:
        path.unlink()
        return
    for stale in path.parent.glob(f"{path.name}.*"):
        suffix = stale.name[len(path.name) + 1:]
        if suffix.isdigit() and int(suffix) >= keep:
            stale.unlink()
    for n in range(keep - 1, 0, -1):
        if numbered(n).exists():
            os.replace(numbered(n), numbered(n + 1))
    os.replace(path, numbered(1))


# -- revocation ------------------------------------------------------------------------------------------


def check_revocation(core: Core) -> RevocationCheckResult:
    """Core.check_revocations within the daily budget. A source that cannot be reached is a warning in the
    log, not a failed step: the check is retried tomorrow and renewals never depend on it."""
    run = core.check_revocations(budget_seconds=REVOCATION_BUDGET_SECONDS)
    failed = [f"{check.name}: {check.message}" for check in run.checks if not check.ok]
    return _report(RevocationCheckResult(ok=True, message=run.summary(), left=len(run.left), failed=failed,
                                         revoked=[c.name for c in run.checks if c.result == "revoked"]))


# -- all of it --------------------------------------------------------------------------------------------


def run_daily(core: Core) -> list[StepResult]:
    """Backup, integrity check, prune (to the `keep_versions` setting), log rotation, leftover cleanup and the
    revocation check, each on its own."""
    results: list[StepResult] = []

    def keep() -> int:
        return int(core.settings().get("keep_versions", 10))

    steps: list[tuple[type[StepResult], Any]] = [
        (BackupResult, lambda: backup_database(core)),
        (IntegrityResult, lambda: integrity_check(core)),
        (PruneResult, lambda: prune_versions(core, keep())),
        (RotateResult, lambda: rotate_logs(core.data)),
        (CleanupResult, lambda: sweep(core.data)),  # after a kill -9: unrecorded versions, temporary files
        (RevocationCheckResult, lambda: check_revocation(core)),  # last: the only step that waits on the network
    ]
    for kind, run in steps:
        try:
            results.append(run())
        except CertifyError as exc:  # one step failing must not stop the others
            results.append(_report(kind(ok=False, message=f"failed: {exc}")))
        except Exception as exc:  # a bug or an unexpected error: keep the traceback in the app log
            log.exception("maintenance %s: failed: %s", kind.step, exc)
            results.append(kind(ok=False, message=f"failed: {type(exc).__name__}: {exc}"))
    return results
