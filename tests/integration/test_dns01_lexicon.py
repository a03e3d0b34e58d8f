"""dns-01 through dns-lexicon's powerdns provider against a real PowerDNS Authoritative server.

PowerDNS serves example.test; Pebble's validator resolves through it, so a certificate for
example.test and *.example.test only issues if the TXT records really reach it through the API.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from integration import helpers
from integration.helpers import add_account, leaf_of, san_names, unique, verify_issued
from servers.pebble import PebbleNotFound, PebbleServer
from servers.powerdns import PowerDnsNotFound, PowerDnsServer

from certify_tui.challenges.dns import zones
from certify_tui.challenges.dns.base import TxtRecord
from certify_tui.challenges.dns.lexicon_adapter import provider_class
from certify_tui.errors import CertifyError, OperationError
from certify_tui.lifecycle import Core

pytestmark = pytest.mark.pebble

PROVIDER = "lexicon-powerdns"


def _missing(exc: Exception, what: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{exc}; CI must provide {what}", pytrace=False)
    pytest.skip(str(exc))


@pytest.fixture(scope="module")
def pdns() -> Iterator[PowerDnsServer]:
    try:
        server = PowerDnsServer()
    except PowerDnsNotFound as exc:
        _missing(exc, "PowerDNS (pdns-server, pdns-backend-sqlite3)")
    with server:
        yield server


@pytest.fixture(scope="module")
def pebble_pdns(pdns: PowerDnsServer) -> Iterator[PebbleServer]:
    """A Pebble whose validator resolves through the PowerDNS server."""
    try:
        server = PebbleServer(dns_server=pdns.address)
    except PebbleNotFound as exc:
        _missing(exc, "Pebble")
    with server:
        yield server


@pytest.fixture
def dns_through_pdns(pdns: PowerDnsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lookups (CNAME, SOA) and propagation checks go to the PowerDNS server, not the system's DNS."""
    monkeypatch.setenv(zones.RESOLVERS_ENV, pdns.address)
    monkeypatch.setenv(zones.NAMESERVERS_ENV, pdns.address)


class _Log:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, message: str, identifier: str | None = None) -> None:
        self.lines.append(message)


class _Guard:
    """Records (and refuses) every attempt to reach a host other than loopback."""

    def __init__(self) -> None:
        self.attempts: list[str] = []

    @staticmethod
    def _loopback(host: Any) -> bool:
        if host in (None, "localhost"):
            return True
        try:
            return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
        except ValueError:
            return False  # a host name: resolving it would already leave the machine

    def check(self, what: str, address: Any) -> None:
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and host.startswith("/"):
            return  # AF_UNIX
        if not self._loopback(host):
            self.attempts.append(f"{what} {address!r}")
            raise OSError(f"test guard: no network outside loopback ({address!r})")


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> _Guard:
    guard = _Guard()
    real_connect, real_connect_ex, real_sendto = socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> Any:
        guard.check("connect", address)
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> Any:
        guard.check("connect_ex", address)
        return real_connect_ex(self, address)

    def sendto(self: socket.socket, data: Any, *args: Any) -> Any:
        guard.check("sendto", args[-1])
        return real_sendto(self, data, *args)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        guard.check("getaddrinfo", host)
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket.socket, "sendto", sendto)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return guard


def _fresh_name(prefix: str) -> str:
    return f"_acme-challenge.{unique(prefix)}.example.test"


def test_create_and_delete_txt_directly(pdns: PowerDnsServer, loopback_only: _Guard) -> None:
    provider = provider_class("powerdns")(pdns.lexicon_options())
    log = _Log()
    fqdn = _fresh_name("direct")
    one, two = TxtRecord(fqdn, "value-one", "a"), TxtRecord(fqdn, "value-two", "*.a")
    provider.create_txt(one, log)
    provider.create_txt(two, log)  # added beside the first, not replacing it
    assert pdns.txt_values(fqdn) == {"value-one", "value-two"}
    provider.create_txt(two, log)  # again: still one copy
    assert pdns.txt_records()[fqdn] == {"value-one", "value-two"}
    provider.delete_txt(one, log)
    assert pdns.txt_values(fqdn) == {"value-two"}
    provider.delete_txt(one, log)  # already gone: quietly fine
    provider.delete_txt(two, log)
    assert pdns.txt_values(fqdn) == set()
    assert fqdn not in pdns.txt_records()
    assert any("zone example.test" in line for line in log.lines)
    assert loopback_only.attempts == []  # nothing but the PowerDNS API on 127.0.0.1


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # lexicon warns about the dict config it still takes
def test_the_guard_would_catch_lexicons_own_psl_download(pdns: PowerDnsServer, loopback_only: _Guard,
                                                         monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """lexicon's Client guesses the zone with tldextract, which downloads the Public Suffix List (the reason
    the adapter does not use it): the guard above sees that, so its silence in the other tests means something."""
    from lexicon.client import Client

    monkeypatch.setenv("TLDEXTRACT_CACHE_PATH", str(tmp_path / "tld-cache"))
    Client({"provider_name": "powerdns", "domain": "example.test", "powerdns": pdns.lexicon_options()})
    assert any("publicsuffix" in attempt for attempt in loopback_only.attempts), loopback_only.attempts


def test_wrong_api_key_is_a_clear_error_without_the_key(pdns: PowerDnsServer) -> None:
    wrong = "wrong-key-" + "x" * 20
    provider = provider_class("powerdns")({**pdns.lexicon_options(), "auth_token": wrong})
    with pytest.raises(OperationError) as err:
        provider.create_txt(TxtRecord(_fresh_name("badkey"), "v", "example.test"), _Log())
    assert str(err.value) == "lexicon-powerdns: PowerDNS API refused the credentials (HTTP 401)."
    assert wrong not in str(err.value) and wrong not in (err.value.detail or "")
    assert pdns.api_key not in str(err.value)


def test_unknown_zone_is_a_clear_error(pdns: PowerDnsServer) -> None:
    provider = provider_class("powerdns")({**pdns.lexicon_options(), "zone": "missing.test"})
    with pytest.raises(OperationError, match=r"'not found' \(HTTP 404\) for zone missing.test"):
        provider.create_txt(TxtRecord("_acme-challenge.missing.test", "v", "missing.test"), _Log())


def _add_cert(core: Core, name: str, domains: list[str], options: dict[str, Any]) -> None:
    core.add_certificate(name=name, domains=domains, challenge="dns-01", provider=PROVIDER,
                         options={"propagation_timeout": 30, **options})


def test_issue_apex_and_wildcard_through_powerdns(core: Core, pdns: PowerDnsServer, pebble_pdns: PebbleServer,
                                                 dns_through_pdns: None, data_dir: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    add_account(core, pebble_pdns)
    names = ["example.test", "*.example.test"]
    _add_cert(core, "lexicon-wild", names, pdns.lexicon_options())
    result = core.request("lexicon-wild")
    leaf = leaf_of(result.version.files)
    assert sorted(san_names(leaf)) == sorted(names)
    # cryptography's verifier takes no wildcard as the name to check: verify www.example.test, which
    # only the wildcard covers, with every other check of verify_issued.
    monkeypatch.setattr(helpers, "san_names", lambda cert: [n.replace("*.", "www.") for n in san_names(cert)])
    verify_issued(result.version.files, ["example.test", "www.example.test"], pebble_pdns.root_pem(),
                  data_dir=data_dir)
    # Both values were published side by side at one name, and both are gone again.
    assert not [n for n in pdns.txt_records() if n.startswith("_acme-challenge")], pdns.txt_records()
    assert pdns.txt_values("_acme-challenge.example.test") == set()


def test_issuance_with_a_wrong_key_fails_clearly(core: Core, pdns: PowerDnsServer, pebble_pdns: PebbleServer,
                                                dns_through_pdns: None) -> None:
    add_account(core, pebble_pdns)
    wrong = "not-the-key-" + "y" * 16
    name = unique("badkey")
    _add_cert(core, "lexicon-bad", [f"{name}.example.test"], {**pdns.lexicon_options(), "auth_token": wrong})
    with pytest.raises(CertifyError) as err:
        core.request("lexicon-bad")
    text = f"{err.value} {err.value.detail or ''}"
    assert "PowerDNS API refused the credentials (HTTP 401)" in text
    assert wrong not in text
    assert f"_acme-challenge.{name}.example.test" not in pdns.txt_records()
