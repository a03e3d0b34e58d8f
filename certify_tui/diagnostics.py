"""`cert test`: find what would make a request fail, before asking the CA.

Each check says passed (ok=True), failed (ok=False, with a remedy) or skipped (ok=None):
- every name resolves (A/AAAA);
- the built-in listeners' ports can be bound (http-01 and tls-alpn-01 standalone);
- http-01: a random probe published through the certificate's own provider is fetched back over
  http://<name>/.well-known/acme-challenge/<probe>, the way the CA will;
- tls-alpn-01: a probe certificate is fetched back with an `acme-tls/1` handshake;
- CAA at the name (or the closest parent that has CAA) allows the account's CA;
- dns-01: the provider can create and delete a test TXT record (`_certify-tui-test.<domain>`).

Nothing is sent to the CA. Lookups use the system resolver unless NAMESERVER is set, or the dns-01
resolver override is (zones.RESOLVER_OVERRIDE, $CERTIFY_TUI_DNS_RESOLVERS); tests point them at their DNS.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import http.client
import secrets
import socket
import ssl
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

import dns.exception
import dns.resolver
from cryptography import x509

from certify_tui.challenges.base import ChallengeProvider, ChallengeTask
from certify_tui.challenges.dns import zones
from certify_tui.challenges.rules import provider_from, rule_for
from certify_tui.errors import CertifyError
from certify_tui.events import RequestLog
from certify_tui.model import ChallengeRule
from certify_tui.paths import DataDir

# (address, port) of the DNS server to ask instead of the system resolver; None: the system's.
NAMESERVER: tuple[str, int] | None = None
# Where the CA fetches http-01 answers; a standalone listener on another port is probed on its own port.
HTTP_PORT = 80
# Where the CA connects for tls-alpn-01 when the provider does not say.
TLS_PORT = 443
TIMEOUT = 10.0
PROBE_LABEL = "_certify-tui-test"

# The CAA issuer domain of each preset CA (RFC 8659 `issue` values).
CA_IDENTITIES = {
    "letsencrypt": "letsencrypt.org",
    "letsencrypt-staging": "letsencrypt.org",
    "zerossl": "sectigo.com",
    "google": "pki.goog",
    "google-staging": "pki.goog",
    "buypass": "buypass.com",
    "buypass-test": "buypass.com",
}
_KNOWN_CAA_TAGS = {"issue", "issuewild", "iodef", "issuemail", "issuevmc", "contactemail", "contactphone"}


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool | None  # None: skipped
    message: str
    remedy: str = ""

    @property
    def symbol(self) -> str:
        return {True: "✓", False: "✗", None: "-"}[self.ok]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class LookupFailed(Exception):
    """A DNS lookup that got no usable answer (timeout, SERVFAIL), as opposed to 'no such record'."""


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


class _Checker:
    def __init__(self, cert: Any, log: RequestLog) -> None:
        self.cert = cert
        self.log = log
        self.identifiers: list[str] = list(cert.identifiers)
        self.rules: list[ChallengeRule] = list(cert.challenge_rules)
        self.addresses: dict[str, list[str]] = {}
        self.checks: list[Check] = []
        self.bad_ports: set[tuple[str, int]] = set()

    def run(self) -> list[Check]:
        groups = self._groups()
        for identifier in self.identifiers:
            challenge = groups_challenge(groups, identifier)
            self.checks.append(self._resolve(identifier, challenge))
        ports = {}
        for rule, _names in groups:
            if rule["provider"] == "standalone" and rule["challenge"] in ("http-01", "tls-alpn-01"):
                options = rule.get("options") or {}
                ports.setdefault((rule["challenge"], options.get("address"), options.get("port")), rule)
        self.checks.extend(self._port(rule) for rule in ports.values())
        for rule, names in groups:
            if rule["challenge"] == "http-01":
                self.checks.extend(self._http(rule, names))
            elif rule["challenge"] == "tls-alpn-01":
                self.checks.extend(self._tls_alpn(rule, names))
        self.checks.extend(self._caa())
        for rule, names in groups:
            if rule["challenge"] == "dns-01":
                self.checks.extend(self._dns_provider(rule, names))
        return self.checks

    def _groups(self) -> list[tuple[dict[str, Any], list[str]]]:
        """(rule, identifiers it validates), in rule order."""
        groups: dict[int, tuple[dict[str, Any], list[str]]] = {}
        for identifier in self.identifiers:
            try:
                rule = rule_for(self.rules, identifier)
            except CertifyError:
                continue
            # The checks below read the rule's JSON form (rule["provider"]) until they use ChallengeRule's fields.
            groups.setdefault(self.rules.index(rule), (rule.to_json(), []))[1].append(identifier)
        return [groups[i] for i in sorted(groups)]

    # -- (a) names resolve -------------------------------------------------------------------------
    def _resolve(self, identifier: str, challenge: str | None) -> Check:
        label = f"resolve {identifier}"
        if identifier.startswith("*."):
            return Check(label, None, "a wildcard is validated through DNS only; nothing to resolve")
        try:
            found = resolve_addresses(identifier)
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

    # -- (e) ports of the built-in listeners -------------------------------------------------------
    def _port(self, rule: dict[str, Any]) -> Check:
        options = rule.get("options") or {}
        challenge = rule["challenge"]
        address = options.get("address", "0.0.0.0")
        port = int(options.get("port") or (HTTP_PORT if challenge == "http-01" else TLS_PORT))
        label = f"port {address}:{port} ({challenge})"
        if _own_listener(challenge, address, port):
            return Check(label, True, "certify-tui's own listener is serving there now")
        problem = bind_problem(address, port)
        if problem is None:
            return Check(label, True, "free: the built-in listener can start")
        self.bad_ports.add((address, port))
        if problem == errno.EACCES:
            return Check(label, False, f"no permission to listen on port {port}",
                         "Run as root, grant CAP_NET_BIND_SERVICE to the Python binary, or use a port above "
                         "1023 with a port forward.")
        other = "a web server" if challenge == "http-01" else "a TLS server"
        return Check(label, False, f"another program already listens on {address}:{port} "
                                   f"({errno.errorcode.get(problem, problem)})",
                     f"Stop {other} there during validation, "
                     + ("or use the webroot provider so the running web server answers."
                        if challenge == "http-01" else "or validate with http-01 or dns-01."))

    # -- (b) http-01 reachability ------------------------------------------------------------------
    def _http(self, rule: dict[str, Any], names: list[str]) -> list[Check]:
        options = rule.get("options") or {}
        port = int(options.get("port", HTTP_PORT)) if rule["provider"] == "standalone" else HTTP_PORT
        token = secrets.token_urlsafe(32)
        body = f"{token}.certify-tui-probe"
        labels = {n: f"http-01 {n}" for n in names}
        provider, failed = self._provider(rule, labels)
        if provider is None:
            return failed
        if self._port_blocked(rule):
            return [Check(labels[n], None, "skipped: the listener cannot start (see the port check)")
                    for n in names]
        tasks = [ChallengeTask(n, n, "http-01", token, body, body) for n in names]
        try:
            provider.prepare(tasks, self.log)
        except CertifyError as exc:
            return [Check(labels[n], False, f"could not publish the probe: {exc.message}",
                          _http_remedy(rule, n, port)) for n in names]
        try:
            results = []
            for name in names:
                url = f"http://{name}{'' if port == 80 else f':{port}'}/.well-known/acme-challenge/{token}"
                results.append(self._fetch_probe(labels[name], name, url, body, rule, port))
            return results
        finally:
            with contextlib.suppress(Exception):
                provider.cleanup(tasks, self.log)

    def _fetch_probe(self, label: str, name: str, url: str, body: str, rule: dict[str, Any], port: int) -> Check:
        if not self.addresses.get(name):
            return Check(label, None, "skipped: the name does not resolve")
        try:
            status, content, final = fetch(url, self.addresses[name])
        except (OSError, LookupFailed) as exc:
            return Check(label, False, f"{url}: {getattr(exc, 'strerror', None) or exc}",
                         f"Make sure port {port} is open in the firewall and forwarded to this server, and "
                         f"that {name} points at it.")
        where = url if final == url else f"{url} (redirected to {final})"
        if status == 200 and content.strip() == body.encode():
            return Check(label, True, f"probe fetched from {where}")
        if status == 200:
            return Check(label, False, f"{where} answered 200 but not with the probe",
                         "Another server answers for this name: point the name at this server, or make the "
                         "web server serve /.well-known/acme-challenge/ from the configured webroot.")
        return Check(label, False, f"{where} answered HTTP {status}", _http_remedy(rule, name, port, status))

    # -- tls-alpn-01 reachability ------------------------------------------------------------------
    def _tls_alpn(self, rule: dict[str, Any], names: list[str]) -> list[Check]:
        port = int((rule.get("options") or {}).get("port", TLS_PORT))
        labels = {n: f"tls-alpn-01 {n}" for n in names}
        provider, failed = self._provider(rule, labels)
        if provider is None:
            return failed
        if self._port_blocked(rule):
            return [Check(labels[n], None, "skipped: the listener cannot start (see the port check)")
                    for n in names]
        probe = f"{secrets.token_urlsafe(32)}.certify-tui-probe"
        tasks = [ChallengeTask(n, n, "tls-alpn-01", "probe", probe, probe) for n in names]
        try:
            provider.prepare(tasks, self.log)
        except CertifyError as exc:
            return [Check(labels[n], False, f"could not publish the probe: {exc.message}", "") for n in names]
        try:
            return [self._alpn_probe(labels[n], n, port, probe) for n in names]
        finally:
            with contextlib.suppress(Exception):
                provider.cleanup(tasks, self.log)

    def _alpn_probe(self, label: str, name: str, port: int, probe: str) -> Check:
        if not self.addresses.get(name):
            return Check(label, None, "skipped: the name does not resolve")
        remedy = (f"Make sure port {port} is open and forwarded to this server, that {name} points at it, "
                  "and that no proxy terminates TLS in front of it.")
        try:
            digest = alpn_digest(name, self.addresses[name][0], port)
        except (OSError, ssl.SSLError) as exc:
            return Check(label, False, f"acme-tls/1 handshake with {name}:{port} failed: {exc}", remedy)
        if digest == hashlib.sha256(probe.encode()).digest():
            return Check(label, True, f"probe certificate served on {name}:{port}")
        return Check(label, False, f"{name}:{port} answered acme-tls/1 with another certificate", remedy)

    # -- (c) CAA ---------------------------------------------------------------------------------
    def _caa(self) -> list[Check]:
        account = self.cert.account
        ca = CA_IDENTITIES.get(account.ca_name or "")
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
                    cache[domain] = caa_lookup(domain)
                owner, records = cache[domain]
            except LookupFailed as exc:
                checks.append(Check(label, False, f"CAA lookup failed: {exc}",
                                    "CAs refuse to issue when CAA cannot be looked up: fix the DNS servers "
                                    f"for {domain} (they must answer CAA queries, even with no records)."))
                continue
            if not records:
                checks.append(Check(label, True, f"no CAA records: any CA may issue (including {ca})"))
                continue
            allowed, reason = caa_decision(records, ca, wildcard)
            if allowed:
                checks.append(Check(label, True, f"CAA at {owner}: {reason}"))
            else:
                tag = "issuewild" if wildcard else "issue"
                checks.append(Check(label, False, f"CAA at {owner} forbids {ca}: {reason}",
                                    f'Add a CAA record at {owner}: {owner}. CAA 0 {tag} "{ca}"'))
        return checks

    # -- (d) DNS provider access -----------------------------------------------------------------
    def _dns_provider(self, rule: dict[str, Any], names: list[str]) -> list[Check]:
        domains = list(dict.fromkeys(n[2:] if n.startswith("*.") else n for n in names))
        labels = {d: f"dns-01 {rule['provider']} {d}" for d in domains}
        provider, failed = self._provider(rule, labels)
        if provider is None:
            return failed
        if rule["provider"] == "manual":
            return [Check(labels[d], None, "manual provider: you create the records yourself; nothing to test")
                    for d in domains]
        from certify_tui.challenges.dns.base import TxtRecord

        checks = []
        for domain in domains:
            record = TxtRecord(f"{PROBE_LABEL}.{domain}", secrets.token_urlsafe(32), domain)
            mark = len(self.log.events)
            remedy = (f"Check the {rule['provider']} provider's credentials and that they may edit the zone "
                      f"holding {domain}.")
            try:
                provider.create_txt(record, self.log)  # type: ignore[attr-defined]
            except Exception as exc:  # noqa: BLE001 - any failure is what the user must see
                checks.append(Check(labels[domain], False, f"could not create {record.fqdn} TXT: "
                                    f"{_reason(exc)}{self._output_since(mark)}", remedy))
                continue
            try:
                provider.delete_txt(record, self.log)  # type: ignore[attr-defined]
            except Exception as exc:  # noqa: BLE001
                checks.append(Check(labels[domain], False, f"created {record.fqdn} TXT but could not delete it: "
                                    f"{_reason(exc)}{self._output_since(mark)}",
                                    remedy + f" Remove {record.fqdn} by hand."))
                continue
            checks.append(Check(labels[domain], True, f"created and deleted {record.fqdn} TXT"))
        return checks

    # -- helpers ---------------------------------------------------------------------------------
    def _provider(self, rule: dict[str, Any], labels: dict[str, str]
                  ) -> tuple[ChallengeProvider | None, list[Check]]:
        try:
            return provider_from(ChallengeRule.from_json(rule)), []
        except CertifyError as exc:
            return None, [Check(label, False, exc.message, "Edit the certificate's challenge settings.")
                          for label in labels.values()]

    def _port_blocked(self, rule: dict[str, Any]) -> bool:
        options = rule.get("options") or {}
        return rule["provider"] == "standalone" and (options.get("address"), options.get("port")) in self.bad_ports

    def _output_since(self, mark: int) -> str:
        lines = [e.message for e in self.log.events[mark:] if e.step == "info" and not e.message.startswith("running ")]
        return f" (last output: {lines[-1]})" if lines else ""


def groups_challenge(groups: list[tuple[dict[str, Any], list[str]]], identifier: str) -> str | None:
    return next((rule["challenge"] for rule, names in groups if identifier in names), None)


def _reason(exc: Exception) -> str:
    return exc.message if isinstance(exc, CertifyError) else f"{exc.__class__.__name__}: {exc}"


def _http_remedy(rule: dict[str, Any], name: str, port: int, status: int | None = None) -> str:
    if rule["provider"] == "webroot":
        path = (rule.get("options") or {}).get("path", "")
        return (f"The web server answering {name} on port {port} does not serve {path}/.well-known/acme-challenge/: "
                "set the webroot to that site's document root, or let the web server serve that folder "
                "(no redirects to a login page, no rewrite rules catching it).")
    if status == 404:
        return (f"Something other than certify-tui's listener answered on port {port} for {name}: point {name} "
                "at this server, forward the port here, or use the webroot provider if a web server owns it.")
    return f"Make sure {name} points at this server and port {port} reaches certify-tui's listener."


def _own_listener(challenge: str, address: str, port: int) -> bool:
    if challenge == "http-01":
        from certify_tui.challenges import http_listener

        return http_listener.is_listening(address, port)
    from certify_tui.challenges import tls_alpn

    return tls_alpn.is_listening(address, port)


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


# -- DNS ---------------------------------------------------------------------------------------------
def _custom_resolvers() -> list[str] | None:
    """The DNS servers to ask instead of the system's: NAMESERVER, else the dns-01 providers' overrides."""
    if NAMESERVER is not None:
        return [f"[{NAMESERVER[0]}]:{NAMESERVER[1]}" if ":" in NAMESERVER[0] else f"{NAMESERVER[0]}:{NAMESERVER[1]}"]
    return zones.configured(None, zones.RESOLVER_OVERRIDE, zones.RESOLVERS_ENV)


def _resolver() -> dns.resolver.Resolver:
    try:
        return zones.make_resolver(_custom_resolvers())
    except CertifyError as exc:
        raise LookupFailed(exc.message) from None


def resolve_addresses(name: str) -> list[str]:
    """A and AAAA addresses of `name`; [] if it has none; LookupFailed if DNS does not answer."""
    if not _custom_resolvers():
        try:
            infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
        except socket.gaierror as exc:
            if exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)):
                return []
            raise LookupFailed(exc.strerror or str(exc)) from None
        return list(dict.fromkeys(str(info[4][0]) for info in infos))
    resolver, found = _resolver(), []
    for rdtype in ("A", "AAAA"):
        try:
            found += [r.address for r in resolver.resolve(name, rdtype)]
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            continue
        except dns.exception.DNSException as exc:
            raise LookupFailed(_dns_error(exc)) from None
    return found


def caa_lookup(name: str) -> tuple[str, list[tuple[int, str, str]]]:
    """(owner, [(flags, tag, value)]): the CAA set that governs `name` (its own or its closest parent's)."""
    resolver = _resolver()
    labels = name.rstrip(".").split(".")
    for i in range(len(labels)):
        candidate = ".".join(labels[i:])
        try:
            answer = resolver.resolve(candidate, "CAA")
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            continue
        except dns.exception.DNSException as exc:
            raise LookupFailed(f"{candidate}: {_dns_error(exc)}") from None
        records = [(r.flags, r.tag.decode("ascii", "replace"), r.value.decode("utf-8", "replace")) for r in answer]
        if records:
            return candidate, records
    return "", []


def caa_decision(records: Iterable[tuple[int, str, str]], ca: str, wildcard: bool = False) -> tuple[bool, str]:
    """May the CA whose issuer domain is `ca` issue, given one name's CAA set (RFC 8659)?"""
    records = list(records)
    for flags, tag, _ in records:
        if flags & 128 and tag.lower() not in _KNOWN_CAA_TAGS:
            return False, f"a critical CAA property '{tag}' is not understood by CAs"
    issue = [value for _, tag, value in records if tag.lower() == "issue"]
    issuewild = [value for _, tag, value in records if tag.lower() == "issuewild"]
    relevant = issuewild if wildcard and issuewild else issue
    if not relevant:
        return True, "no issue restriction" + (" for wildcards" if wildcard else "")
    allowed = []
    for value in relevant:
        domain = value.split(";", 1)[0].strip().lower()
        if domain == ca.lower():
            return True, f"allows {ca}"
        allowed.append(domain or "no CA")
    return False, "allows only " + ", ".join(dict.fromkeys(allowed))


def _dns_error(exc: dns.exception.DNSException) -> str:
    if isinstance(exc, dns.resolver.NoNameservers):
        return "the nameservers failed to answer (SERVFAIL or refused)"
    if isinstance(exc, dns.exception.Timeout):
        return "no answer from the nameservers (timeout)"
    return str(exc) or exc.__class__.__name__


# -- fetching the way a CA does ------------------------------------------------------------------------
def fetch(url: str, addresses: list[str], redirects: int = 5) -> tuple[int, bytes, str]:
    """(status, body, final URL) of GET url, connecting to `addresses` (the name's, as resolved here)."""
    for _ in range(redirects + 1):
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        status, body, location = _get_once(parts.scheme, host, port, parts.path or "/", addresses)
        if status not in (301, 302, 303, 307, 308) or not location:
            return status, body, url
        nxt = urlsplit(location if "://" in location else f"{parts.scheme}://{parts.netloc}{location}")
        if nxt.hostname != host:
            addresses = resolve_addresses(nxt.hostname or "")
        url = nxt.geturl()
    raise OSError(f"too many redirects (last: {url})")


def _get_once(scheme: str, host: str, port: int, path: str, addresses: list[str]) -> tuple[int, bytes, str]:
    error: OSError = OSError(f"{host} has no address")
    for address in addresses:
        if scheme == "https":
            # A CA follows redirects to https without checking the certificate.
            ctx = ssl.create_default_context()
            ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
            conn: http.client.HTTPConnection = _HTTPSTo(address, host, port, ctx)
        else:
            conn = http.client.HTTPConnection(address, port, timeout=TIMEOUT)
        try:
            conn.putrequest("GET", path, skip_host=True)
            conn.putheader("Host", host if port in (80, 443) else f"{host}:{port}")
            conn.putheader("User-Agent", "certify-tui reachability test")
            conn.endheaders()
            response = conn.getresponse()
            return response.status, response.read(65536), response.getheader("Location") or ""
        except OSError as exc:
            error = exc
        finally:
            conn.close()
    raise error


class _HTTPSTo(http.client.HTTPSConnection):
    """HTTPS to a given address, with SNI for the name."""

    def __init__(self, address: str, host: str, port: int, ctx: ssl.SSLContext) -> None:
        super().__init__(address, port, timeout=TIMEOUT, context=ctx)
        self._sni = host

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self._sni)  # type: ignore[attr-defined]


def alpn_digest(name: str, address: str, port: int) -> bytes | None:
    """The acmeIdentifier digest in the certificate served to an acme-tls/1 handshake for `name`."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    ctx.set_alpn_protocols(["acme-tls/1"])
    with socket.create_connection((address, port), timeout=TIMEOUT) as sock, \
            ctx.wrap_socket(sock, server_hostname=name) as tls:
        der = tls.getpeercert(binary_form=True)
    if not der:
        return None
    cert = x509.load_der_x509_certificate(der)
    try:
        ext = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier("1.3.6.1.5.5.7.1.31"))
    except x509.ExtensionNotFound:
        return None
    value = getattr(ext.value, "value", b"")
    return value[2:] if value[:2] == b"\x04\x20" else None
