"""The `command` task: run the user's command after a request, with the certificate in its environment.

The command is split like a shell would (shlex) and run without a shell, unless `shell` is on.
Its environment has CERTIFY_NAME, CERTIFY_DOMAINS (space-separated), CERTIFY_PRIMARY_DOMAIN,
CERTIFY_CERT, CERTIFY_CHAIN, CERTIFY_FULLCHAIN, CERTIFY_KEY, CERTIFY_SERIAL, CERTIFY_NOT_AFTER,
CERTIFY_RESULT (success or failure) and CERTIFY_ERROR. Its output goes to the certificate's log
(capped); a non-zero exit or a timeout fails the task.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from certify_tui.deploy.base import DeploymentFailed, DeploymentTask, TaskContext
from certify_tui.plugins import Param, StepLogger
from certify_tui.user_commands import check_command_line, program_name, run_command

MAX_LOG_LINES = 40  # shown: the first and the last half of these
MAX_LINE_CHARS = 300


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
    if cwd and not os.path.isdir(cwd):
        raise DeploymentFailed(f"{what}: the working folder {cwd} does not exist.")
    try:
        code, output = run_command(command, env=env, timeout=timeout, shell=shell, cwd=cwd)
    except OSError as exc:
        raise DeploymentFailed(f"{what} could not be started: {exc.strerror or exc}.") from None
    log_output(output, program_name(command), log)
    if code is None:
        raise DeploymentFailed(f"{what} did not finish within {timeout} s and was stopped.")
    if code != 0:
        raise DeploymentFailed(f"{what} failed with exit code {code}; its output is in the certificate's log.")


class CommandTask(DeploymentTask):
    id = "command"
    listing_order = 20
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
        Param("working_dir", "Working folder", type="path", exists="dir", help="Run the command in this folder."),
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
