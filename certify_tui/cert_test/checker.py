"""Running `cert test` for one certificate: names first, then listeners' ports, the providers' probes, CAA.

What a provider publishes and how it is looked up belongs to the provider (its `listener()` and `probe()`
hooks); this only orders the checks, shares what they need (resolved names, blocked ports) and logs them.
"""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass
from typing import Any

from certify_tui.cert_test import lookups
from certify_tui.challenges.base import ChallengeProvider
from certify_tui.challenges.probing import Check, Listener, LookupFailed, ProbeContext, check_names, skipped
from certify_tui.challenges.rules import provider_from, rule_for
from certify_tui.errors import CertifyError
from certify_tui.events import RequestLog
from certify_tui.model import ChallengeRule
from certify_tui.paths import DataDir


def run_checks(data: DataDir, cert: Any) -> list[Check]:
    """Every check for one managed certificate (a ManagedCertificate row)."""
    log = RequestLog(data.certificate_log(cert.name), name=cert.name)
    try:
        log.step("test", "checking names, ports, reachability, CAA and DNS access (nothing is sent to the CA)")
        checks = _Checker(cert, log).run()
        failed = sum(1 for c in checks if c.ok is False)
        log.step("test", f"{len(checks)} check(s), {failed} failed", ok=failed == 0)
        return checks
    finally:
        log.close()


@dataclass
class _Group:
    """One challenge rule, the names it validates, and its provider (None: the rule cannot be used)."""

    challenge: str
    provider_id: str
    names: list[str]
    provider: ChallengeProvider | None
    error: str = ""


class _Checker:
    def __init__(self, cert: Any, log: RequestLog) -> None:
        self.cert = cert
        self.log = log
        self.identifiers: list[str] = list(cert.identifiers)
        self.rules: list[ChallengeRule] = list(cert.challenge_rules)
        self.addresses: dict[str, list[str]] = {}
        self.bad_ports: set[tuple[str, int]] = set()

    def run(self) -> list[Check]:
        groups = self._groups()
        checks = [self._resolve(identifier, _challenge_of(groups, identifier)) for identifier in self.identifiers]
        listeners: dict[tuple[str, str, int], Listener] = {}
        for group in groups:
            if group.provider is not None and (listener := group.provider.listener()) is not None:
                listeners.setdefault((listener.challenge, listener.address, listener.port), listener)
        checks.extend(self._port(listener) for listener in listeners.values())
        # Reachability (what the CA fetches) before CAA, DNS access after it.
        checks.extend(check for group in groups if group.challenge != "dns-01" for check in self._probe(group))
        checks.extend(self._caa())
        checks.extend(check for group in groups if group.challenge == "dns-01" for check in self._probe(group))
        return checks

    def _groups(self) -> list[_Group]:
        """The rules in use, in rule order, each with the identifiers it validates."""
        by_index: dict[int, list[str]] = {}
        for identifier in self.identifiers:
            try:
                rule = rule_for(self.rules, identifier)
            except CertifyError:
                continue
            by_index.setdefault(self.rules.index(rule), []).append(identifier)
        return [self._group(self.rules[i], by_index[i]) for i in sorted(by_index)]

    @staticmethod
    def _group(rule: ChallengeRule, names: list[str]) -> _Group:
        challenge, provider_id = rule.challenge, rule.provider or "default"  # stored rules name theirs
        try:
            return _Group(challenge, provider_id, names, provider_from(rule))
        except CertifyError as exc:
            return _Group(challenge, provider_id, names, None, exc.message)

    # -- names resolve --------------------------------------------------------------------------------
    def _resolve(self, identifier: str, challenge: str | None) -> Check:
        label = f"resolve {identifier}"
        if identifier.startswith("*."):
            return Check(label, None, "a wildcard is validated through DNS only; nothing to resolve")
        try:
            found = lookups.resolve_addresses(identifier)
        except LookupFailed as exc:
            found, error = [], str(exc)
        else:
            error = "no A or AAAA record"
        self.addresses[identifier] = found
        if found:
            return Check(label, True, ", ".join(found))
        if challenge == "dns-01":
            return Check(label, None, f"{error} (not needed for dns-01)")
        return Check(label, False, f"{identifier} does not resolve: {error}",
                     f"Create an A (and/or AAAA) record for {identifier} pointing at this server's public "
                     "address, or validate it with dns-01.")

    # -- ports providers listen on ------------------------------------------------------------------
    def _port(self, listener: Listener) -> Check:
        address, port = listener.address, listener.port
        label = f"port {address}:{port} ({listener.challenge})"
        if listener.serving:
            return Check(label, True, "certify-tui's own listener is serving there now")
        problem = bind_problem(address, port)
        if problem is None:
            return Check(label, True, "free: the built-in listener can start")
        self.bad_ports.add((address, port))
        if problem == errno.EACCES:
            return Check(label, False, f"no permission to listen on port {port}",
                         "Run as root, grant CAP_NET_BIND_SERVICE to the Python binary, or use a port above "
                         "1023 with a port forward.")
        return Check(label, False, f"another program already listens on {address}:{port} "
                                   f"({errno.errorcode.get(problem, problem)})", listener.busy_remedy)

    # -- the providers' own probes ------------------------------------------------------------------
    def _probe(self, group: _Group) -> list[Check]:
        labels = check_names(group.challenge, group.provider_id, group.names)
        if group.provider is None:
            return [Check(label, False, group.error, "Edit the certificate's challenge settings.")
                    for label in labels.values()]
        listener = group.provider.listener()
        if listener is not None and (listener.address, listener.port) in self.bad_ports:
            return skipped(labels, "skipped: the listener cannot start (see the port check)")
        context = ProbeContext(self.log, resolve=lookups.resolve_addresses, resolved=self.addresses)
        return group.provider.probe(group.names, context)

    # -- CAA ----------------------------------------------------------------------------------------
    def _caa(self) -> list[Check]:
        account = self.cert.account
        ca = lookups.CA_IDENTITIES.get(account.ca_name or "")
        if ca is None:
            return [Check("CAA", None, "custom CA: its CAA identity is unknown, so CAA was not checked",
                          "If the names have CAA records, make sure they allow this CA's issuer domain.")]
        checks, cache = [], {}
        for identifier in self.identifiers:
            label = f"CAA {identifier}"
            wildcard = identifier.startswith("*.")
            domain = identifier[2:] if wildcard else identifier
            try:
                if domain not in cache:
                    cache[domain] = lookups.caa_lookup(domain)
                owner, records = cache[domain]
            except LookupFailed as exc:
                checks.append(Check(label, False, f"CAA lookup failed: {exc}",
                                    "CAs refuse to issue when CAA cannot be looked up: fix the DNS servers "
                                    f"for {domain} (they must answer CAA queries, even with no records)."))
                continue
            if not records:
                checks.append(Check(label, True, f"no CAA records: any CA may issue (including {ca})"))
                continue
            allowed, reason = lookups.caa_decision(records, ca, wildcard)
            if allowed:
                checks.append(Check(label, True, f"CAA at {owner}: {reason}"))
            else:
                tag = "issuewild" if wildcard else "issue"
                checks.append(Check(label, False, f"CAA at {owner} forbids {ca}: {reason}",
                                    f'Add a CAA record at {owner}: {owner}. CAA 0 {tag} "{ca}"'))
        return checks


def _challenge_of(groups: list[_Group], identifier: str) -> str | None:
    return next((group.challenge for group in groups if identifier in group.names), None)


def bind_problem(address: str, port: int) -> int | None:
    """None if address:port can be bound now (as the built-in listeners bind it), else the errno."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address, port))
            sock.listen(1)
        except OSError as exc:
            return exc.errno or errno.EADDRINUSE
    return None
