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

from typing import ClassVar

import dns.resolver

from certify_tui.challenges.base import ChallengeProvider, ChallengeTask
from certify_tui.challenges.dns import propagation, zones
from certify_tui.challenges.dns.records import TxtRecord
from certify_tui.challenges.dns.zones import DnsLookupError, Server
from certify_tui.challenges.probing import Check, ProbeContext
from certify_tui.errors import OperationError
from certify_tui.plugins import Param, StepLogger

PROPAGATION_PARAMS: tuple[Param, ...] = (
    Param("propagation_timeout", "Propagation wait (s)", type="int", default=120, minimum=0, maximum=3600,
          help="How long to wait for every authoritative nameserver to serve the record (0: do not check)."),
    Param("cname_target", "Delegated record name",
          help="Where _acme-challenge is delegated (CNAME target), if not followed automatically."),
)
CHALLENGE_LABEL = "_acme-challenge"


class DnsProvider(ChallengeProvider):
    """Base of dns-01 providers. Subclasses implement create_txt/delete_txt (and may override zone_for).

    Hooks a subclass may override: `zone_for(fqdn)` (the zone holding a record; default: SOA walk),
    `authoritative_servers(zone, log)` (what propagation checks query; default: the zone's NS),
    `resolver()` (lookups). `resolvers` / `nameservers` (lists of "host[:port]") replace the system
    resolver / the zone's NS for this provider (see zones.py for the module and environment overrides).
    """

    challenge_type: ClassVar[str] = "dns-01"
    resolvers: list[str] | None = None
    nameservers: list[str] | None = None

    def create_txt(self, record: TxtRecord, log: StepLogger) -> None:
        """Add the TXT value (keep any other values at the same name)."""
        raise NotImplementedError

    def delete_txt(self, record: TxtRecord, log: StepLogger) -> None:
        """Remove this one value; succeed quietly if it is already gone."""
        raise NotImplementedError

    def probe(self, names: list[str], context: ProbeContext) -> list[Check]:
        """`cert test`: create and delete a test TXT record under each domain, through create_txt/delete_txt."""
        from certify_tui.challenges.dns.probe import txt_probe

        return txt_probe(self, names, context)

    # -- hooks --------------------------------------------------------------------------------------

    def resolver(self) -> dns.resolver.Resolver:
        return zones.make_resolver(self.resolvers)

    def zone_for(self, fqdn: str) -> str:
        """The zone (no trailing dot) that holds `fqdn`."""
        cache = self._cache("zones")
        if fqdn not in cache:
            cache[fqdn] = zones.find_zone(fqdn, self.resolver())
        return cache[fqdn]

    def authoritative_servers(self, zone: str, log: StepLogger) -> list[Server]:
        """The servers that must serve the record before the CA is told."""
        override = zones.configured(self.nameservers, zones.NAMESERVER_OVERRIDE, zones.NAMESERVERS_ENV)
        if override:
            return sorted({s for text in override for s in zones.to_servers(text)})
        return zones.nameservers_of(zone, self.resolver())

    # -- shared machinery -----------------------------------------------------------------------------

    def record_name(self, task: ChallengeTask, log: StepLogger) -> str:
        """Where this task's TXT value goes: `_acme-challenge.<domain>`, or where it is delegated."""
        base = f"{CHALLENGE_LABEL}.{task.domain.removeprefix('*.')}".lower().rstrip(".")
        cache = self._cache("names")
        if base in cache:
            return cache[base]
        if target := (self.options.get("cname_target") or "").strip().rstrip(".").lower():
            log.info(f"TXT record name: {target} (delegated from {base} by the cname_target option)", task.identifier)
            name = target
        else:
            try:
                chain = zones.follow_cname(base, self.resolver())
            except DnsLookupError as exc:
                log.info(f"could not check {base} for a CNAME ({exc.message}); using it as is", task.identifier)
                chain = [base]
            name = chain[-1]
            if len(chain) > 1:
                log.info(f"TXT record name: {name} ({base} is delegated by CNAME: {' -> '.join(chain)})",
                         task.identifier)
            else:
                log.info(f"TXT record name: {name}", task.identifier)
        cache[base] = name
        return name

    def prepare(self, tasks: list[ChallengeTask], log: StepLogger) -> None:
        records = self._records(tasks, log)
        created: list[TxtRecord] = []
        try:
            for record in records:
                self.create_txt(record, log)
                created.append(record)
                log.info(f"added TXT {record.fqdn} = '{record.value}'", record.identifier)
            self.wait_for_propagation(records, log)
        except BaseException:
            self._delete(created, log)  # nothing is left behind when prepare fails half-way
            raise

    def cleanup(self, tasks: list[ChallengeTask], log: StepLogger) -> None:
        try:
            records = self._records(tasks, log)
        except Exception as exc:  # noqa: BLE001 - cleanup must not raise; fall back to the plain names
            log.info(f"could not work out the delegated record names ({exc}); removing at _acme-challenge")
            records = [TxtRecord(f"{CHALLENGE_LABEL}.{t.domain.removeprefix('*.')}".lower(), t.validation,
                                 t.identifier) for t in tasks]
        self._delete(records, log)

    def wait_for_propagation(self, records: list[TxtRecord], log: StepLogger) -> None:
        timeout = int(self.options.get("propagation_timeout", 120))
        if not records:
            return
        if timeout <= 0:
            log.info("not checking DNS propagation (propagation_timeout is 0)", records[0].identifier)
            return
        wanted: dict[str, tuple[set[str], str]] = {}
        for record in records:
            wanted.setdefault(record.fqdn, (set(), record.identifier))[0].add(record.value)
        checks: list[propagation.Check] = []
        for fqdn, (values, identifier) in wanted.items():
            try:
                zone = self.zone_for(fqdn)
                servers = self.authoritative_servers(zone, log)
            except DnsLookupError as exc:
                raise OperationError(f"Cannot check that {fqdn} is published: {exc.message}") from exc
            log.info(f"waiting for {fqdn} on the nameservers of zone {zone}: "
                     f"{', '.join(str(s) for s in servers)}", identifier)
            checks.extend(propagation.Check(s, fqdn, frozenset(values), identifier) for s in servers)
        took = propagation.wait_for(checks, timeout, log)
        log.info(f"every authoritative nameserver serves the record(s) ({took:.2f} s)", records[0].identifier)

    # -- helpers ----------------------------------------------------------------------------------------

    def _records(self, tasks: list[ChallengeTask], log: StepLogger) -> list[TxtRecord]:
        records: list[TxtRecord] = []
        for task in tasks:
            record = TxtRecord(self.record_name(task, log), task.validation, task.identifier)
            if record not in records:
                records.append(record)
        return records

    def _delete(self, records: list[TxtRecord], log: StepLogger) -> None:
        for record in records:
            try:
                self.delete_txt(record, log)
            except Exception as exc:  # noqa: BLE001 - one failed removal must not stop the others
                log.info(f"could not remove TXT {record.fqdn} = '{record.value}': {exc}", record.identifier)
            else:
                log.info(f"removed TXT {record.fqdn} = '{record.value}'", record.identifier)

    def _cache(self, kind: str) -> dict[str, str]:
        caches: dict[str, dict[str, str]] = self.__dict__.setdefault("_dns_caches", {})
        return caches.setdefault(kind, {})
