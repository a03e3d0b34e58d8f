"""DNS for `cert test`: a name's addresses, and the CAA records that govern it (RFC 8659).

Lookups use the system resolver unless NAMESERVER is set, or the dns-01 resolver override is
(zones.RESOLVER_OVERRIDE, $CERTIFY_TUI_DNS_RESOLVERS); tests point them at their DNS.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable

import dns.exception
import dns.resolver

from certify_tui.challenges.dns import zones
from certify_tui.challenges.probing import LookupFailed
from certify_tui.errors import CertifyError

# (address, port) of the DNS server to ask instead of the system resolver; None: the system's.
NAMESERVER: tuple[str, int] | None = None

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
