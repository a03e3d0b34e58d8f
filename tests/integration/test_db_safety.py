"""Never lose the database: the real `certify-tui` CLI and service against a data folder holding a real
certificate from Pebble.

- an emptied or deleted certify.db beside certificates is refused, never silently re-created empty;
- a backup holding fewer accounts/certificates never pushes the fuller one out (.bak.last-good);
- damage in the middle of the file is noticed at open, in one line naming the file and `db restore`;
- `db check`, `db backup`, `db restore` (newest good backup, damaged file kept aside, refused while in use).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers.common import count_rows
from servers.pebble import PebbleServer
from test_cli import CLI, _env, add_account, add_cert, clean_error, cli, ok

from certify_tui.store import migrations
from certify_tui.store.lock import DatabaseInUse, HolderLock

pytestmark = pytest.mark.pebble



def _overwrite_middle(path: Path, size: int) -> None:
    """`size` bytes of fixed garbage over the middle of the file (deterministic: the same bytes every run)."""
    garbage = bytes((i * 151 + 89) % 256 for i in range(size))
    with open(path, "r+b") as handle:
        handle.seek(path.stat().st_size // 2 - size // 2)
        handle.write(garbage)


@pytest.fixture(scope="module")
def issued(pebble: PebbleServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder with one account and one issued certificate; tests work on copies of it."""
    data = tmp_path_factory.mktemp("db-safety") / "data"
    add_account(data, pebble)
    add_cert(data, pebble, "web", "web.example.test")
    ok(data, "cert", "request", "web")
    assert any((data / "certificates").iterdir())
    return data


@pytest.fixture
def data(issued: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(issued, copy)
    return copy


def _refusal(run: object, db_file: Path) -> str:
    line = clean_error(run, 1)  # type: ignore[arg-type]
    assert str(db_file) in line and "certify-tui db restore" in line, line
    return line


# -- item 1: no silent fresh start --------------------------------------------------------------------


def test_empty_database_beside_certificates_is_refused(data: Path) -> None:
    db_file = data / "certify.db"
    shutil.copy(db_file, data / "certify.db.bak")
    good_backup = (data / "certify.db.bak").read_bytes()
    db_file.write_bytes(b"")
    for args in (("cert", "list"), ("account", "list"), ("service", "--no-api")):
        line = _refusal(cli(data, *args, timeout=60), db_file)
        assert "empty" in line
    assert db_file.stat().st_size == 0  # nothing was created in it
    assert (data / "certify.db.bak").read_bytes() == good_backup  # the service did not rotate it out
    assert not (data / "certify.db.bak.old").exists()


def test_deleted_database_beside_certificates_is_refused(data: Path) -> None:
    db_file = data / "certify.db"
    db_file.unlink()
    line = _refusal(cli(data, "cert", "list"), db_file)
    assert "missing" in line
    assert not db_file.exists()


def test_fresh_folder_still_gets_a_database(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    assert ok(fresh, "cert", "list").out.startswith("No certificates yet")
    assert (fresh / "certify.db").stat().st_size > 0
    # An existing but empty folder (made by hand, or by a first run that stopped early) is new as well.
    made = tmp_path / "made"
    (made / "certificates").mkdir(parents=True)
    (made / "certify.db").write_bytes(b"")
    ok(made, "account", "list")
    assert count_rows(made / "certify.db", "schema_version") == migrations.LATEST


@contextlib.contextmanager
def running_service(data: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The real headless service on `data`, yielded once it says it runs (it backs up at start)."""
    app_log = data / "logs" / "certify-tui.log"
    before = app_log.read_text().count("service running") if app_log.exists() else 0
    proc = subprocess.Popen([str(CLI), "--data-dir", str(data), "service", "--no-api"], env=_env(),
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while app_log.read_text().count("service running") == before:
            assert proc.poll() is None and time.monotonic() < deadline, "the service did not start"
            time.sleep(0.05)
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def _service_start_and_stop(data: Path) -> None:
    with running_service(data) as proc:
        proc.send_signal(signal.SIGTERM)
        # It finishes its first due-check before exiting; the time limit only catches a hang (a loaded machine
        # took over 30 s once), the exit code is what is tested.
        assert proc.wait(timeout=120) == 0


def test_backup_with_fewer_certificates_keeps_the_fuller_one(data: Path) -> None:
    _service_start_and_stop(data)
    bak, old, last_good = data / "certify.db.bak", data / "certify.db.bak.old", data / "certify.db.bak.last-good"
    assert count_rows(bak, "managed_certificate") == 1
    ok(data, "cert", "remove", "web")
    _service_start_and_stop(data)  # the new backup holds fewer certificates: the fuller one is kept
    _service_start_and_stop(data)  # ... and survives the next rotation too
    assert count_rows(bak, "managed_certificate") == 0 and count_rows(old, "managed_certificate") == 0
    assert count_rows(last_good, "managed_certificate") == 1 and count_rows(last_good, "account") == 1
    assert stat.S_IMODE(last_good.stat().st_mode) == 0o600
    # `db backup` (no --to) rotates the same way and never drops it either.
    ok(data, "db", "backup")
    assert count_rows(last_good, "managed_certificate") == 1


# -- item 2: damage is noticed at open ----------------------------------------------------------------


@pytest.mark.parametrize("size", [4096, 8192, 16384])
def test_overwrite_in_the_middle_is_noticed_by_cert_list(data: Path, size: int) -> None:
    db_file = data / "certify.db"
    _overwrite_middle(db_file, size)
    line = _refusal(cli(data, "cert", "list"), db_file)
    assert "damaged" in line
    report = cli(data, "db", "check", "--json")
    assert report.code == 1 and report.json()["integrity"] == "damaged", str(report)


# -- item 3: db check / backup / restore --------------------------------------------------------------


def test_db_check_json(data: Path) -> None:
    ok(data, "db", "backup")
    report = ok(data, "db", "check", "--json").json()
    assert report["ok"] is True and report["kind"] == "sqlite" and report["integrity"] == "ok"
    assert report["schema_version"] == report["latest_schema"] == migrations.LATEST
    assert (report["accounts"], report["certificates"], report["certificate_folders"]) == (1, 1, 1)
    assert report["database"]["path"] == str(data / "certify.db") and report["database"]["versions"] == 1
    [backup] = report["backups"]
    assert backup["path"] == str(data / "certify.db.bak")
    assert (backup["integrity"], backup["accounts"], backup["certificates"], backup["ok"]) == ("ok", 1, 1, True)
    text = ok(data, "db", "check").out
    assert "integrity:" in text and "certify.db.bak" in text


def test_db_backup_to_a_new_file(data: Path, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.db"
    run = ok(data, "db", "backup", "--to", str(target))
    assert str(target) in run.out
    assert count_rows(target, "managed_certificate") == 1 and count_rows(target, "account") == 1
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    before = target.read_bytes()
    line = clean_error(cli(data, "db", "backup", "--to", str(target)), 1)  # never overwritten
    assert str(target) in line and "exists" in line
    assert target.read_bytes() == before
    clean_error(cli(data, "db", "backup", "--to", str(tmp_path / "no" / "such" / "x.db")), 1)


def test_db_restore_puts_the_newest_good_backup_back(data: Path) -> None:
    db_file = data / "certify.db"
    ok(data, "db", "backup")  # certify.db.bak: the certificate
    ok(data, "db", "backup")  # ... and certify.db.bak.old
    newest = data / "certify.db.bak"
    os.utime(data / "certify.db.bak.old", (time.time() - 3600, time.time() - 3600))
    _overwrite_middle(db_file, 8192)
    damaged = db_file.read_bytes()

    refused = clean_error(cli(data, "db", "restore"), 2)  # no terminal to ask: --yes is needed
    assert "--yes" in refused and db_file.read_bytes() == damaged

    run = ok(data, "db", "restore", "--yes")
    assert str(newest) in run.out
    [aside] = [p for p in data.glob("certify.db.damaged-*") if not p.name.endswith("-wal")]
    assert aside.read_bytes() == damaged
    assert [c["name"] for c in ok(data, "cert", "list", "--json").json()] == ["web"]


def test_db_restore_skips_a_damaged_newest_backup_and_fixes_a_deleted_database(data: Path) -> None:
    ok(data, "db", "backup")
    ok(data, "db", "backup")
    _overwrite_middle(data / "certify.db.bak", 8192)  # the newest backup is bad: the older one is used
    (data / "certify.db").unlink()
    _refusal(cli(data, "cert", "list"), data / "certify.db")
    run = ok(data, "db", "restore", "--yes")
    assert str(data / "certify.db.bak.old") in run.out
    assert not list(data.glob("certify.db.damaged-*"))  # there was no file to keep aside
    assert [c["name"] for c in ok(data, "cert", "list", "--json").json()] == ["web"]


@pytest.fixture
def service(data: Path) -> Iterator[subprocess.Popen[bytes]]:
    with running_service(data) as proc:
        yield proc


def test_db_restore_is_refused_while_the_service_holds_the_database(data: Path,
                                                                    service: subprocess.Popen[bytes]) -> None:
    db_file = data / "certify.db"
    ok(data, "db", "backup", "--to", str(data.parent / "spare.db"))
    before = db_file.read_bytes()
    line = clean_error(cli(data, "db", "restore", "--yes", "--from", str(data.parent / "spare.db")), 1)
    assert str(db_file) in line and "in use" in line
    assert db_file.read_bytes() == before and not list(data.glob("certify.db.damaged-*"))
    # kill -9 leaves no stale lock behind: the OS drops it with the process.
    service.send_signal(signal.SIGKILL)
    service.wait()
    ok(data, "db", "restore", "--yes", "--from", str(data.parent / "spare.db"))
    assert [c["name"] for c in ok(data, "cert", "list", "--json").json()] == ["web"]


@pytest.mark.skipif(os.name != "posix", reason="a pseudo-terminal for the TUI")
def test_db_restore_is_refused_while_the_tui_is_open(data: Path) -> None:
    import fcntl
    import pty
    import struct
    import termios

    ok(data, "db", "backup")
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    tui = subprocess.Popen([str(CLI), "--data-dir", str(data)], env=_env(TERM="xterm-256color"),
                           stdin=terminal, stdout=terminal, stderr=terminal, start_new_session=True)
    os.close(terminal)
    try:
        deadline = time.monotonic() + 60
        while True:  # the TUI holds the database once Core.open has run
            try:
                HolderLock.exclusive(data / "certify.db").release()
            except DatabaseInUse:
                break
            assert tui.poll() is None and time.monotonic() < deadline, "the TUI did not open the database"
            time.sleep(0.05)
        line = clean_error(cli(data, "db", "restore", "--yes"), 1)
        assert "in use" in line and not list(data.glob("certify.db.damaged-*"))
    finally:
        tui.kill()
        tui.wait()
        os.close(controller)
    ok(data, "db", "restore", "--yes")  # gone with the process
