"""What `cert test` and a provider's `probe()` hook share: check results, listeners, and the probe's context.

Kept free of network libraries: the probes themselves (probes.py) are imported only when a test runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from certify_tui.plugins import StepLogger

PROBE_LABEL = "_certify-tui-test"  # the TXT record name a dns-01 probe creates under each domain


@dataclass(frozen=True)
class Check:
    """One finding of `cert test`: passed (ok=True), failed (ok=False, with a remedy) or skipped (ok=None)."""

    name: str
    ok: bool | None  # None: skipped
    message: str
    remedy: str = ""

    @property
    def symbol(self) -> str:
        return {True: "✓", False: "✗", None: "-"}[self.ok]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Listener:
    """An address and port a provider listens on itself while validating: `cert test` checks it can bind them."""

    challenge: str
    address: str
    port: int
    serving: bool  # certify-tui's own listener holds it right now (so it is not free, and that is fine)
    busy_remedy: str  # what to do when another program holds it


class LookupFailed(Exception):
    """A DNS lookup that got no usable answer (timeout, SERVFAIL), as opposed to 'no such record'."""


@dataclass
class ProbeContext:
    """What `cert test` hands a provider's probe: the test's log, and the names as it resolved them."""

    log: StepLogger
    # A name's A/AAAA addresses the way the test looks them up ([] if none; LookupFailed if DNS fails).
    resolve: Callable[[str], list[str]]
    # The certificate's names already resolved by the test (a name missing here did not resolve).
    resolved: Mapping[str, list[str]] = field(default_factory=dict)

    def addresses(self, name: str) -> list[str]:
        return list(self.resolved.get(name) or [])


def check_names(challenge: str, provider: str, names: list[str]) -> dict[str, str]:
    """The names of a rule's probe checks: per name for http-01 and tls-alpn-01, per domain for dns-01
    (a wildcard and its apex share one TXT name)."""
    if challenge == "dns-01":
        domains = dict.fromkeys(n[2:] if n.startswith("*.") else n for n in names)
        return {d: f"dns-01 {provider} {d}" for d in domains}
    return {n: f"{challenge} {n}" for n in names}


def skipped(labels: Mapping[str, str], message: str) -> list[Check]:
    return [Check(label, None, message) for label in labels.values()]


__all__ = ["PROBE_LABEL", "Check", "Listener", "LookupFailed", "ProbeContext", "check_names", "skipped"]
