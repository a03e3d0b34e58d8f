"""The contract every dns-01 provider follows.

A provider only knows how to create and delete one TXT record in a zone it controls
(`create_txt`, `delete_txt`). Everything else is done here, once, for all of them:
- the record name is `_acme-challenge.<domain>`, or where its CNAME points (delegation);
- a wildcard and its apex need two values at the same name at the same time: records are
  added, never overwritten, and each value is removed on its own afterwards;
- before the CA is told, the authoritative nameservers are queried until each serves the value
  (see propagation.py), bounded by `propagation_timeout`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from certify_tui.challenges.base import ChallengeProvider, ChallengeTask, StepLogger
from certify_tui.plugins import Param

PROPAGATION_PARAMS: tuple[Param, ...] = (
    Param("propagation_timeout", "Propagation wait (s)", type="int", default=120, minimum=0, maximum=3600,
          help="How long to wait for every authoritative nameserver to serve the record."),
    Param("cname_target", "Delegated record name",
          help="Where _acme-challenge is delegated (CNAME target), if not followed automatically."),
)


@dataclass(frozen=True)
class TxtRecord:
    fqdn: str  # without the trailing dot, e.g. _acme-challenge.example.com
    value: str
    identifier: str  # the certificate name it validates, for logs


class DnsProvider(ChallengeProvider):
    """Base of dns-01 providers. Subclasses implement create_txt/delete_txt (and may override zone_for)."""

    challenge_type: ClassVar[str] = "dns-01"

    def create_txt(self, record: TxtRecord, log: StepLogger) -> None:
        """Add the TXT value (keep any other values at the same name)."""
        raise NotImplementedError

    def delete_txt(self, record: TxtRecord, log: StepLogger) -> None:
        """Remove this one value; succeed quietly if it is already gone."""
        raise NotImplementedError

    def prepare(self, tasks: list[ChallengeTask], log: StepLogger) -> None:
        raise NotImplementedError  # provided by the shared dns-01 machinery (see propagation.py)

    def cleanup(self, tasks: list[ChallengeTask], log: StepLogger) -> None:
        raise NotImplementedError
