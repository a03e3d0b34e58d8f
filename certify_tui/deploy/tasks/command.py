"""The `command` task: run the user's command after a request, with the certificate in its environment.

The command is split like a shell would (shlex) and run without a shell, unless `shell` is on.
Its environment has CERTIFY_NAME, CERTIFY_DOMAINS (space-separated), CERTIFY_PRIMARY_DOMAIN,
CERTIFY_CERT, CERTIFY_CHAIN, CERTIFY_FULLCHAIN, CERTIFY_KEY, CERTIFY_SERIAL, CERTIFY_NOT_AFTER,
CERTIFY_RESULT (success or failure) and CERTIFY_ERROR. Its output goes to the certificate's log
(capped); a non-zero exit or a timeout fails the task.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import threading
from collections.abc import Mapping
from typing import Any

from certify_tui.deploy import DeploymentFailed
from certify_tui.deploy.base import DeploymentTask, StepLogger, TaskContext
from certify_tui.errors import UsageError
from certify_tui.plugins import Param

MAX_LOG_LINES = 40  # shown: the first and the last half of these
MAX_LINE_CHARS = 300
MAX_OUTPUT_BYTES = 1 << 20  # what is kept of a chatty command's output


def task_environment(context: TaskContext) -> dict[str, str]:
    """The CERTIFY_* variables describing the certificate and the request's outcome."""
    files = context.files
    return {
        "CERTIFY_NAME": files.name,
        "CERTIFY_DOMAINS": " ".join(files.identifiers),
        "CERTIFY_PRIMARY_DOMAIN": files.identifiers[0] if files.identifiers else "",
        "CERTIFY_CERT": str(files.cert),
        "CERTIFY_CHAIN": str(files.chain),
        "CERTIFY_FULLCHAIN": str(files.fullchain),
        "CERTIFY_KEY": str(files.privkey),
        "CERTIFY_SERIAL": files.serial,
        "CERTIFY_NOT_AFTER": files.not_after,
        "CERTIFY_RESULT": "success" if context.succeeded else "failure",
        "CERTIFY_ERROR": context.error or "",
    }


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


def log_output(output: bytes | str | None, label: str, log: StepLogger) -> None:
    """A command's output, line by line, capped: the first and last lines of a long output."""
    if not output:
        return
    text = output.decode("utf-8", "replace") if isinstance(output, bytes) else output
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    half = MAX_LOG_LINES // 2
    shown = lines if len(lines) <= MAX_LOG_LINES else [*lines[:half], None, *lines[-half:]]
    for line in shown:
        if line is None:
            log.info(f"{label}: ({len(lines) - 2 * half} more line(s) not shown)")
            continue
        if len(line) > MAX_LINE_CHARS:
            line = line[:MAX_LINE_CHARS] + "..."
        log.info(f"{label}: {line}")


def run_local_command(command: str, *, what: str, env: Mapping[str, str], log: StepLogger, timeout: int,
                      shell: bool = False, cwd: str | None = None) -> None:
    """Run `command`, its output to the log; DeploymentFailed naming the exit code, a timeout, a missing program.

    `what` names the command in messages ("The command 'deploy.sh'"): the program only, never its arguments."""
    program = program_name(command)
    if cwd and not os.path.isdir(cwd):
        raise DeploymentFailed(f"{what}: the working folder {cwd} does not exist.")
    argv: str | list[str] = command if shell else shlex.split(command)
    # A session of its own, so a timeout stops the whole tree (a shell's children too), not only the shell.
    group: dict[str, Any] = ({"start_new_session": True} if os.name == "posix"
                             else {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)})
    try:
        proc = subprocess.Popen(argv, shell=shell, cwd=cwd or None, env={**os.environ, **env},
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **group)
    except OSError as exc:
        raise DeploymentFailed(f"{what} could not be started: {exc.strerror or exc}.") from None
    reader = _OutputReader(proc)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_tree(proc)
        proc.wait()
        log_output(reader.finish(), program, log)
        raise DeploymentFailed(f"{what} did not finish within {timeout} s and was stopped.") from None
    log_output(reader.finish(), program, log)
    if proc.returncode != 0:
        raise DeploymentFailed(f"{what} failed with exit code {proc.returncode}; its output "
                               "is in the certificate's log.")


class _OutputReader:
    """Reads a process's output in a thread, keeping the last MAX_OUTPUT_BYTES.

    A thread rather than communicate(): a daemon the command started may keep the pipe open long after
    the command itself has exited, and the task must not wait for it."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self._stream = proc.stdout
        self._chunks: list[bytes] = []
        self._size = 0
        self._thread = threading.Thread(target=self._read, name="task-output", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self._stream is not None
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


class CommandTask(DeploymentTask):
    id = "command"
    title = "Run a command"
    description = ("Runs your command with the certificate's paths and details in CERTIFY_* environment "
                   "variables; a non-zero exit fails the task.")
    params = (
        Param("command", "Command", required=True,
              help="Run without a shell (split like a shell would) unless 'Use a shell' is on. Gets "
                   "CERTIFY_NAME, CERTIFY_DOMAINS, CERTIFY_CERT, CERTIFY_FULLCHAIN, CERTIFY_KEY, "
                   "CERTIFY_RESULT... in its environment."),
        Param("shell", "Use a shell", type="bool", default=False,
              help="Run the command through the system shell (pipes, &&, variables)."),
        Param("timeout", "Timeout (s)", type="int", default=60, minimum=1, maximum=86400,
              help="How long the command may run before it is stopped and the task fails."),
        Param("working_dir", "Working folder", type="path", help="Run the command in this folder."),
        *DeploymentTask.COMMON_PARAMS,
    )

    @classmethod
    def validate_options(cls, raw: Mapping[str, Any]) -> dict[str, Any]:
        values = super().validate_options(raw)
        check_command_line(cls.id, "command", values["command"], shell=values["shell"])
        return values

    def describe(self) -> str:
        how = " through the shell" if self.options["shell"] else ""
        return f"run {program_name(self.options['command'])}{how}"

    def run(self, context: TaskContext, log: StepLogger) -> None:
        what = f"The command '{program_name(self.options['command'])}'"
        run_local_command(self.options["command"], what=what, env=task_environment(context), log=log,
                          timeout=self.options["timeout"], shell=self.options["shell"],
                          cwd=self.options.get("working_dir") or None)


def tasks() -> list[type[DeploymentTask]]:
    return [CommandTask]
