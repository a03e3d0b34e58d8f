"""The dns-01 probe for `cert test`: a test TXT record created and deleted through the provider's own API
(`_certify-tui-test.<domain>`, never the real `_acme-challenge` name). Imported by DnsProvider.probe only."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from certify_tui.challenges.dns.records import TxtRecord
from certify_tui.challenges.probing import PROBE_LABEL, Check, ProbeContext, check_names
from certify_tui.errors import CertifyError
from certify_tui.plugins import StepLogger

if TYPE_CHECKING:
    from certify_tui.challenges.dns.base import DnsProvider


def txt_probe(provider: DnsProvider, names: list[str], context: ProbeContext) -> list[Check]:
    """Create and delete a test TXT record under each domain through the provider's own API."""
    checks = []
    for domain, label in check_names("dns-01", provider.id, names).items():
        record = TxtRecord(f"{PROBE_LABEL}.{domain}", secrets.token_urlsafe(32), domain)
        log = _OutputRecorder(context.log)
        remedy = (f"Check the {provider.id} provider's credentials and that they may edit the zone "
                  f"holding {domain}.")
        try:
            provider.create_txt(record, log)
        except Exception as exc:  # noqa: BLE001 - any failure is what the user must see
            checks.append(Check(label, False, f"could not create {record.fqdn} TXT: "
                                f"{_reason(exc)}{log.last_output()}", remedy))
            continue
        try:
            provider.delete_txt(record, log)
        except Exception as exc:  # noqa: BLE001
            checks.append(Check(label, False, f"created {record.fqdn} TXT but could not delete it: "
                                f"{_reason(exc)}{log.last_output()}", remedy + f" Remove {record.fqdn} by hand."))
            continue
        checks.append(Check(label, True, f"created and deleted {record.fqdn} TXT"))
    return checks


class _OutputRecorder:
    """Passes a provider's log lines on, keeping them to quote the last one (a script's error) in the check."""

    def __init__(self, log: StepLogger) -> None:
        self._log = log
        self._lines: list[str] = []

    def info(self, message: str, identifier: str | None = None) -> None:
        self._lines.append(message)
        self._log.info(message, identifier)

    def step(self, step: str, message: str, identifier: str | None = None, ok: bool | None = None) -> None:
        self._log.step(step, message, identifier, ok)

    def __getattr__(self, name: str) -> Any:  # anything else a provider asks its log for
        return getattr(self._log, name)

    def last_output(self) -> str:
        lines = [line for line in self._lines if not line.startswith("running ")]
        return f" (last output: {lines[-1]})" if lines else ""


def _reason(exc: Exception) -> str:
    return exc.message if isinstance(exc, CertifyError) else f"{exc.__class__.__name__}: {exc}"
