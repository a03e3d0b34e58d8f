"""Shared by the disk and crash tests: small file systems, and reading what the database and live/ say.

Mounting needs root; without it the calling test is skipped with the reason.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest
from integration.helpers import LIVE_ROLES, unique
from integration.test_cli import Run, add_account, add_cert, ok
from servers.pebble import PebbleServer

NAMES = ["full.example.test"]


def mount_fs(target: Path, *options: str, source: str = "tmpfs", kind: str | None = "tmpfs") -> None:
    argv = ["mount", *(["-t", kind] if kind else []), *(["-o", ",".join(options)] if options else []),
            source, str(target)]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a test file system here ({' '.join(argv)}): {proc.stderr.strip()}")


def umount_fs(target: Path) -> None:
    subprocess.run(["umount", "-l", str(target)], capture_output=True, check=False)


def fill_fs(fs: Path, leave: int) -> Path:
    """Fill `fs` up, then give back `leave` bytes; returns the filler file (delete it to free space)."""
    filler = fs / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for chunk in (65536, 4096, 512, 1):
            while True:
                try:
                    if os.write(fd, b"\0" * chunk) < chunk:
                        break
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC, exc
                    break
    finally:
        os.close(fd)
    size = filler.stat().st_size
    os.truncate(filler, max(0, size - leave))
    return filler


def open_db(data: Path) -> sqlite3.Connection:
    """Read-only; without a write-ahead log left over, also without the shared-memory file SQLite would
    otherwise create (there may be no room for it)."""
    path = data / "certify.db"
    wal = path.with_name("certify.db-wal")
    immutable = "&immutable=1" if not wal.exists() or wal.stat().st_size == 0 else ""
    return sqlite3.connect(f"{path.as_uri()}?mode=ro{immutable}", uri=True)


def db_current(data: Path, name: str) -> tuple[int, str] | None:
    """(version, archive folder name) of the newest version row, read straight from SQLite."""
    db = open_db(data)
    try:
        row = db.execute(
            "SELECT v.version, v.archive_dir FROM certificate_version v JOIN managed_certificate c "
            "ON v.certificate_id = c.id WHERE c.name = ? ORDER BY v.version DESC LIMIT 1", (name,)).fetchone()
    finally:
        db.close()
    return (row[0], Path(row[1]).name) if row else None


def live_target(data: Path, name: str) -> str:
    return Path(os.readlink(data / "certificates" / name / "live")).name


def assert_consistent(data: Path, name: str) -> None:
    current = db_current(data, name)
    assert current is not None
    assert live_target(data, name) == current[1], (os.listdir(data / "certificates" / name / "archive"), current)
    archive = data / "certificates" / name / "archive"
    # Every archived folder is one the database knows: no orphan from the failed attempt.
    known = db_folders(data, name)
    assert {p.name for p in archive.iterdir()} <= known, (sorted(p.name for p in archive.iterdir()), known)


def db_folders(data: Path, name: str) -> set[str]:
    db = open_db(data)
    try:
        rows = db.execute("SELECT v.archive_dir FROM certificate_version v JOIN managed_certificate c "
                          "ON v.certificate_id = c.id WHERE c.name = ?", (name,)).fetchall()
    finally:
        db.close()
    return {Path(r[0]).name for r in rows}


def live_set(data: Path, name: str) -> dict[str, bytes]:
    live = data / "certificates" / name / "live"
    return {role: (live / f"{role}.pem").read_bytes() for role in LIVE_ROLES}


def no_traceback(run: Run) -> None:
    assert "Traceback" not in run.out + run.err, str(run)
    assert "unexpected" not in (run.out + run.err).lower(), str(run)


def issue(data: Path, pebble: PebbleServer, name: str) -> None:
    add_account(data, pebble, f"{unique('full')}@example.com")
    add_cert(data, pebble, name, *NAMES)
    ok(data, "cert", "request", name)

def leftovers(data: Path, name: str) -> list[str]:
    base = data / "certificates" / name
    found = [p.name for p in base.glob(".*.tmp")] + [p.name for p in (base / "archive").glob(".*")]
    marks = data / "certificates" / ".storing"
    found += [f".storing/{p.name}" for p in marks.iterdir()] if marks.is_dir() else []
    return found


def serial_of_live(data: Path, name: str) -> str:
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(live_set(data, name)["cert"])
    serial = f"{cert.serial_number:x}"
    return serial.rjust(len(serial) + len(serial) % 2, "0")
