"""Pieces every test-server harness shares: finding a daemon's binary and stopping its process."""

from __future__ import annotations

import os
import shutil
import subprocess
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
