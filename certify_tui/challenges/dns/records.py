"""A dns-01 TXT record: what a provider creates and deletes (its own module, so the probe needs no provider)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TxtRecord:
    fqdn: str  # without the trailing dot, e.g. _acme-challenge.example.com
    value: str
    identifier: str  # the certificate name it validates, for logs
