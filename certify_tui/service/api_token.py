"""The API token: `<data-dir>/api-token` (0600), created once, so only whoever can read the data folder
can use the API."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from certify_tui.errors import StorageError
from certify_tui.paths import IS_WINDOWS, fsync_directory, os_error_reason, write_private_file
from certify_tui.service.discovery import TOKEN_FILE


def load_or_create_token(root: Path) -> str:
    """The API token in `<root>/api-token`: reused if present and non-empty, else created once (0600).

    A new token is linked into place, never renamed over the file, so when two processes start at
    once both end up with the token that won, not each with its own.
    """
    path = Path(root) / TOKEN_FILE
    existing = _read_nonempty(path)
    if existing:
        if not IS_WINDOWS and path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
        return existing
    token = secrets.token_urlsafe(32)
    temp = path.with_name(f".{TOKEN_FILE}.{secrets.token_hex(6)}.new")
    write_private_file(temp, token.encode("ascii") + b"\n")
    try:
        try:
            os.link(temp, path)
        except FileExistsError:
            winner = _read_nonempty(path)
            if winner:
                return winner
            os.replace(temp, path)  # an empty leftover file: ours replaces it
        except OSError:
            os.replace(temp, path)  # no hard links on this filesystem
    except OSError as exc:
        raise StorageError(f"Could not write {path}: {os_error_reason(exc)}.", detail=str(exc)) from exc
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temp)
    fsync_directory(path.parent)
    return token


def _read_nonempty(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise StorageError(f"Could not read the API token {path}: {exc}.") from exc
