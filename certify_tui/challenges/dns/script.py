"""dns-01 through the user's own commands: one to add a TXT value, one to remove it.

Each command is split like a shell would (shlex) but run without a shell, with the record's
name and value appended as two arguments and also given in the environment:
CERTIFY_RECORD_NAME, CERTIFY_RECORD_VALUE, CERTIFY_IDENTIFIER (and CERTIFY_ACTION: create or delete).
Its output goes to the certificate's log; a non-zero exit or a timeout fails the step.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from certify_tui.challenges.dns.base import PROPAGATION_PARAMS, DnsProvider
from certify_tui.challenges.dns.records import TxtRecord
from certify_tui.errors import OperationError
from certify_tui.plugins import Param, StepLogger
from certify_tui.user_commands import check_command_line, program_name, run_command

MAX_LOG_LINES = 40
MAX_LINE_CHARS = 300


class ScriptDnsProvider(DnsProvider):
    id = "script"
    title = "Your own script"
    description = ("Runs your commands to add and remove the TXT record: "
                   "'<command> <record name> <value>', also in CERTIFY_RECORD_NAME / CERTIFY_RECORD_VALUE.")
    params = (
        Param("create_command", "Create command", required=True,
              help="Adds a TXT value; called as: <command> _acme-challenge.example.com <value>. Exit 0 on success."),
        Param("delete_command", "Delete command", required=True,
              help="Removes that one TXT value; called with the same two arguments. Exit 0 if already gone."),
        Param("timeout", "Command timeout (s)", type="int", default=60, minimum=1, maximum=3600,
              help="How long each command may run before it is stopped and the step fails."),
        *PROPAGATION_PARAMS,
    )

    @classmethod
    def validate_options(cls, raw: Mapping[str, Any]) -> dict[str, Any]:
        values = super().validate_options(raw)
        for key in ("create_command", "delete_command"):
            check_command_line(cls.id, key, values[key])
        return values

    def describe(self) -> str:
        return f"your script ({program_name(self.options['create_command'])})"

    def create_txt(self, record: TxtRecord, log: StepLogger) -> None:
        self._run("create", self.options["create_command"], record, log)

    def delete_txt(self, record: TxtRecord, log: StepLogger) -> None:
        self._run("delete", self.options["delete_command"], record, log)

    def _run(self, action: str, command: str, record: TxtRecord, log: StepLogger) -> None:
        argv = [*shlex.split(command), record.fqdn, record.value]
        program = program_name(command)
        env = {"CERTIFY_RECORD_NAME": record.fqdn, "CERTIFY_RECORD_VALUE": record.value,
               "CERTIFY_IDENTIFIER": record.identifier, "CERTIFY_ACTION": action}
        timeout = self.options["timeout"]
        log.info(f"running the {action} command ({program}) for {record.fqdn}", record.identifier)
        try:
            code, output = run_command(argv, env=env, timeout=timeout)
        except OSError as exc:
            raise OperationError(f"Cannot run the {action} command '{program}': {exc.strerror or exc}.") from None
        _log_output(output, program, record, log)
        if code is None:
            raise OperationError(f"The {action} command '{program}' for {record.fqdn} did not finish "
                                 f"within {timeout} s and was stopped.")
        if code != 0:
            raise OperationError(f"The {action} command '{program}' for {record.fqdn} failed with exit code "
                                 f"{code}; its output is in the certificate's log.")


def _log_output(output: bytes | str | None, program: str, record: TxtRecord, log: StepLogger) -> None:
    if not output:
        return
    text = output.decode("utf-8", "replace") if isinstance(output, bytes) else output
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    for line in lines[:MAX_LOG_LINES]:
        if len(line) > MAX_LINE_CHARS:
            line = line[:MAX_LINE_CHARS] + "..."
        log.info(f"{program}: {line}", record.identifier)
    if len(lines) > MAX_LOG_LINES:
        log.info(f"{program}: ({len(lines) - MAX_LOG_LINES} more line(s) not shown)", record.identifier)
