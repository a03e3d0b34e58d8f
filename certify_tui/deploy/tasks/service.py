"""The `service` task: reload or restart a service so it picks up the new certificate.

With systemd: `systemctl <action> <name>`. Elsewhere (or for anything special) a custom command,
run like the `command` task's (no shell, CERTIFY_* environment, output to the log).
"""

from __future__ import annotations

import re
import shlex
import shutil
from collections.abc import Mapping
from typing import Any

from certify_tui.deploy.base import DeploymentFailed, DeploymentTask, TaskContext
from certify_tui.deploy.tasks.command import run_local_command, task_environment
from certify_tui.errors import UsageError
from certify_tui.plugins import Param, StepLogger
from certify_tui.user_commands import check_command_line, program_name

# systemd unit names (with an optional instance and suffix); never starting with '-', so never an option.
_SERVICE_NAME = re.compile(r"[A-Za-z0-9_.@:\\][A-Za-z0-9_.@:\\-]*")


class ServiceTask(DeploymentTask):
    id = "service"
    listing_order = 30
    title = "Reload a service"
    description = "Reloads or restarts a service (systemctl), or runs your own reload command."
    params = (
        Param("name", "Service", help="The service to reload, e.g. nginx, haproxy or postfix."),
        Param("action", "Action", type="choice", default="reload", choices=("reload", "restart"),
              help="reload keeps connections open; restart stops and starts the service."),
        Param("command", "Custom command",
              help="Run this instead of systemctl (e.g. 'rc-service nginx reload'); no shell."),
        Param("timeout", "Timeout (s)", type="int", default=60, minimum=1, maximum=3600),
        *DeploymentTask.COMMON_PARAMS,
    )

    @classmethod
    def validate_options(cls, raw: Mapping[str, Any]) -> dict[str, Any]:
        values = super().validate_options(raw)
        name = (values.get("name") or "").strip()
        command = (values.get("command") or "").strip()
        if not name and not command:
            raise UsageError("service: set the service's name (for systemctl) or a custom command.")
        if name and not _SERVICE_NAME.fullmatch(name):
            raise UsageError(f"service: '{name}' is not a valid service name.")
        if command:
            check_command_line(cls.id, "command", command)
        values["name"], values["command"] = name, command
        return values

    def describe(self) -> str:
        action, name = self.options["action"], self.options["name"]
        if self.options["command"]:
            target = f" {name}" if name else ""
            return f"{action}{target} with {program_name(self.options['command'])}"
        return f"{action} {name} (systemctl)"

    def run(self, context: TaskContext, log: StepLogger) -> None:
        action, name, command = self.options["action"], self.options["name"], self.options["command"]
        what = f"The {action} command '{program_name(command)}'" if command else f"systemctl {action} {name}"
        if not command:
            systemctl = shutil.which("systemctl")
            if systemctl is None:
                raise DeploymentFailed(f"Cannot {action} {name}: systemctl is not available on this machine; "
                                       "set a custom command in the service task.")
            command = shlex.join([systemctl, action, name])
        run_local_command(command, what=what, env=task_environment(context), log=log,
                          timeout=self.options["timeout"])
