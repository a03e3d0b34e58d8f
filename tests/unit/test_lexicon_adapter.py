"""The dns-lexicon adapter without a DNS server: classes, parameters, validation, errors, start-up cost."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from certify_tui.challenges import all_providers, get_provider
from certify_tui.challenges.dns import lexicon_adapter as la
from certify_tui.challenges.dns.base import PROPAGATION_PARAMS, DnsProvider, TxtRecord
from certify_tui.errors import OperationError, UsageError
from certify_tui.plugins import SECRET_MASK


class _Log:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, message: str, identifier: str | None = None) -> None:
        self.lines.append(message)


def test_every_lexicon_provider_becomes_a_class() -> None:
    classes = la.providers()
    assert len(classes) >= 80, len(classes)
    ids = [cls.id for cls in classes]
    assert len(set(ids)) == len(ids)
    assert "lexicon-cloudflare" in ids and "lexicon-powerdns" in ids and "lexicon-route53" in ids
    assert "lexicon-auto" not in ids  # picks a provider by NS lookups: not offered
    registry = all_providers()
    for cls in classes:
        assert issubclass(cls, DnsProvider) and cls.challenge_type == "dns-01"
        assert cls.id.startswith("lexicon-")
        assert registry[("dns-01", cls.id)] is cls
        assert la.provider_class(cls.lexicon_name) is cls  # cached
        assert cls.title and cls.description
        keys = [p.key for p in cls.params]
        assert len(set(keys)) == len(keys), cls.id
        assert keys[-len(PROPAGATION_PARAMS) - 1:] == ["zone", *(p.key for p in PROPAGATION_PARAMS)]
        assert len(cls.params) > len(PROPAGATION_PARAMS) + 1 or cls.lexicon_name in {"localzone"}, cls.id
        assert cls.describe_params()  # JSON-ready for the UI and the API
    assert get_provider("dns-01", "lexicon-powerdns") is la.provider_class("powerdns")
    # Nothing of ours is shadowed.
    assert not {"rfc2136", "script", "manual"} & set(ids)


def test_params_come_from_the_providers_own_options() -> None:
    cloudflare = {p.key: p for p in la.provider_class("cloudflare").params}
    assert cloudflare["auth_token"].secret and not cloudflare["auth_username"].secret
    assert not cloudflare["zone_id"].secret
    assert "--auth-token" in cloudflare["auth_token"].help

    pdns = {p.key: p for p in la.provider_class("powerdns").params}
    assert set(pdns) >= {"auth_token", "pdns_server", "pdns_server_id", "zone", "propagation_timeout"}
    assert pdns["auth_token"].secret and pdns["auth_token"].required
    assert pdns["pdns_server"].required and not pdns["pdns_server"].secret
    assert not pdns["pdns_server_id"].required

    ovh = {p.key: p for p in la.provider_class("ovh").params}
    assert ovh["auth_entrypoint"].type == "choice" and "ovh-eu" in ovh["auth_entrypoint"].choices
    assert ovh["auth_application_secret"].secret and ovh["auth_consumer_key"].secret

    transip = {p.key: p for p in la.provider_class("transip").params}
    assert transip["auth_key_is_global"].type == "bool" and not transip["auth_key_is_global"].secret
    namecheap = {p.key: p for p in la.provider_class("namecheap").params}
    assert namecheap["auth_client_ip"].default == "127.0.0.1"
    assert {p.key: p for p in la.provider_class("localzone").params}["filename"].type == "path"
    for name, key in [("hover", "auth_totp_secret"), ("infoblox", "auth_psw"), ("wedos", "auth_pass"),
                      ("netcup", "auth_api_password"), ("ionos", "api_key")]:
        assert {p.key: p for p in la.provider_class(name).params}[key].secret, (name, key)


def test_option_validation_like_the_cli() -> None:
    cls = la.provider_class("powerdns")
    with pytest.raises(UsageError) as err:
        cls.validate_options({"pdns_server": "http://127.0.0.1:1", "auth_token": "k", "api_key": "x"})
    message = str(err.value)
    assert "lexicon-powerdns: unknown option 'api_key'" in message
    for key in ("auth_token", "pdns_server", "pdns_server_id", "zone", "propagation_timeout"):
        assert key in message
    with pytest.raises(UsageError, match="option 'auth_token'.*is required"):
        cls.validate_options({"pdns_server": "http://127.0.0.1:1"})
    values = cls.validate_options({"pdns_server": "http://127.0.0.1:1", "auth_token": "s3cret",
                                   "propagation_timeout": "15"})
    assert values["propagation_timeout"] == 15
    assert cls.redact(values)["auth_token"] == SECRET_MASK
    with pytest.raises(UsageError, match="must be one of"):
        la.provider_class("ovh").validate_options({"auth_entrypoint": "nowhere"})


def test_provider_missing_its_pip_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = [name for name in la.provider_names() if la.missing_extra(name)]
    for name in real:  # e.g. route53 without boto3: listed, explained, refused on use
        assert f"dns-lexicon[{name}]" in la.provider_class(name).description
    monkeypatch.setattr(la, "missing_extra", lambda name: f"pip install 'dns-lexicon[{name}]'")
    cls = la.provider_class("route53")
    with pytest.raises(UsageError) as err:
        cls({"auth_access_key": "a", "auth_access_secret": "b"})
    assert "lexicon-route53" in str(err.value) and "pip install 'dns-lexicon[route53]'" in str(err.value)


def test_zone_defaults_to_the_registered_domain() -> None:
    cls = la.provider_class("powerdns")
    options = {"pdns_server": "http://127.0.0.1:1", "auth_token": "k"}
    provider = cls(options)
    assert provider.lexicon_zone("_acme-challenge.www.example.co.uk") == "example.co.uk"
    assert provider.lexicon_zone("_acme-challenge.example.test.") == "example.test"
    assert provider.lexicon_zone("_acme-challenge.a.b.example.com") == "example.com"
    zoned = cls({**options, "zone": "Sub.Example.com."})
    assert zoned.lexicon_zone("_acme-challenge.x.sub.example.com") == "sub.example.com"
    with pytest.raises(UsageError, match="not inside zone sub.example.com"):
        zoned.lexicon_zone("_acme-challenge.example.org")


def test_providers_that_call_tldextract_never_download_the_list(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[object] = []
    real_getaddrinfo = socket.getaddrinfo

    def guarded(host: object, *args: object, **kwargs: object) -> object:
        if host not in ("127.0.0.1", "localhost", "::1", None):
            attempts.append(host)
            raise OSError(f"blocked in test: {host}")
        return real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    for name in ("godaddy", "namecheap"):
        module = la.load_module(name)
        extracted = module.tldextract.extract("_acme-challenge.www.example.co.uk")
        assert (extracted.domain, extracted.suffix) == ("example", "co.uk")
    assert attempts == []


def test_errors_name_the_provider_and_hide_secrets() -> None:
    secret = "tOkEn-0123456789"
    provider = la.provider_class("powerdns")({"pdns_server": "http://127.0.0.1:1", "auth_token": secret})

    def http_error(code: int) -> requests.HTTPError:
        response = requests.Response()
        response.status_code = code
        response.reason = "Nope"
        response._content = f'{{"error": "bad key {secret}"}}'.encode()
        response.url = f"http://127.0.0.1:1/api?key={secret}"
        return requests.HTTPError(f"{code} Client Error for url: {response.url}", response=response)

    for code, words in [(401, "refused the credentials (HTTP 401)"), (403, "refused the credentials (HTTP 403)"),
                        (404, "'not found' (HTTP 404) for zone example.test"), (500, "answered HTTP 500 Nope")]:
        error = provider._error(http_error(code), "example.test")
        assert isinstance(error, OperationError)
        assert error.message.startswith("lexicon-powerdns: PowerDNS API ")
        assert words in error.message, error.message
        assert secret not in error.message and secret not in (error.detail or "")
        assert SECRET_MASK in (error.detail or "")
    generic = provider._error(RuntimeError(f"cannot log in with {secret}"), "example.test")
    assert secret not in str(generic) and SECRET_MASK in str(generic)


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never answers."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_http_calls_are_bounded(monkeypatch: pytest.MonkeyPatch, silent_server: int) -> None:
    monkeypatch.setattr(la, "HTTP_TIMEOUT", 0.5)
    provider = la.provider_class("powerdns")({"pdns_server": f"http://127.0.0.1:{silent_server}",
                                              "auth_token": "k"})
    started = time.monotonic()
    with pytest.raises(OperationError, match=r"PowerDNS API did not answer within 0.5 s \(127.0.0.1:"):
        provider.create_txt(TxtRecord("_acme-challenge.example.test", "v", "example.test"), _Log())
    assert time.monotonic() - started < 10
    # Outside a provider call, requests keeps its own behaviour (no timeout unless asked).
    assert la._HTTP_DEFAULT_TIMEOUT.get() is None


_COST_SCRIPT = """
import json, sys, time
import certify_tui.challenges.dns.base  # what every dns-01 provider module needs anyway
started = time.perf_counter()
from certify_tui.challenges.dns import lexicon_adapter
classes = lexicon_adapter.providers()
ids = [cls.id for cls in classes]
took = time.perf_counter() - started
print(json.dumps({"seconds": took, "count": len(classes),
                  "imported": sorted(m for m in ("lexicon", "tldextract", "requests_unixsocket", "bs4")
                                     if m in sys.modules)}))
"""


def test_building_the_registry_is_cheap() -> None:
    out = subprocess.run([sys.executable, "-c", _COST_SCRIPT], capture_output=True, text=True, timeout=60,
                         check=True)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"\nlexicon adapter: {report['count']} providers registered in {report['seconds'] * 1000:.1f} ms "
          f"(fresh interpreter, import included)")
    assert report["count"] >= 80
    assert report["imported"] == []  # lexicon itself is imported only when a provider is used
    assert report["seconds"] < 0.5  # target < 50 ms; generous bound against a loaded machine

    names = la.provider_names()
    started = time.perf_counter()
    again = [la.provider_class.__wrapped__(name) for name in names]  # fresh classes, the cache untouched
    took = time.perf_counter() - started
    print(f"lexicon adapter: building {len(again)} classes in-process took {took * 1000:.2f} ms")
    assert took < 0.5
