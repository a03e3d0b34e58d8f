"""Running the user's own commands (DNS scripts, deployment commands) the same safe way everywhere.

Split like a shell would and run without one (unless asked), output captured in a thread, and a
timeout that stops the whole process tree. Messages name the program only: arguments may hold
credentials.
"""

from __future__ import annotations

import contextlib
import io
import os
import shlex
import signal
import subprocess
import threading
from collections.abc import Mapping
from typing import Any

from certify_tui.errors import UsageError

MAX_OUTPUT_BYTES = 1 << 20  # what is kept of a chatty command's output


def program_name(command: str) -> str:
    """The program's name only: arguments may hold credentials and stay out of messages."""
    try:
        parts = shlex.split(command)
    except ValueError:
        parts = command.split()
    return os.path.basename(parts[0]) if parts else command


def check_command_line(owner: str, key: str, command: str, *, shell: bool = False) -> None:
    try:
        if not command.strip() or (not shell and not shlex.split(command)):
            raise ValueError("empty")
    except ValueError as exc:
        raise UsageError(f"{owner}: option '{key}' is not a valid command line ({exc}).") from None


def run_command(command: str | list[str], *, env: Mapping[str, str], timeout: float, shell: bool = False,
                cwd: str | None = None) -> tuple[int | None, bytes]:
    """(exit code, or None when stopped at the timeout; its output). OSError if it cannot start."""
    argv: str | list[str] = command if shell or isinstance(command, list) else shlex.split(command)
    # A session of its own, so a timeout stops the whole tree (a shell's children too), not only the shell.
    group: dict[str, Any] = ({"start_new_session": True} if os.name == "posix"
                             else {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)})
    proc = subprocess.Popen(argv, shell=shell, cwd=cwd or None, env={**os.environ, **env},
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **group)
    reader = _OutputReader(proc)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_tree(proc)
        proc.wait()
        return None, reader.finish()
    return proc.returncode, reader.finish()


class _OutputReader:
    """Reads a process's output in a thread, keeping the last MAX_OUTPUT_BYTES.

    A thread rather than communicate(): a daemon the command started may keep the pipe open long after
    the command itself has exited, and the caller must not wait for it."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self._stream = proc.stdout
        self._chunks: list[bytes] = []
        self._size = 0
        self._thread = threading.Thread(target=self._read, name="command-output", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert isinstance(self._stream, io.BufferedReader)  # a PIPE, buffered by default: read1() exists
        with contextlib.suppress(OSError, ValueError):
            while chunk := self._stream.read1(65536):
                self._chunks.append(chunk)
                self._size += len(chunk)
                while self._size - len(self._chunks[0]) >= MAX_OUTPUT_BYTES:
                    self._size -= len(self._chunks.pop(0))

    def finish(self, grace: float = 2.0) -> bytes:
        # A background child still holding the pipe: keep what came so far; the daemon thread ends
        # with the pipe (closing the stream here could block on the reader's lock).
        self._thread.join(grace)
        return b"".join(list(self._chunks))


def _kill_tree(proc: subprocess.Popen[bytes]) -> None:
    if os.name == "posix":
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        proc.kill()
