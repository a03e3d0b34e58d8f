"""Log files: created 0600 (they name hosts and paths), and a failed write never costs more than the line.

Python's logging reports a handler's failure by printing a traceback to stderr (`Handler.handleError`);
on a full disk that is one traceback per log line. Our handler drops the record instead and remembers
why, and tries the file again on the next record (space may have been freed meanwhile).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from io import TextIOWrapper
from pathlib import Path

from certify_tui import paths

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def open_private_log(path: Path, *, line_buffered: bool = False) -> TextIOWrapper:
    """Open `path` for appending, creating it 0600; an existing file readable by others is tightened."""
    fd = os.open(path, _FLAGS, 0o600)
    try:
        if not paths.IS_WINDOWS and os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, 0o600)  # made by an older version (0644), or by hand
        return open(fd, "a", encoding="utf-8", buffering=1 if line_buffered else -1)  # noqa: SIM115
    except BaseException:
        os.close(fd)
        raise


class PrivateFileHandler(logging.FileHandler):
    """A FileHandler whose file is 0600, opened at the first record (nothing is created by a read-only
    command), and whose write failures are dropped quietly: `failure` keeps the last reason."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, encoding="utf-8", delay=True)
        self.failure: str | None = None

    def _open(self) -> TextIOWrapper:
        return open_private_log(Path(self.baseFilename))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if self.stream is None:
                self.stream = self._open()  # FileHandler.emit opens outside its own error handling
            logging.StreamHandler.emit(self, record)
        except Exception:  # noqa: BLE001 - a log line is never worth failing (or flooding) the command
            self.handleError(record)

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        exc = sys.exc_info()[1]
        self.failure = f"{type(exc).__name__}: {exc}" if exc is not None else "unknown error"
        self._drop_stream()

    def flush(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            super().flush()

    def close(self) -> None:
        self.acquire()
        try:
            self._drop_stream()
            logging.Handler.close(self)
        finally:
            self.release()

    def _drop_stream(self) -> None:
        """Forget the open file, discarding unwritten text: the next record reopens the path."""
        stream, self.stream = self.stream, None
        if stream is not None:
            with contextlib.suppress(OSError, ValueError):
                stream.close()
            with contextlib.suppress(OSError, ValueError):
                os.close(stream.fileno())  # close() raised while flushing: the descriptor may still be open
