"""Where certify-tui keeps its data, and how files are written there safely.

Everything secret (account keys, private keys) goes through `write_private_file`, which never lets
the bytes exist in a world-readable file, not even for an instant, and never leaves a half-written
file behind: a reader sees either the old content or the new, whole.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from certify_tui.errors import StorageError, UsageError
from certify_tui.oserrors import storage_error

APP_NAME = "certify-tui"
ENV_DATA_DIR = "CERTIFY_TUI_DATA_DIR"

# POSIX permission bits mean something; on Windows chmod only flips the read-only attribute and
# access is governed by ACLs, which the standard library cannot set. Read at call time (tests patch it).
IS_WINDOWS = os.name == "nt"

# Letters, digits, '.', '_' and '-', not starting with '.', so a name is one plain path component.
_NAME_RE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")
# Names Windows maps to devices whatever the extension ("nul.log" is the null device there).
_WINDOWS_DEVICES = frozenset(
    {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
)


def default_data_dir() -> Path:
    """The data folder used when neither an explicit folder nor $CERTIFY_TUI_DATA_DIR is given."""
    if IS_WINDOWS:
        # %ProgramData%; os.environ keys are upper-case on Windows.
        return Path(os.environ.get("PROGRAMDATA") or r"C:\ProgramData") / APP_NAME
    # Windows has no geteuid; root gets the system-wide folder that services and cron share.
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/lib") / APP_NAME
    return platformdirs.user_data_path(APP_NAME, appauthor=False)


def resolve_data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The explicit folder, else $CERTIFY_TUI_DATA_DIR, else the default; `~` expanded, made absolute."""
    if explicit is not None and os.fspath(explicit) != "":
        chosen: str | os.PathLike[str] = explicit
    else:
        chosen = os.environ.get(ENV_DATA_DIR) or default_data_dir()
    return Path(os.path.abspath(Path(chosen).expanduser()))


MAX_NAME_LENGTH = 64  # plenty for a label, and far below every file system's limit for a folder name


def check_certificate_name(name: str) -> str:
    """Return `name` if it is fit for a new certificate (short, one safe path component), else raise UsageError."""
    if isinstance(name, str) and len(name) > MAX_NAME_LENGTH:
        raise UsageError(f"The certificate name is {len(name)} characters long: use at most {MAX_NAME_LENGTH}.")
    return check_path_component(name)


def check_path_component(name: str) -> str:
    """Return `name` if it is safe as a single folder/file name on every platform, else raise UsageError.

    No length limit: names stored by older versions (before MAX_NAME_LENGTH) still reach their files."""
    if (
        not isinstance(name, str)
        or not _NAME_RE.fullmatch(name)
        or ".." in name
        or name.endswith(".")  # Windows silently strips trailing dots, so "a." would collide with "a"
        or name.split(".")[0].lower() in _WINDOWS_DEVICES
    ):
        raise UsageError(
            f"Invalid certificate name {name!r}: use letters, digits, '.', '_' and '-', not starting with '.'."
        )
    return name


def certificate_folders(certificates: Path) -> list[Path]:
    """The certificates' own folders under `certificates/`: a name never starts with '.', so the program's
    bookkeeping folders there (e.g. `.storing`, marks of versions being stored) are not certificates."""
    try:
        return [p for p in certificates.iterdir() if p.is_dir() and not p.name.startswith(".")]
    except OSError:
        return []


def os_error_reason(exc: OSError) -> str:
    """The OS's own words for an error, even for an OSError built from a bare errno."""
    if exc.strerror:
        return exc.strerror
    code = exc.errno if exc.errno is not None else (exc.args[0] if len(exc.args) == 1 else None)
    if isinstance(code, int) and code:
        return os.strerror(code)  # OSError(errno.ENOSPC) carries only the number
    return str(exc) or type(exc).__name__


def fsync_directory(path: Path) -> None:
    """Make a rename/creation inside `path` durable (POSIX). Best effort: the rename already happened,
    and some filesystems refuse fsync on directories, so failing here must not report 'nothing replaced'."""
    if IS_WINDOWS:
        return  # directories cannot be opened for fsync on Windows; NTFS journals metadata itself
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def ensure_private_dir(path: Path) -> Path:
    """Create `path` and any missing parents with mode 0700; tighten an existing, looser leaf to 0700."""
    path = Path(path)
    try:
        missing: list[Path] = []
        current = path
        while not current.exists():
            missing.append(current)
            if current.parent == current:
                break
            current = current.parent
        for directory in reversed(missing):
            try:
                directory.mkdir(mode=0o700)
            except FileExistsError:
                if not directory.is_dir():
                    raise
                continue  # created concurrently by another process: fine, handled like an existing leaf
            if not IS_WINDOWS:
                os.chmod(directory, 0o700)  # mkdir's mode is filtered by the umask; be exact
        if not path.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path))
        # Only the leaf is tightened: parents such as /var/lib belong to the system, not to us.
        # Skipped on Windows, where chmod cannot restrict who reads a folder (that is the ACLs' job).
        if not IS_WINDOWS and path.stat().st_mode & 0o077:
            os.chmod(path, 0o700)
    except OSError as exc:
        raise StorageError(f"Could not create the private folder {path}: {os_error_reason(exc)}.", detail=str(exc)) from exc
    return path


# O_EXCL: never follow or reuse someone else's file; O_BINARY: no newline translation on Windows.
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)


def _write_synced(path: Path, data: bytes, mode: int) -> None:
    """Create `path` exclusively with its final mode, write `data`, fsync; remove it on failure."""
    fd = os.open(path, _NEW_FILE_FLAGS, mode)  # final mode at creation: a key is never readable by others
    try:
        if not IS_WINDOWS:
            os.fchmod(fd, mode)  # the umask may have tightened it further; certificates must stay readable
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    except OSError:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    os.close(fd)


def atomic_write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace `path` with `data` all at once: readers see the old file or the new one, never a mix.

    On any failure the temporary file is removed, the old file is left untouched and StorageError is
    raised naming the path and the OS's reason (e.g. "No space left on device").
    """
    path = Path(path)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        _write_synced(temp, data, mode)  # data on disk before the rename makes it visible
        os.replace(temp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise write_error(path, exc) from exc
    fsync_directory(path.parent)


def write_new_file(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Create a file that must not exist yet (in a folder nothing reads yet), synced to disk.

    Cheaper than atomic_write (no rename, no folder sync): the caller syncs the folder once.
    """
    try:
        _write_synced(Path(path), data, mode)
    except OSError as exc:
        raise write_error(path, exc) from exc


def write_error(path: Path | str, exc: OSError) -> StorageError:
    """The one-line error for a failed write of `path`: a full disk and a read-only folder say so first."""
    return storage_error(exc, str(path)) or StorageError(f"Could not write {path}: {os_error_reason(exc)}.",
                                                         detail=str(exc))


def write_private_file(path: Path, data: bytes) -> None:
    """`atomic_write` with mode 0600, for keys and other secrets."""
    atomic_write(path, data, mode=0o600)


@dataclass(frozen=True)
class DataDir:
    """The layout of the data folder; computing paths never touches the disk, `create()` does."""

    root: Path

    @classmethod
    def resolve(cls, explicit: str | os.PathLike[str] | None = None) -> DataDir:
        return cls(resolve_data_dir(explicit))

    @property
    def database_path(self) -> Path:
        return self.root / "certify.db"

    @property
    def certificates(self) -> Path:
        return self.root / "certificates"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def app_log(self) -> Path:
        return self.logs / "certify-tui.log"

    def certificate_dir(self, name: str) -> Path:
        return self.certificates / check_path_component(name)

    def certificate_log(self, name: str) -> Path:
        return self.logs / "certificates" / f"{check_path_component(name)}.log"

    def create(self) -> DataDir:
        for directory in (self.root, self.certificates, self.logs):
            ensure_private_dir(directory)
        return self
