"""Crash consistency of storing a version: `kill -9` and injected failures at each step, and the repair.

The database and `live/` must never disagree after the next start, and nothing a killed process left
(unrecorded archive folders, `.pending-*.tmp` files, intent marks) may outlive the next request or the
daily maintenance.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from integration.disk_helpers import (
    NAMES,
    assert_consistent,
    db_current,
    issue,
    leftovers,
    live_set,
    no_traceback,
    serial_of_live,
)
from integration.test_cli import ok
from servers.pebble import PebbleServer

pytestmark = pytest.mark.pebble


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



@pytest.mark.parametrize("step", ["pending-temp", "half-archived", "archived", "switched", "committed"])
def test_kill_9_while_storing_is_repaired_at_the_next_start(
        pebble: PebbleServer, tmp_path: Path, step: str) -> None:
    data = tmp_path / "data"
    name = "killed"
    issue(data, pebble, name)
    before = live_set(data, name)
    first = db_current(data, name)

    child = subprocess.run([sys.executable, "-c", _KILLER, str(data), name, step], capture_output=True,
                           text=True, timeout=120, stdin=subprocess.DEVNULL, check=False)
    assert child.returncode == -signal.SIGKILL, (child.returncode, child.stdout, child.stderr)

    # The next start (any command, here a read-only one) repairs.
    shown = ok(data, "cert", "show", name, "--json")
    no_traceback(shown)
    assert_consistent(data, name)
    # A temporary file written during the order (no store had begun) waits for the next request's repair.
    assert leftovers(data, name) == ([] if step != "pending-temp" else [_temp_name(data, name)])
    if step == "committed":
        assert db_current(data, name)[0] == first[0] + 1
        assert live_set(data, name) != before
    else:
        assert db_current(data, name) == first
        assert live_set(data, name) == before
    assert shown.json()["serial"] == serial_of_live(data, name)

    # And the certificate renews normally afterwards: one folder per serial, all recorded.
    ok(data, "cert", "request", name)
    assert_consistent(data, name)
    assert leftovers(data, name) == []
    folders = [p.name for p in (data / "certificates" / name / "archive").iterdir()]
    serials = [folder.split("-", 1)[1] for folder in folders]
    assert len(serials) == len(set(serials)), folders



def _temp_name(data: Path, name: str) -> str:
    (temp,) = (data / "certificates" / name).glob(".pending-privkey.pem.*.tmp")
    assert temp.stat().st_size == 0
    return temp.name


def test_daily_maintenance_removes_leftovers_of_an_older_kill(pebble: PebbleServer, data_dir: Path) -> None:
    """Leftovers without an intent mark (an older version, or a lost mark) go in the daily cleanup step."""
    from certify_tui.lifecycle import Core
    from certify_tui.renewal import maintenance

    name = "old-kill"
    issue(data_dir, pebble, name)
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
    assert_consistent(data_dir, name)


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
        before, first = live_set(data_dir, name), db_current(data_dir, name)
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
            assert live_set(data_dir, name) != before and db_current(data_dir, name) == first
            marks = data_dir / "certificates" / ".storing"
            assert [p.name for p in marks.iterdir()] == [name]
            core.close()
            core = Core.open(str(data_dir))
        assert live_set(data_dir, name) == before
        assert db_current(data_dir, name) == first
        assert_consistent(data_dir, name)
        assert leftovers(data_dir, name) == []
        assert core.certificate_view(core.get_certificate(name))["serial"] == serial_of_live(data_dir, name)
    finally:
        core.close()
