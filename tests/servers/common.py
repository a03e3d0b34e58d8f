"""Pieces every test-server harness shares: finding a daemon's binary and stopping its process."""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO


def find_executable(env_var: str, name: str, error: type[Exception], install_hint: str,
                    extra: tuple[str | os.PathLike[str], ...] = ()) -> Path:
    """$env_var if set, else `extra` places, PATH, /usr/sbin and /usr/local/sbin; `error` if none is executable."""
    if env := os.environ.get(env_var):
        if not os.access(env, os.X_OK):
            raise error(f"{env_var}={env} is not an executable file")
        return Path(env)
    for candidate in (*extra, shutil.which(name), f"/usr/sbin/{name}", f"/usr/local/sbin/{name}"):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return Path(candidate)
    raise error(f"{name} not found; {install_hint}")


def stop_process(proc: subprocess.Popen | None, log: IO[bytes] | None = None, timeout: float = 10) -> None:
    """Terminate, wait, kill if it will not go; close its log file."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if log is not None:
        log.close()


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A loopback port free right now (TCP unless told otherwise)."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_udp_tcp_port() -> int:
    """A loopback port free for both TCP and UDP: DNS servers listen on both."""
    for _ in range(50):
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            try:
                udp.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise OSError("no free UDP+TCP port on 127.0.0.1")


def tail(path: Path, lines: int = 30) -> str:
    """The end of a server's log, for start-up error messages."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def wait_for(condition: Callable[[], object], timeout: float = 30.0, what: str = "condition") -> None:
    """Poll `condition` until it holds; the timeout only ends a hung test."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def count_rows(db_file: Path, table: str) -> int:
    """Rows in a table of an SQLite file, read without changing it."""
    conn = sqlite3.connect(f"{db_file.as_uri()}?mode=ro", uri=True)
    try:
        return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    finally:
        conn.close()
