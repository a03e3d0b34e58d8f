"""The shared dns-01 machinery (CNAME delegation, zones, propagation, add/remove) and the RFC 2136 provider,
against a real BIND (tests/servers/bind.py), with no mocks."""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import dns.query
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.tsig
import dns.update
import pytest
from servers.bind import DELEGATED_ZONE, LONG_CHAIN, ZONE, BindServer, start_bind_or_skip

from certify_tui.challenges import get_provider
from certify_tui.challenges.base import ChallengeTask
from certify_tui.challenges.dns import propagation, zones
from certify_tui.challenges.dns.base import DnsProvider, TxtRecord
from certify_tui.challenges.dns.rfc2136 import Rfc2136Provider
from certify_tui.challenges.dns.zones import Server
from certify_tui.errors import OperationError, UsageError

_n = itertools.count(1)


class Recorder:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str | None]] = []

    def info(self, message: str, identifier: str | None = None) -> None:
        self.lines.append((message, identifier))

    def text(self) -> str:
        return "\n".join(m for m, _ in self.lines)


@pytest.fixture(scope="module")
def bind() -> Iterator[BindServer]:
    server = start_bind_or_skip()
    yield server
    server.stop()


@pytest.fixture
def at_bind(bind: BindServer, monkeypatch: pytest.MonkeyPatch) -> BindServer:
    """Lookups (CNAME, SOA, NS) and propagation checks go to the BIND instance."""
    monkeypatch.setattr(zones, "RESOLVER_OVERRIDE", [bind.address])
    monkeypatch.setattr(zones, "NAMESERVER_OVERRIDE", [bind.address])
    return bind


def unique_domain(zone: str = ZONE) -> str:
    return f"t{os.getpid()}x{next(_n)}.{zone}"


def task(identifier: str, value: str | None = None) -> ChallengeTask:
    value = value or f"value-{next(_n)}-{identifier}"
    return ChallengeTask(identifier, identifier.removeprefix("*."), "dns-01", "token", "keyauth", value)


def rfc2136(bind: BindServer, **extra: Any) -> Rfc2136Provider:
    options = {"server": bind.address, "tsig_key_name": bind.key_name, "tsig_secret": bind.key_secret,
               "propagation_timeout": 10, **extra}
    return Rfc2136Provider(options)


def _update(bind: BindServer, fqdn: str, value: str, *, add: bool) -> None:
    zone = DELEGATED_ZONE if fqdn.endswith(DELEGATED_ZONE) else ZONE
    msg = dns.update.UpdateMessage(zone, keyring=dns.tsig.Key(bind.key_name, bind.key_secret, bind.key_algorithm))
    rdata = dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT, [value.encode()])
    name = fqdn.removesuffix("." + zone)
    msg.add(name, 60, rdata) if add else msg.delete(name, rdata)
    assert dns.query.tcp(msg, "127.0.0.1", port=bind.port, timeout=5).rcode() == 0


class DirectProvider(DnsProvider):
    """A provider written against the contract only (not RFC 2136-aware): default zone/NS machinery."""

    id = "direct-test"
    title = "test"
    params = Rfc2136Provider.params[-2:]  # PROPAGATION_PARAMS

    def __init__(self, bind: BindServer, options: dict[str, Any] | None = None, delay: float = 0.0,
                 publish: bool = True) -> None:
        super().__init__(options or {"propagation_timeout": 10})
        self.bind, self.delay, self.publish = bind, delay, publish
        self.created: list[TxtRecord] = []

    def create_txt(self, record: TxtRecord, log: Any) -> None:
        self.created.append(record)
        if not self.publish:
            return
        if self.delay:  # as a provider API whose changes reach the nameservers later
            threading.Timer(self.delay, _update, (self.bind, record.fqdn, record.value), {"add": True}).start()
        else:
            _update(self.bind, record.fqdn, record.value, add=True)

    def delete_txt(self, record: TxtRecord, log: Any) -> None:
        _update(self.bind, record.fqdn, record.value, add=False)


# -- CNAME chains and zones -------------------------------------------------------------------------


def test_no_cname_is_the_name_itself(at_bind: BindServer) -> None:
    name = f"_acme-challenge.{unique_domain()}"
    assert zones.follow_cname(name, zones.make_resolver()) == [name]


def test_cname_is_followed_into_another_zone(at_bind: BindServer) -> None:
    chain = zones.follow_cname("_acme-challenge.cname.example.test", zones.make_resolver())
    assert chain == ["_acme-challenge.cname.example.test", "_acme-challenge.target.delegated.test"]


def test_two_hop_chain(at_bind: BindServer) -> None:
    chain = zones.follow_cname("_acme-challenge.twohop.example.test", zones.make_resolver())
    assert chain == ["_acme-challenge.twohop.example.test", "hop1.example.test",
                     "_acme-challenge.final.delegated.test"]


def test_cname_loop_is_detected(at_bind: BindServer) -> None:
    with pytest.raises(OperationError, match="loops") as err:
        zones.follow_cname("_acme-challenge.loop.example.test", zones.make_resolver())
    assert "loop-a.example.test -> loop-b.example.test -> loop-a.example.test" in err.value.message


def test_cname_chain_is_bounded(at_bind: BindServer) -> None:
    assert LONG_CHAIN > zones.MAX_CNAME_DEPTH
    with pytest.raises(OperationError, match="longer than 8 steps"):
        zones.follow_cname("_acme-challenge.long.example.test", zones.make_resolver())


def test_record_name_logs_the_delegation(at_bind: BindServer) -> None:
    log = Recorder()
    provider = rfc2136(at_bind)
    assert provider.record_name(task("cname.example.test"), log) == "_acme-challenge.target.delegated.test"
    assert "delegated by CNAME" in log.text()
    assert provider.record_name(task("*.plain.example.test"), log) == "_acme-challenge.plain.example.test"
    assert "TXT record name: _acme-challenge.plain.example.test" in log.text()


def test_cname_target_option_wins(at_bind: BindServer) -> None:
    log = Recorder()
    provider = rfc2136(at_bind, cname_target="_acme-challenge.Other.delegated.test.")
    assert provider.record_name(task("cname.example.test"), log) == "_acme-challenge.other.delegated.test"
    assert "cname_target option" in log.text()


def test_zone_is_found_from_soa(at_bind: BindServer) -> None:
    resolver = zones.make_resolver()
    assert zones.find_zone(f"_acme-challenge.{unique_domain()}", resolver) == ZONE
    assert zones.find_zone("_acme-challenge.target.delegated.test", resolver) == DELEGATED_ZONE
    # rfc2136 asks its own server, without any override
    assert rfc2136(at_bind).zone_for("_acme-challenge.x.delegated.test") == DELEGATED_ZONE


def test_nameservers_of_zone(at_bind: BindServer) -> None:
    assert zones.nameservers_of(ZONE, zones.make_resolver()) == [Server("127.0.0.1", 53, "ns.example.test")]


def test_parse_server() -> None:
    assert zones.parse_server("127.0.0.1:5353") == ("127.0.0.1", 5353)
    assert zones.parse_server("ns1.example.com") == ("ns1.example.com", 53)
    assert zones.parse_server("[::1]:5300") == ("::1", 5300)
    assert zones.parse_server("::1") == ("::1", 53)
    for bad in ("", "host:0", "host:x", "[::1]:99999"):
        with pytest.raises(UsageError):
            zones.parse_server(bad)


# -- propagation ------------------------------------------------------------------------------------


def test_propagation_waits_for_a_late_record(at_bind: BindServer) -> None:
    log = Recorder()
    provider = DirectProvider(at_bind, delay=0.5)
    t = task(unique_domain())
    start = time.monotonic()
    provider.prepare([t], log)
    took = time.monotonic() - start
    fqdn = f"_acme-challenge.{t.domain}"
    assert at_bind.txt_values(fqdn) == {t.validation}
    assert 0.5 <= took < 3, took  # polled quickly, no fixed sleep
    assert f"{at_bind.address} serves {fqdn}" in log.text()
    assert f"waiting for {fqdn} on the nameservers of zone {ZONE}" in log.text()
    provider.cleanup([t], log)
    assert at_bind.txt_values(fqdn) == set()


def test_propagation_timeout_names_record_and_server(at_bind: BindServer) -> None:
    log = Recorder()
    provider = DirectProvider(at_bind, {"propagation_timeout": 1}, publish=False)
    t = task(unique_domain())
    start = time.monotonic()
    with pytest.raises(OperationError) as err:
        provider.prepare([t], log)
    assert time.monotonic() - start < 3
    message = err.value.message
    assert "timed out after 1 s" in message
    assert f"nameserver {at_bind.address} does not serve the TXT record _acme-challenge.{t.domain}" in message
    assert t.validation in message


def test_unreachable_nameserver_times_out_and_prepare_removes_its_records(bind: BindServer) -> None:
    dead = Server("127.0.0.1", _dead_port(), "ns-dead.example.test")

    class Secondary(Rfc2136Provider):
        def authoritative_servers(self, zone: str, log: Any) -> list[Server]:
            return [self.server(), dead]

    log = Recorder()
    t = task(unique_domain())
    provider = Secondary({**rfc2136(bind).options, "propagation_timeout": 1})
    with pytest.raises(OperationError, match=r"ns-dead\.example\.test \(127\.0\.0\.1:\d+\) does not serve"):
        provider.prepare([t], log)
    assert f"{bind.address} serves" in log.text()  # the primary did
    assert bind.txt_values(f"_acme-challenge.{t.domain}") == set()  # removed again after the failure
    assert "removed TXT" in log.text()


def test_propagation_check_can_be_disabled(at_bind: BindServer) -> None:
    log = Recorder()
    provider = DirectProvider(at_bind, {"propagation_timeout": 0}, publish=False)
    provider.prepare([task(unique_domain())], log)
    assert "not checking DNS propagation" in log.text()


def test_query_txt_states(bind: BindServer) -> None:
    server = Server("127.0.0.1", bind.port)
    assert propagation.query_txt(server, "nothing.delegated.test").status == "NXDOMAIN"
    assert propagation.query_txt(server, "example.test").values == frozenset()
    refused = propagation.query_txt(server, "_acme-challenge.example.org")
    assert refused.values is None
    dead = propagation.query_txt(Server("127.0.0.1", _dead_port()), "example.test", timeout=0.3)
    assert dead.values is None


# -- adding and removing values ---------------------------------------------------------------------


def test_wildcard_and_apex_values_coexist_and_are_removed_one_by_one(bind: BindServer) -> None:
    log = Recorder()
    domain = unique_domain()
    fqdn = f"_acme-challenge.{domain}"
    _update(bind, fqdn, "someone-elses-value", add=True)
    wildcard, apex = task(f"*.{domain}"), task(domain)
    provider = rfc2136(bind)
    provider.prepare([wildcard, apex], log)
    assert bind.txt_values(fqdn) == {"someone-elses-value", wildcard.validation, apex.validation}

    provider.cleanup([wildcard], log)
    assert bind.txt_values(fqdn) == {"someone-elses-value", apex.validation}
    provider.cleanup([apex], log)
    assert bind.txt_values(fqdn) == {"someone-elses-value"}
    provider.cleanup([wildcard, apex], log)  # already gone: quiet
    assert "could not remove" not in log.text()
    _update(bind, fqdn, "someone-elses-value", add=False)


def test_cleanup_never_raises(bind: BindServer) -> None:
    log = Recorder()
    provider = rfc2136(bind, server=f"127.0.0.1:{_dead_port()}", zone=ZONE)
    provider.cleanup([task(unique_domain())], log)
    assert "could not remove TXT" in log.text()
    assert "no answer from server" in log.text()


def test_delegated_record_is_created_at_the_target(at_bind: BindServer) -> None:
    log = Recorder()
    t = task("cname.example.test")
    provider = rfc2136(at_bind)
    provider.prepare([t], log)
    assert at_bind.txt_values("_acme-challenge.target.delegated.test") == {t.validation}
    assert at_bind.txt_values("_acme-challenge.cname.example.test") == set()
    provider.cleanup([t], log)
    assert at_bind.txt_values("_acme-challenge.target.delegated.test") == set()


# -- RFC 2136 errors and options --------------------------------------------------------------------


def test_wrong_secret(bind: BindServer) -> None:
    wrong = rfc2136(bind, tsig_secret="c2VjcmV0IHRoYXQgaXMgd3Jvbmc=", zone=ZONE)
    with pytest.raises(OperationError, match="the TSIG key name or secret is wrong"):
        wrong.create_txt(TxtRecord(f"_acme-challenge.{ZONE}", "v", ZONE), Recorder())


def test_unknown_key_name(bind: BindServer) -> None:
    wrong = rfc2136(bind, tsig_key_name="no-such-key", zone=ZONE)
    with pytest.raises(OperationError, match="the TSIG key name or secret is wrong"):
        wrong.create_txt(TxtRecord(f"_acme-challenge.{ZONE}", "v", ZONE), Recorder())


def test_key_without_rights_on_the_zone(bind: BindServer) -> None:
    limited = rfc2136(bind, tsig_key_name=bind.limited_key_name, tsig_secret=bind.limited_key_secret)
    with pytest.raises(OperationError, match="the server refuses updates for zone example.test from this key"):
        limited.create_txt(TxtRecord(f"_acme-challenge.{unique_domain()}", "v", ZONE), Recorder())
    limited.create_txt(TxtRecord("_acme-challenge.lim.delegated.test", "v", "x"), Recorder())  # its own zone
    limited.delete_txt(TxtRecord("_acme-challenge.lim.delegated.test", "v", "x"), Recorder())


def test_no_server(bind: BindServer) -> None:
    dead = rfc2136(bind, server=f"127.0.0.1:{_dead_port()}", zone=ZONE)
    with pytest.raises(OperationError, match="no answer from server"):
        dead.create_txt(TxtRecord(f"_acme-challenge.{ZONE}", "v", ZONE), Recorder())


def test_record_outside_the_zone_option(bind: BindServer) -> None:
    provider = rfc2136(bind, zone=DELEGATED_ZONE)
    with pytest.raises(OperationError, match="not inside zone delegated.test"):
        provider.create_txt(TxtRecord(f"_acme-challenge.{ZONE}", "v", ZONE), Recorder())


def test_options_and_describe() -> None:
    cls = get_provider("dns-01", "rfc2136")
    base = {"server": "127.0.0.1:5353", "tsig_key_name": "k", "tsig_secret": "aGVsbG8="}
    provider = cls({**base, "zone": "Example.Test."})
    assert provider.describe() == "RFC 2136 update to 127.0.0.1:5353 (zone example.test)"
    assert provider.options["tsig_algorithm"] == "hmac-sha256"
    assert provider.options["propagation_timeout"] == 120
    assert cls.redact(provider.options)["tsig_secret"] == "********"
    assert "found from its SOA" in cls(base).describe()
    with pytest.raises(UsageError, match="base64"):
        cls({**base, "tsig_secret": "not base64!"})
    with pytest.raises(UsageError, match="not a DNS server address"):
        cls({**base, "server": "host:notaport"})
    with pytest.raises(UsageError, match="hmac-sha256"):
        cls({**base, "tsig_algorithm": "hmac-sha3"})
    with pytest.raises(UsageError, match="tsig_secret"):
        cls({"server": "127.0.0.1", "tsig_key_name": "k"})


def _dead_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
