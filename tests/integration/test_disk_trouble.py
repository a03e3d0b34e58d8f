"""A full disk, a read-only data folder, and `kill -9` leftovers, with the real `certify-tui` and Pebble.

The data folder lives on a small tmpfs mounted for the test (root only: skipped with the reason
otherwise), so "No space left on device" and "Read-only file system" come from the kernel itself.
"""

from __future__ import annotations

import errno
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from integration.helpers import LIVE_ROLES, mode_of, unique, verify_issued
from integration.test_cli import Run, add_account, add_cert, clean_error, cli, ok
from servers.pebble import PebbleServer

pytestmark = pytest.mark.pebble

NAMES = ["full.example.test"]


def _mount(target: Path, *options: str, source: str = "tmpfs", kind: str | None = "tmpfs") -> None:
    argv = ["mount", *(["-t", kind] if kind else []), *(["-o", ",".join(options)] if options else []),
            source, str(target)]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a test file system here ({' '.join(argv)}): {proc.stderr.strip()}")


def _umount(target: Path) -> None:
    subprocess.run(["umount", "-l", str(target)], capture_output=True, check=False)


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 3 MiB tmpfs: room for a data folder, easy to fill."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root")
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    _mount(mount_point, "size=3m", "mode=0700")
    try:
        yield mount_point
    finally:
        _umount(mount_point)


def _fill(fs: Path, leave: int) -> Path:
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


def _db(data: Path) -> sqlite3.Connection:
    """Read-only; without a write-ahead log left over, also without the shared-memory file SQLite would
    otherwise create (there may be no room for it)."""
    path = data / "certify.db"
    wal = path.with_name("certify.db-wal")
    immutable = "&immutable=1" if not wal.exists() or wal.stat().st_size == 0 else ""
    return sqlite3.connect(f"{path.as_uri()}?mode=ro{immutable}", uri=True)


def _db_current(data: Path, name: str) -> tuple[int, str] | None:
    """(version, archive folder name) of the newest version row, read straight from SQLite."""
    db = _db(data)
    try:
        row = db.execute(
            "SELECT v.version, v.archive_dir FROM certificate_version v JOIN managed_certificate c "
            "ON v.certificate_id = c.id WHERE c.name = ? ORDER BY v.version DESC LIMIT 1", (name,)).fetchone()
    finally:
        db.close()
    return (row[0], Path(row[1]).name) if row else None


def _live_target(data: Path, name: str) -> str:
    return Path(os.readlink(data / "certificates" / name / "live")).name


def _assert_consistent(data: Path, name: str) -> None:
    current = _db_current(data, name)
    assert current is not None
    assert _live_target(data, name) == current[1], (os.listdir(data / "certificates" / name / "archive"), current)
    archive = data / "certificates" / name / "archive"
    # Every archived folder is one the database knows: no orphan from the failed attempt.
    known = _db_folders(data, name)
    assert {p.name for p in archive.iterdir()} <= known, (sorted(p.name for p in archive.iterdir()), known)


def _db_folders(data: Path, name: str) -> set[str]:
    db = _db(data)
    try:
        rows = db.execute("SELECT v.archive_dir FROM certificate_version v JOIN managed_certificate c "
                          "ON v.certificate_id = c.id WHERE c.name = ?", (name,)).fetchall()
    finally:
        db.close()
    return {Path(r[0]).name for r in rows}


def _live(data: Path, name: str) -> dict[str, bytes]:
    live = data / "certificates" / name / "live"
    return {role: (live / f"{role}.pem").read_bytes() for role in LIVE_ROLES}


def _no_traceback(run: Run) -> None:
    assert "Traceback" not in run.out + run.err, str(run)
    assert "unexpected" not in (run.out + run.err).lower(), str(run)


def _issue(data: Path, pebble: PebbleServer, name: str) -> None:
    add_account(data, pebble, f"{unique('full')}@example.com")
    add_cert(data, pebble, name, *NAMES)
    ok(data, "cert", "request", name)


# -- item 4: disk full ------------------------------------------------------------------------------------


# Each level runs out at a different step (opening the database, a database row, an archived file); all
# stay clear of ~100 KB, where the renewal is stored and only the deployment status cannot be saved.
@pytest.mark.parametrize("leave", [0, 36000, 44000, 52000, 60000, 70000, 80000])
def test_renew_on_a_full_disk_fails_cleanly_and_stays_consistent(
        pebble: PebbleServer, small_fs: Path, leave: int) -> None:
    data = small_fs / "data"
    name = "full"
    _issue(data, pebble, name)
    before = _live(data, name)
    verify_issued({r: str(data / "certificates" / name / "live" / f"{r}.pem") for r in LIVE_ROLES},
                  NAMES, pebble.root_pem())
    filler = _fill(small_fs, leave)

    run = cli(data, "renew", name, "--force")

    _no_traceback(run)
    assert run.code == 1, str(run)
    errors = [line for line in run.err.splitlines() if line.strip()]
    assert len(errors) == 1, str(run)
    assert "No space left on device" in errors[0], str(run)
    assert " while " in errors[0] or str(data) in errors[0], str(run)  # says what was being written
    assert _live(data, name) == before
    _assert_consistent(data, name)

    # Space again: the next run repairs whatever is left and renews.
    filler.unlink()
    again = ok(data, "renew", name, "--force")
    _no_traceback(again)
    _assert_consistent(data, name)
    assert _live(data, name) != before
    assert _db_current(data, name)[0] == max(int(p.name[:4]) for p in (data / "certificates" / name / "archive")
                                             .iterdir())


# -- item 4 (ordering) and item 6: kill -9 at each step of storing a version --------------------------------

# Runs a request in a child process that SIGKILLs itself at one point of storing the version (the real
# code, with one function wrapped), so nothing after that point runs: no finally, no cleanup.
_KILLER = r"""
import os, signal, sys
from certify_tui import certfiles, paths
from certify_tui.lifecycle import Core, request

data_dir, name, step = sys.argv[1:4]


def die():
    os.kill(os.getpid(), signal.SIGKILL)


def wrap(owner, attr, *, kill_before=False, when=lambda *a, **k: True):
    original = getattr(owner, attr)

    def wrapper(*args, **kwargs):
        if kill_before and when(*args, **kwargs):
            die()
        result = original(*args, **kwargs)
        if when(*args, **kwargs):
            die()
        return result

    setattr(owner, attr, wrapper)


if step == "pending-temp":  # the order's key half-written: a 0-byte .pending-privkey.pem.*.tmp
    original = paths._write_synced

    def write(path, data, mode):
        if path.name.startswith(".pending-"):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode))
            die()
        return original(path, data, mode)

    paths._write_synced = write
elif step == "half-archived":  # two of the four files of the new version written
    written = []
    wrap(certfiles, "write_new_file", when=lambda *a, **k: written.append(1) or len(written) == 2)
elif step == "archived":  # the version complete in archive/, nothing recorded
    wrap(request, "_record_success", kill_before=True)
elif step == "switched":  # live switched, the transaction not committed
    wrap(certfiles.CertificateFiles, "switch_live")
elif step == "committed":  # recorded and switched, the intent mark not yet removed
    from certify_tui.renewal import repair

    wrap(repair, "clear_mark", kill_before=True)
else:
    raise SystemExit(f"unknown step {step}")

core = Core.open(data_dir)
core.request(name)
raise SystemExit("the request was not interrupted")
"""


def _leftovers(data: Path, name: str) -> list[str]:
    base = data / "certificates" / name
    found = [p.name for p in base.glob(".*.tmp")] + [p.name for p in (base / "archive").glob(".*")]
    marks = data / "certificates" / ".storing"
    found += [f".storing/{p.name}" for p in marks.iterdir()] if marks.is_dir() else []
    return found


@pytest.mark.parametrize("step", ["pending-temp", "half-archived", "archived", "switched", "committed"])
def test_kill_9_while_storing_is_repaired_at_the_next_start(
        pebble: PebbleServer, tmp_path: Path, step: str) -> None:
    data = tmp_path / "data"
    name = "killed"
    _issue(data, pebble, name)
    before = _live(data, name)
    first = _db_current(data, name)

    child = subprocess.run([sys.executable, "-c", _KILLER, str(data), name, step], capture_output=True,
                           text=True, timeout=120, stdin=subprocess.DEVNULL, check=False)
    assert child.returncode == -signal.SIGKILL, (child.returncode, child.stdout, child.stderr)

    # The next start (any command, here a read-only one) repairs.
    shown = ok(data, "cert", "show", name, "--json")
    _no_traceback(shown)
    _assert_consistent(data, name)
    # A temporary file written during the order (no store had begun) waits for the next request's repair.
    assert _leftovers(data, name) == ([] if step != "pending-temp" else [_temp_name(data, name)])
    if step == "committed":
        assert _db_current(data, name)[0] == first[0] + 1
        assert _live(data, name) != before
    else:
        assert _db_current(data, name) == first
        assert _live(data, name) == before
    assert shown.json()["serial"] == _serial_of_live(data, name)

    # And the certificate renews normally afterwards: one folder per serial, all recorded.
    ok(data, "cert", "request", name)
    _assert_consistent(data, name)
    assert _leftovers(data, name) == []
    folders = [p.name for p in (data / "certificates" / name / "archive").iterdir()]
    serials = [folder.split("-", 1)[1] for folder in folders]
    assert len(serials) == len(set(serials)), folders


def _serial_of_live(data: Path, name: str) -> str:
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(_live(data, name)["cert"])
    serial = f"{cert.serial_number:x}"
    return serial.rjust(len(serial) + len(serial) % 2, "0")


def _temp_name(data: Path, name: str) -> str:
    (temp,) = (data / "certificates" / name).glob(".pending-privkey.pem.*.tmp")
    assert temp.stat().st_size == 0
    return temp.name


def test_daily_maintenance_removes_leftovers_of_an_older_kill(pebble: PebbleServer, data_dir: Path) -> None:
    """Leftovers without an intent mark (an older version, or a lost mark) go in the daily cleanup step."""
    from certify_tui.lifecycle import Core
    from certify_tui.renewal import maintenance

    name = "old-kill"
    _issue(data_dir, pebble, name)
    base = data_dir / "certificates" / name
    (recorded,) = (base / "archive").iterdir()
    # What the issue found: the same serial archived twice, and 0-byte temporary files.
    number, serial = recorded.name.split("-", 1)
    twin = base / "archive" / f"{int(number) + 1:04d}-{serial}"
    twin.mkdir(mode=0o700)
    for pem in recorded.iterdir():
        (twin / pem.name).write_bytes(pem.read_bytes())
    (base / ".pending-privkey.pem.0123456789ab.tmp").touch()
    stale_root_temp = data_dir / ".certify.db.bak.0123456789ab.tmp"
    stale_root_temp.touch()
    os.utime(stale_root_temp, (1_000_000_000, 1_000_000_000))
    fresh_root_temp = data_dir / ".settings.0123456789ab.tmp"  # may be another process's, being written
    fresh_root_temp.touch()

    core = Core.open(str(data_dir))
    try:
        results = {r.step: r for r in maintenance.run_daily(core)}
    finally:
        core.close()

    cleanup = results["cleanup"]
    assert cleanup.ok, cleanup.message
    assert not twin.exists() and recorded.is_dir()
    assert list(base.glob(".*.tmp")) == []
    assert not stale_root_temp.exists() and fresh_root_temp.exists()
    assert any(twin.name in action for action in cleanup.actions), cleanup.actions
    _assert_consistent(data_dir, name)


# -- item 5: a read-only data folder ----------------------------------------------------------------------


def _read_only_view(fs: Path, tmp_path: Path) -> Path:
    """`fs` bind-mounted read-only at another place (root can write through chmod, not through this)."""
    view = tmp_path / "read-only"
    view.mkdir()
    _mount(view, "bind", source=str(fs), kind=None)
    _mount(view, "remount", "bind", "ro", source=str(fs), kind=None)
    with pytest.raises(OSError) as info:
        (view / "probe").touch()
    assert info.value.errno == errno.EROFS
    return view


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.lstat().st_size, p.lstat().st_mtime_ns) for p in root.rglob("*")}


def test_read_only_data_folder(pebble: PebbleServer, small_fs: Path, tmp_path: Path) -> None:
    data = small_fs / "data"
    name = "inspect"
    _issue(data, pebble, name)
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
            _no_traceback(run)
            assert run.out.replace(str(view), str(small_fs)) == expected.out, str(run)
            assert run.err == "", str(run)
        status = cli(ro, "status")
        _no_traceback(status)
        assert (status.code, status.out.replace(str(view), str(small_fs))) == (status_rw.code, status_rw.out)

        added = cli(ro, "cert", "add", "other", "--domain", "other.example.test")
        line = clean_error(added, 1)
        assert "read-only" in line.lower() and str(ro) in line, line
        renewed = cli(ro, "renew", name, "--force")
        _no_traceback(renewed)
        assert renewed.code == 1, str(renewed)
        assert len(renewed.err.strip().splitlines()) == 1 and "read-only" in renewed.err.lower(), str(renewed)
        assert _tree(small_fs) == before  # nothing was written, not even a log line
    finally:
        _umount(view)
        holder.close()


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
    _issue(data_dir, pebble, name)
    logs = data_dir / "logs"
    for child in logs.rglob("*"):
        if child.is_file():
            child.unlink()
    _mount(logs, "size=64k", "mode=0700")
    try:
        (logs / "certificates").mkdir(mode=0o700)
        _fill(logs, 0)
        for args in (("cert", "request", name), ("-v", "cert", "list"), ("renew", name, "--force")):
            run = ok(data_dir, *args)
            _no_traceback(run)
            assert "Traceback" not in run.err and "Errno" not in run.err, str(run)
            assert run.err.count("\n") <= (1 if args[0] == "-v" else 0), str(run)
        _assert_consistent(data_dir, name)
    finally:
        _umount(logs)


# -- item 4: a failure injected at each step of storing, in process ----------------------------------------


@pytest.mark.parametrize("step", ["archive", "switch", "commit", "commit-and-switch-back"])
def test_a_failure_while_storing_leaves_database_and_live_in_agreement(
        pebble: PebbleServer, data_dir: Path, monkeypatch: pytest.MonkeyPatch, step: str) -> None:
    import peewee
    from integration.helpers import add_account as add_core_account
    from integration.helpers import add_standalone_cert

    from certify_tui import certfiles
    from certify_tui.errors import StorageError
    from certify_tui.lifecycle import Core

    name = "inject"
    core = Core.open(str(data_dir))
    try:
        add_core_account(core, pebble)
        add_standalone_cert(core, pebble, name, NAMES)
        core.request(name)
        before, first = _live(data_dir, name), _db_current(data_dir, name)
        full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_switch = certfiles.CertificateFiles.switch_live
        switches: list[Path] = []

        def write(path: Path, data: bytes, mode: int = 0o644) -> None:
            raise certfiles.paths.write_error(path, full)

        def switch(files: certfiles.CertificateFiles, directory: Path) -> None:
            switches.append(directory)  # the second switch is the one putting the old version back
            if step == "switch" or (step == "commit-and-switch-back" and len(switches) == 2):
                raise files._error("Could not switch", files.live_dir, full)
            real_switch(files, directory)

        def commit() -> None:
            raise peewee.OperationalError("database or disk is full")

        if step == "archive":
            monkeypatch.setattr(certfiles, "write_new_file", write)
        else:
            monkeypatch.setattr(certfiles.CertificateFiles, "switch_live", switch)
        if step.startswith("commit"):
            monkeypatch.setattr(core.db, "commit", commit)

        with pytest.raises(StorageError) as info:
            core.request(name)
        monkeypatch.undo()

        assert info.value.message.startswith("No space left on device while writing "), info.value.message
        view = core.certificate_view(core.get_certificate(name))
        assert view["status"] == "failed" and view["last_error"] == info.value.message
        if step == "commit-and-switch-back":
            # live shows the unrecorded version until the next start puts it back.
            assert _live(data_dir, name) != before and _db_current(data_dir, name) == first
            marks = data_dir / "certificates" / ".storing"
            assert [p.name for p in marks.iterdir()] == [name]
            core.close()
            core = Core.open(str(data_dir))
        assert _live(data_dir, name) == before
        assert _db_current(data_dir, name) == first
        _assert_consistent(data_dir, name)
        assert _leftovers(data_dir, name) == []
        assert core.certificate_view(core.get_certificate(name))["serial"] == _serial_of_live(data_dir, name)
    finally:
        core.close()
