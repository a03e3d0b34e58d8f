"""A full disk, a read-only data folder and log files, with the real `certify-tui` and Pebble.

The data folder lives on a small tmpfs mounted for the test (root only: skipped with the reason
otherwise), so "No space left on device" and "Read-only file system" come from the kernel itself.
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from integration.disk_helpers import (
    NAMES,
    assert_consistent,
    db_current,
    fill_fs,
    issue,
    live_set,
    mount_fs,
    no_traceback,
    umount_fs,
)
from integration.helpers import LIVE_ROLES, mode_of, unique, verify_issued
from integration.test_cli import Run, add_cert, clean_error, cli, ok
from servers.pebble import PebbleServer

pytestmark = pytest.mark.pebble


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 3 MiB tmpfs: room for a data folder, easy to fill."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root")
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    mount_fs(mount_point, "size=3m", "mode=0700")
    try:
        yield mount_point
    finally:
        umount_fs(mount_point)


# -- item 4: disk full ------------------------------------------------------------------------------------


# Each level runs out at a different step (opening the database, a database row, an archived file); all
# stay clear of ~100 KB, where the renewal is stored and only the deployment status cannot be saved.
@pytest.mark.parametrize("leave", [0, 36000, 44000, 52000, 60000, 70000, 80000])
def test_renew_on_a_full_disk_fails_cleanly_and_stays_consistent(
        pebble: PebbleServer, small_fs: Path, leave: int) -> None:
    data = small_fs / "data"
    name = "full"
    issue(data, pebble, name)
    before = live_set(data, name)
    verify_issued({r: str(data / "certificates" / name / "live" / f"{r}.pem") for r in LIVE_ROLES},
                  NAMES, pebble.root_pem())
    filler = fill_fs(small_fs, leave)

    run = cli(data, "renew", name, "--force")

    no_traceback(run)
    assert run.code == 1, str(run)
    errors = [line for line in run.err.splitlines() if line.strip()]
    assert len(errors) == 1, str(run)
    assert "No space left on device" in errors[0], str(run)
    assert " while " in errors[0] or str(data) in errors[0], str(run)  # says what was being written
    assert live_set(data, name) == before
    assert_consistent(data, name)

    # Space again: the next run repairs whatever is left and renews.
    filler.unlink()
    again = ok(data, "renew", name, "--force")
    no_traceback(again)
    assert_consistent(data, name)
    assert live_set(data, name) != before
    assert db_current(data, name)[0] == max(int(p.name[:4]) for p in (data / "certificates" / name / "archive")
                                             .iterdir())


# -- item 5: a read-only data folder ----------------------------------------------------------------------


def _read_only_view(fs: Path, tmp_path: Path) -> Path:
    """`fs` bind-mounted read-only at another place (root can write through chmod, not through this)."""
    view = tmp_path / "read-only"
    view.mkdir()
    mount_fs(view, "bind", source=str(fs), kind=None)
    mount_fs(view, "remount", "bind", "ro", source=str(fs), kind=None)
    with pytest.raises(OSError) as info:
        (view / "probe").touch()
    assert info.value.errno == errno.EROFS
    return view


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.lstat().st_size, p.lstat().st_mtime_ns) for p in root.rglob("*")}


def test_read_only_data_folder(pebble: PebbleServer, small_fs: Path, tmp_path: Path) -> None:
    data = small_fs / "data"
    name = "inspect"
    issue(data, pebble, name)
    # Another process keeps the database open (a running service), so the last change stays in the
    # write-ahead log: the read-only view must still show it, not the older main file.
    holder = sqlite3.connect(data / "certify.db")
    holder.execute("SELECT COUNT(*) FROM managed_certificate").fetchall()
    add_cert(data, pebble, "second", "second.example.test")
    assert (data / "certify.db-wal").stat().st_size > 0
    writable = {args: ok(data, *args) for args in [("cert", "list"), ("cert", "show", name, "--json")]}
    assert "second" in writable[("cert", "list")].out
    status_rw = cli(data, "status")
    view = _read_only_view(small_fs, tmp_path)
    try:
        ro = view / "data"
        before = _tree(small_fs)

        for args, expected in writable.items():
            run = ok(ro, *args)
            no_traceback(run)
            assert run.out.replace(str(view), str(small_fs)) == expected.out, str(run)
            assert run.err == "", str(run)
        status = cli(ro, "status")
        no_traceback(status)
        assert (status.code, status.out.replace(str(view), str(small_fs))) == (status_rw.code, status_rw.out)

        added = cli(ro, "cert", "add", "other", "--domain", "other.example.test")
        line = clean_error(added, 1)
        assert "read-only" in line.lower() and str(ro) in line, line
        renewed = cli(ro, "renew", name, "--force")
        no_traceback(renewed)
        assert renewed.code == 1, str(renewed)
        assert len(renewed.err.strip().splitlines()) == 1 and "read-only" in renewed.err.lower(), str(renewed)
        assert _tree(small_fs) == before  # nothing was written, not even a log line
    finally:
        umount_fs(view)
        holder.close()


def test_db_check_reads_a_cleanly_closed_database_on_read_only_media(
        pebble: PebbleServer, small_fs: Path, tmp_path: Path) -> None:
    """No process has it open, so no -shm file exists and none can be created: `db check` must still read the
    database (and its backups), never report a healthy file as damaged."""
    data = small_fs / "data"
    issue(data, pebble, "audit")
    ok(data, "db", "backup")
    assert not (data / "certify.db-shm").exists()
    view = _read_only_view(small_fs, tmp_path)
    try:
        run = ok(view / "data", "db", "check", "--json")
        report = json.loads(run.out)
        assert report["integrity"] == "ok", run.out
        assert (report["accounts"], report["certificates"]) == (1, 1)
        assert [b["integrity"] for b in report["backups"]] == ["ok"], run.out
    finally:
        umount_fs(view)


# -- item 19 and the logging half of item 4: log files ----------------------------------------------------


def _cli_with_umask(data: Path, umask: int, *args: str) -> Run:
    from integration.test_cli import CLI, _env

    proc = subprocess.run([str(CLI), "--data-dir", str(data), *args], capture_output=True, text=True,
                          env=_env(), timeout=120, stdin=subprocess.DEVNULL, umask=umask, check=False)
    return Run(args, proc.returncode, proc.stdout, proc.stderr)


def test_log_files_are_private_even_under_umask_000(pebble: PebbleServer, data_dir: Path) -> None:
    name = "private-logs"
    for args in (("account", "add", "--email", f"{unique('logs')}@example.com", "--ca", pebble.directory_url,
                  "--ca-bundle", pebble.https_ca_bundle, "--allow-internal-names", "--agree-tos"),
                 ("cert", "add", name, "--domain", "logs.example.test", "--option", "address=127.0.0.1",
                  "--option", f"port={pebble.http_port}"),
                 ("cert", "request", name)):
        run = _cli_with_umask(data_dir, 0, *args)
        assert run.code == 0, str(run)
    app_log = data_dir / "logs" / "certify-tui.log"
    cert_log = data_dir / "logs" / "certificates" / f"{name}.log"
    assert app_log.stat().st_size > 0 and cert_log.stat().st_size > 0
    assert mode_of(app_log) == 0o600, oct(mode_of(app_log))
    assert mode_of(cert_log) == 0o600, oct(mode_of(cert_log))

    # A log an older version left world-readable is tightened when next written.
    os.chmod(app_log, 0o644)
    os.chmod(cert_log, 0o644)
    assert _cli_with_umask(data_dir, 0, "cert", "request", name).code == 0
    assert mode_of(app_log) == 0o600 and mode_of(cert_log) == 0o600


def test_a_full_log_disk_costs_no_traceback(pebble: PebbleServer, data_dir: Path, tmp_path: Path) -> None:
    """The logs folder on its own full file system: every log write fails, the request still succeeds quietly."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root")
    name = "quiet"
    issue(data_dir, pebble, name)
    logs = data_dir / "logs"
    for child in logs.rglob("*"):
        if child.is_file():
            child.unlink()
    mount_fs(logs, "size=64k", "mode=0700")
    try:
        (logs / "certificates").mkdir(mode=0o700)
        fill_fs(logs, 0)
        for args in (("cert", "request", name), ("-v", "cert", "list"), ("renew", name, "--force")):
            run = ok(data_dir, *args)
            no_traceback(run)
            assert "Traceback" not in run.err and "Errno" not in run.err, str(run)
            assert run.err.count("\n") <= (1 if args[0] == "-v" else 0), str(run)
        assert_consistent(data_dir, name)
    finally:
        umount_fs(logs)
