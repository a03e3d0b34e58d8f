"""dns-01 through dns-lexicon: one adapter makes each of lexicon's DNS API providers a provider here.

For every lexicon provider module (cloudflare, powerdns, route53, ...) a DnsProvider subclass with id
`lexicon-<name>` is built on first use of the registry. Its parameters are the provider's own
command-line options, read from its `configure_parser()` (names exactly as lexicon expects them:
auth_token, pdns_server, ...), plus `zone` and the shared propagation parameters.

Start-up cost: listing the providers reads one folder; nothing of lexicon is imported (lexicon_catalog.py).
A provider's module is imported when its parameters, title or description are first asked for, and when it
is used (lexicon_options.py).

Nothing but the provider's API is contacted: lexicon's Client is not used, because it guesses the
zone with tldextract (which downloads the Public Suffix List) or with live DNS queries. The provider
class is driven directly with the zone passed explicitly, the same sequence Client runs
(construct, authenticate, operate, cleanup), and providers that call `tldextract.extract` themselves
get an extractor that only uses the snapshot bundled with tldextract. HTTP calls without a timeout
(lexicon sets none) get HTTP_TIMEOUT while a provider runs.

Providers whose optional dependencies are missing (route53 needs boto3, ...) are still listed, with a
note; using one raises a UsageError naming the pip extra to install.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

from certify_tui.challenges.base import ChallengeProvider
from certify_tui.challenges.dns.base import PROPAGATION_PARAMS, DnsProvider
from certify_tui.challenges.dns.lexicon_catalog import display_name, missing_extra, provider_names
from certify_tui.challenges.dns.lexicon_options import load_module, option_specs
from certify_tui.challenges.dns.records import TxtRecord
from certify_tui.errors import CertifyError, OperationError, UsageError
from certify_tui.plugins import SECRET_MASK, Param, StepLogger

ID_PREFIX = "lexicon-"
TTL = 60  # seconds; short, so a value left behind by a crash does not linger
HTTP_TIMEOUT = 60.0  # seconds, for each HTTP request a provider makes

ZONE_PARAM = Param(
    "zone", "DNS zone",
    help="The zone the provider manages, e.g. example.com (lexicon's 'domain'). Default: the registered "
         "domain of the record's name, from the Public Suffix List.")


# -- bounded HTTP while a provider runs --------------------------------------------------------------

_HTTP_DEFAULT_TIMEOUT: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "certify_lexicon_http_timeout", default=None)


@functools.cache
def _install_http_timeout() -> None:
    """requests without a timeout get HTTP_TIMEOUT, only while a lexicon provider runs (a context variable)."""
    from requests.adapters import HTTPAdapter

    original = HTTPAdapter.send

    @functools.wraps(original)
    def send(self: HTTPAdapter, request: Any, *args: Any, **kwargs: Any) -> Any:
        default = _HTTP_DEFAULT_TIMEOUT.get()
        if default is not None and not args and kwargs.get("timeout") is None:
            kwargs["timeout"] = default
        return original(self, request, *args, **kwargs)

    setattr(HTTPAdapter, "send", send)  # noqa: B010 - patching a library class on purpose, once


@contextlib.contextmanager
def _bounded_http() -> Iterator[None]:
    _install_http_timeout()
    token = _HTTP_DEFAULT_TIMEOUT.set(HTTP_TIMEOUT)
    try:
        yield
    finally:
        _HTTP_DEFAULT_TIMEOUT.reset(token)


# -- the adapter ---------------------------------------------------------------------------------------

class _Lazy:
    """A class attribute computed on first access (from the lexicon name), then cached per class."""

    def __init__(self, compute: Callable[[type[LexiconDnsProvider]], Any]) -> None:
        self.compute = compute
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type[LexiconDnsProvider]) -> Any:
        cache = owner.__dict__.get("_lazy_cache")
        if cache is None:
            cache = {}
            owner._lazy_cache = cache  # per class, not inherited
        if self.name not in cache:
            cache[self.name] = self.compute(owner)
        return cache[self.name]


def _title(cls: type[LexiconDnsProvider]) -> str:
    return f"{display_name(cls.lexicon_name)} (lexicon)"


def _description(cls: type[LexiconDnsProvider]) -> str:
    name = cls.lexicon_name
    text = (f"Publishes the _acme-challenge TXT record through the {display_name(name)} API, "
            f"with dns-lexicon's '{name}' provider.")
    if pip := missing_extra(name):
        text += f" Not usable yet: it needs extra packages ({pip})."
    if problem := option_specs(name)[2]:
        text += f" Its options could not be read ({problem})."
    return text


def _params(cls: type[LexiconDnsProvider]) -> tuple[Param, ...]:
    return (*option_specs(cls.lexicon_name)[0], ZONE_PARAM, *PROPAGATION_PARAMS)


class LexiconDnsProvider(DnsProvider):
    """Base of the generated classes: runs lexicon's `lexicon_name` provider for one TXT record at a time."""

    lexicon_name: ClassVar[str] = ""
    _lazy_cache: ClassVar[dict[str, Any]]  # declared, never set here: each generated class gets its own
    title = _Lazy(_title)
    description = _Lazy(_description)
    params = _Lazy(_params)

    @classmethod
    def unavailable_reason(cls) -> str | None:
        if pip := missing_extra(cls.lexicon_name):
            return (f"{cls.id}: lexicon's {display_name(cls.lexicon_name)} provider needs extra packages; "
                    f"install them with: {pip}")
        if problem := option_specs(cls.lexicon_name)[2]:
            return f"{cls.id}: lexicon's '{cls.lexicon_name}' provider cannot be loaded ({problem})."
        return None

    @classmethod
    def validate_options(cls, raw: Mapping[str, Any]) -> dict[str, Any]:
        if reason := cls.unavailable_reason():
            raise UsageError(reason)
        return super().validate_options(raw)

    def describe(self) -> str:
        zone = self.options.get("zone")
        where = f"zone {zone}" if zone else "the registered domain of each name"
        return f"{self.title}: TXT records in {where}"

    # -- the two operations ------------------------------------------------------------------------

    def create_txt(self, record: TxtRecord, log: StepLogger) -> None:
        zone = self.lexicon_zone(record.fqdn)
        log.info(f"Adding TXT {record.fqdn} through {display_name(self.lexicon_name)} (zone {zone})",
                 record.identifier)
        self._run(zone, lambda provider: provider.create_record("TXT", record.fqdn, record.value))

    def delete_txt(self, record: TxtRecord, log: StepLogger) -> None:
        zone = self.lexicon_zone(record.fqdn)
        log.info(f"Removing TXT {record.fqdn} through {display_name(self.lexicon_name)}", record.identifier)

        def delete(provider: Any) -> None:
            try:
                provider.delete_record(None, "TXT", record.fqdn, record.value)
            except Exception:
                # Some providers fail on a record that is not there: that is success here.
                with contextlib.suppress(Exception):
                    if not any(r.get("content") == record.value
                               for r in provider.list_records("TXT", record.fqdn, None)):
                        return
                raise

        self._run(zone, delete)

    # -- helpers -----------------------------------------------------------------------------------

    def lexicon_zone(self, fqdn: str) -> str:
        """Lexicon's 'domain' for a record: the `zone` option, else the registered domain of `fqdn`.

        (Not the `zone_for` hook: propagation checks keep finding the real zone cut through DNS.)
        """
        name = fqdn.strip().rstrip(".").lower()
        if zone := (self.options.get("zone") or "").strip().strip(".").lower():
            if name != zone and not name.endswith("." + zone):
                raise UsageError(f"{self.id}: the record {name} is not inside zone {zone}; set the right zone, "
                                 "or cname_target to a name inside it.")
            return zone
        from certify_tui.identifiers import _psl  # the list is parsed once, on first use

        found = _psl().privatesuffix(name)
        if found is None:  # a TLD outside the list (.test, .internal): the last two labels
            labels = name.split(".")
            found = ".".join(labels[-2:]) if len(labels) >= 2 else None
        if not found:
            raise UsageError(f"{self.id}: cannot tell the DNS zone of '{fqdn}'; set the option zone.")
        return found

    def _lexicon_options(self) -> dict[str, Any]:
        ours = {ZONE_PARAM.key} | {p.key for p in PROPAGATION_PARAMS}
        converters = option_specs(self.lexicon_name)[1]
        options: dict[str, Any] = {}
        for key, value in self.options.items():
            if key in ours or value is None or value == "":
                continue
            if key in converters:
                try:
                    value = converters[key](value)
                except (TypeError, ValueError) as exc:
                    raise UsageError(f"{self.id}: option '{key}' has an invalid value ({exc}).") from None
            options[key] = value
        return options

    def _secrets(self) -> list[str]:
        secret = {p.key for p in self.params if p.secret}
        values = {str(v) for k, v in self.options.items() if k in secret and v not in (None, "", True, False)}
        return sorted(values, key=len, reverse=True)

    def _scrub(self, text: str) -> str:
        for value in self._secrets():
            if len(value) >= 3:
                text = text.replace(value, SECRET_MASK)
        return text

    def _run(self, zone: str, operation: Callable[[Any], Any]) -> Any:
        if reason := self.unavailable_reason():
            raise UsageError(reason)
        from lexicon.config import ConfigResolver

        name = self.lexicon_name
        config = ConfigResolver().with_dict(
            {"provider_name": name, "domain": zone, "ttl": TTL, name: self._lexicon_options()})
        try:
            with _bounded_http():
                provider = load_module(name).Provider(config)
                try:
                    provider.authenticate()
                    return operation(provider)
                finally:
                    with contextlib.suppress(Exception):
                        provider.cleanup()
        except CertifyError:
            raise
        except Exception as exc:  # noqa: BLE001 - every provider raises its own kinds; all become one message
            raise self._error(exc, zone) from None

    def _error(self, exc: Exception, zone: str) -> OperationError:
        import requests
        from lexicon.exceptions import AuthenticationError

        api = f"{display_name(self.lexicon_name)} API"
        detail = self._scrub(f"{type(exc).__name__}: {exc}")[:500]
        response = getattr(exc, "response", None)
        if isinstance(exc, requests.HTTPError) and response is not None:
            code = response.status_code
            body = self._scrub((response.text or "").strip())[:300]
            if code in (401, 403):
                message = f"{api} refused the credentials (HTTP {code})."
            elif code == 404:
                message = (f"{api} answered 'not found' (HTTP 404) for zone {zone}: check the zone "
                           f"(option zone) and the API address.")
            else:
                reason = self._scrub(str(response.reason or "")).strip()
                message = f"{api} answered HTTP {code}{' ' + reason if reason else ''} for zone {zone}."
            if body:
                detail = f"{detail}\n{body}"
        elif isinstance(exc, requests.Timeout):
            message = f"{api} did not answer within {HTTP_TIMEOUT:g} s ({self._host(exc)})."
        elif isinstance(exc, requests.ConnectionError):
            message = f"Could not reach the {api} ({self._host(exc)})."
        elif isinstance(exc, AuthenticationError):
            message = f"{api} refused the credentials or does not know zone {zone} ({self._scrub(str(exc))})."
        else:
            message = f"{api} failed for zone {zone}: {self._scrub(str(exc)) or type(exc).__name__}."
        return OperationError(f"{self.id}: {message}", detail=detail)

    def _host(self, exc: Exception) -> str:
        request = getattr(exc, "request", None)
        url = getattr(request, "url", None)
        if not url:
            return "no address"
        parts = urlsplit(url)
        host = parts.hostname or "?"
        return self._scrub(f"{host}:{parts.port}" if parts.port else host)


# -- the registry ------------------------------------------------------------------------------------

def _class_name(name: str) -> str:
    return "Lexicon" + "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", name)) + "Provider"


@functools.cache
def provider_class(name: str) -> type[LexiconDnsProvider]:
    """The (cached) provider class for lexicon's `name` provider."""
    return type(_class_name(name), (LexiconDnsProvider,), {
        "__module__": __name__, "__qualname__": _class_name(name),
        "__doc__": f"dns-01 through dns-lexicon's '{name}' provider.",
        "id": ID_PREFIX + name, "lexicon_name": name,
    })


def providers() -> list[type[ChallengeProvider]]:
    return [provider_class(name) for name in provider_names()]


__all__ = ["ID_PREFIX", "LexiconDnsProvider", "display_name", "missing_extra", "provider_class",
           "provider_names", "providers"]
