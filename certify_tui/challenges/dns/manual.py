"""dns-01 by hand: certify-tui shows the exact TXT record, you create it at your DNS host.

The record is announced as a step event, so every face shows it. If the face running the request
can ask a person (RequestLog.wait_for_confirmation), the request waits for their confirmation
(up to `wait_seconds`); either way the shared dns-01 machinery then waits until the authoritative
nameservers serve the value before the CA is told.
"""

from __future__ import annotations

from certify_tui.challenges.dns.base import PROPAGATION_PARAMS, DnsProvider
from certify_tui.challenges.dns.records import TxtRecord
from certify_tui.challenges.probing import Check, ProbeContext, check_names, skipped
from certify_tui.errors import OperationError
from certify_tui.plugins import Param, StepLogger


def record_line(record: TxtRecord, ttl: int = 60) -> str:
    """The record in zone-file form, ready to copy: `_acme-challenge.example.com. 60 IN TXT "value"`."""
    return f'{record.fqdn.rstrip(".")}. {ttl} IN TXT "{record.value}"'


class ManualDnsProvider(DnsProvider):
    id = "manual"
    title = "Manual (you create the record)"
    description = ("Shows the TXT record to create at your DNS host and waits for it; "
                   "not for automatic renewal.")
    params = (
        Param("wait_seconds", "Confirmation wait (s)", type="int", default=600, minimum=1, maximum=86400,
              help="How long to wait for you to confirm the record exists, when the screen can ask."),
        *PROPAGATION_PARAMS,
    )

    def describe(self) -> str:
        return "a TXT record you create by hand"

    def create_txt(self, record: TxtRecord, log: StepLogger) -> None:
        line = record_line(record)
        step = getattr(log, "step", None)
        message = f"create this DNS record now: {line}"
        if step is not None:
            step("dns", message, record.identifier)
        else:
            log.info(message, record.identifier)
        wait = getattr(log, "wait_for_confirmation", None)
        if wait is None or getattr(log, "confirm", None) is None:
            return  # nobody can confirm here: the propagation check waits for the record instead
        seconds = self.options["wait_seconds"]
        if not wait(f"Create this DNS record, then confirm:\n{line}", seconds):
            raise OperationError(f"The record {record.fqdn} was not confirmed within {seconds} s; "
                                 "create it, then request again.")
        log.info(f"confirmed: {record.fqdn} was created", record.identifier)

    def delete_txt(self, record: TxtRecord, log: StepLogger) -> None:
        log.info(f'you may delete the record now: {record.fqdn}. TXT "{record.value}"', record.identifier)

    def probe(self, names: list[str], context: ProbeContext) -> list[Check]:
        return skipped(check_names("dns-01", self.id, names),
                       "manual provider: you create the records yourself; nothing to test")
