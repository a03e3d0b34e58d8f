"""Data-folder resolution, private permissions and atomic writes, on real files."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import platformdirs
import pytest

from certify_tui import paths
from certify_tui.errors import StorageError, UsageError
from certify_tui.paths import (
    ENV_DATA_DIR,
    DataDir,
    atomic_write,
    default_data_dir,
    ensure_private_dir,
    resolve_data_dir,
    write_private_file,
)

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- resolution ----------------------------------------------------------------------------------


def test_explicit_beats_env_and_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_DATA_DIR, str(tmp_path / "env"))
    assert resolve_data_dir(tmp_path / "explicit") == tmp_path / "explicit"
    assert resolve_data_dir(str(tmp_path / "explicit")) == tmp_path / "explicit"


def test_env_beats_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_DATA_DIR, str(tmp_path / "env"))
    assert resolve_data_dir() == tmp_path / "env"
    assert resolve_data_dir("") == tmp_path / "env"  # an empty option counts as not given


def test_default_when_nothing_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_DATA_DIR, raising=False)
    assert resolve_data_dir() == Path(os.path.abspath(default_data_dir()))
    monkeypatch.setenv(ENV_DATA_DIR, "")  # empty variable: ignored, not the current folder
    assert resolve_data_dir() == Path(os.path.abspath(default_data_dir()))


def test_expands_user_and_makes_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("USERPROFILE", str(tmp_path))
    assert resolve_data_dir("~/data") == tmp_path / "data"
    monkeypatch.chdir(tmp_path)
    resolved = resolve_data_dir("rel/../data")
    assert resolved.is_absolute() and resolved == tmp_path / "data"


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX users")
def test_default_for_root_and_other_users(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paths, "IS_WINDOWS", False)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert default_data_dir() == Path("/var/lib/certify-tui")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert default_data_dir() == platformdirs.user_data_path("certify-tui", appauthor=False)


def test_default_on_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paths, "IS_WINDOWS", True)
    monkeypatch.setenv("PROGRAMDATA", "D:/ProgramData")
    assert default_data_dir() == Path("D:/ProgramData") / "certify-tui"
    monkeypatch.delenv("PROGRAMDATA")
    assert default_data_dir() == Path(r"C:\ProgramData") / "certify-tui"


# --- DataDir layout ----------------------------------------------------------------------------


def test_data_dir_layout(tmp_path: Path) -> None:
    data = DataDir(tmp_path)
    assert data.root == tmp_path
    assert data.database_path == tmp_path / "certify.db"
    assert data.certificates == tmp_path / "certificates"
    assert data.logs == tmp_path / "logs"
    assert data.app_log == tmp_path / "logs" / "certify-tui.log"
    assert data.certificate_dir("example.com") == tmp_path / "certificates" / "example.com"
    assert data.certificate_log("www_x-1") == tmp_path / "logs" / "certificates" / "www_x-1.log"


@pytest.mark.parametrize(
    "name",
    ["", ".", "..", "../x", "a/b", "a\\b", "a..b", ".hidden", "a b", "été", "x:y", "con", "NUL.txt", "ends.", "/abs"],
)
def test_path_escaping_names_rejected(tmp_path: Path, name: str) -> None:
    with pytest.raises(UsageError):
        DataDir(tmp_path).certificate_dir(name)
    with pytest.raises(UsageError):
        DataDir(tmp_path).certificate_log(name)


@posix_only
def test_create_makes_private_folders(tmp_path: Path) -> None:
    data = DataDir(tmp_path / "a" / "b" / "data").create()
    for folder in (tmp_path / "a", tmp_path / "a" / "b", data.root, data.certificates, data.logs):
        assert folder.is_dir() and mode(folder) == 0o700, folder


# --- ensure_private_dir --------------------------------------------------------------------------


@posix_only
def test_ensure_private_dir_ignores_umask(tmp_path: Path) -> None:
    old = os.umask(0)  # umask 0: mkdir would give 0777 without the explicit chmod
    try:
        ensure_private_dir(tmp_path / "x" / "y")
    finally:
        os.umask(old)
    assert mode(tmp_path / "x") == 0o700 and mode(tmp_path / "x" / "y") == 0o700


@posix_only
def test_ensure_private_dir_tightens_existing_leaf_only(tmp_path: Path) -> None:
    parent = tmp_path / "parent"
    leaf = parent / "leaf"
    leaf.mkdir(parents=True)
    os.chmod(parent, 0o755)
    os.chmod(leaf, 0o755)
    assert ensure_private_dir(leaf) == leaf
    assert mode(leaf) == 0o700
    assert mode(parent) == 0o755  # not ours to change


def test_ensure_private_dir_on_a_file_raises(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"x")
    with pytest.raises(StorageError, match=str(blocker)):
        ensure_private_dir(blocker / "sub")
    with pytest.raises(StorageError, match=str(blocker)):
        ensure_private_dir(blocker)


# --- atomic writes -------------------------------------------------------------------------------


@posix_only
def test_write_modes(tmp_path: Path) -> None:
    old = os.umask(0o077)  # a strict umask must not make certificates unreadable
    try:
        atomic_write(tmp_path / "cert.pem", b"cert")
        write_private_file(tmp_path / "key.pem", b"key")
    finally:
        os.umask(old)
    assert mode(tmp_path / "cert.pem") == 0o644
    assert mode(tmp_path / "key.pem") == 0o600
    assert (tmp_path / "key.pem").read_bytes() == b"key"


def test_atomic_write_replaces_content(tmp_path: Path) -> None:
    target = tmp_path / "f"
    atomic_write(target, b"one")
    atomic_write(target, b"two" * 100_000)
    assert target.read_bytes() == b"two" * 100_000
    assert os.listdir(tmp_path) == ["f"]


@posix_only
def test_private_file_never_briefly_world_readable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        seen.append(stat.S_IMODE(os.fstat(fd).st_mode))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    write_private_file(tmp_path / "key.pem", b"secret")
    assert seen and seen[0] == 0o600


@pytest.mark.parametrize("broken", ["fsync", "replace", "write"])
def test_atomic_write_failure_keeps_old_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                broken: str) -> None:
    target = tmp_path / "privkey.pem"
    target.write_bytes(b"old bytes")

    def no_space(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC)  # no strerror: the message must still say why

    monkeypatch.setattr(os, broken, no_space)
    with pytest.raises(StorageError) as info:
        write_private_file(target, b"new bytes")
    monkeypatch.undo()
    assert "No space" in str(info.value)
    assert str(target) in str(info.value)
    assert target.read_bytes() == b"old bytes"
    assert os.listdir(tmp_path) == ["privkey.pem"]  # the temporary file is gone


def test_atomic_write_into_missing_folder_raises(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="No such file"):
        atomic_write(tmp_path / "missing" / "f", b"x")


def test_certificate_name_length_limit() -> None:
    from certify_tui.paths import MAX_NAME_LENGTH, check_certificate_name, check_path_component

    assert check_certificate_name("a" * MAX_NAME_LENGTH) == "a" * MAX_NAME_LENGTH
    with pytest.raises(UsageError, match=f"65 characters long: use at most {MAX_NAME_LENGTH}"):
        check_certificate_name("a" * 65)
    # A longer name stored by an older version still names its folder.
    assert check_path_component("a" * 100) == "a" * 100
    assert DataDir(Path("/d")).certificate_dir("a" * 100) == Path("/d/certificates") / ("a" * 100)
