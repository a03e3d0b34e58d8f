"""Where a dns-01 record lives: CNAME delegation, the zone that holds it (SOA), that zone's servers (NS).

Lookups go through the system resolver unless told otherwise, in this order of precedence:
a provider's own `resolvers` attribute, the module-level RESOLVER_OVERRIDE, the environment variable
CERTIFY_TUI_DNS_RESOLVERS ("host[:port],..."). The same holds for the authoritative servers that
propagation checks query: a provider's `nameservers`, NAMESERVER_OVERRIDE, CERTIFY_TUI_DNS_NAMESERVERS
(used instead of the zone's NS records). Tests point both at a local BIND or PowerDNS this way.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass

import dns.exception
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver

from certify_tui.errors import OperationError, UsageError

RESOLVERS_ENV = "CERTIFY_TUI_DNS_RESOLVERS"
NAMESERVERS_ENV = "CERTIFY_TUI_DNS_NAMESERVERS"
RESOLVER_OVERRIDE: list[str] | None = None  # "host[:port]" servers for lookups instead of the system resolver
NAMESERVER_OVERRIDE: list[str] | None = None  # "host[:port]" servers to check instead of the zone's NS
MAX_CNAME_DEPTH = 8
LOOKUP_TIMEOUT = 3.0  # one query
LOOKUP_LIFETIME = 10.0  # one lookup, retries included


class DnsLookupError(OperationError):
    """A lookup got no usable answer (timeouts, SERVFAIL, no resolver)."""


@dataclass(frozen=True, order=True)
class Server:
    """One DNS server to query directly."""

    host: str  # an IP address
    port: int = 53
    name: str = ""  # its host name (from NS), for messages

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def __str__(self) -> str:
        return f"{self.name} ({self.address})" if self.name and self.name != self.host else self.address


def parse_server(text: str, default_port: int = 53) -> tuple[str, int]:
    """'host', 'host:port', '[v6]:port' or a bare IPv6 address -> (host, port); UsageError if malformed."""
    raw = text.strip()
    host, port_text = raw, ""
    if raw.startswith("["):
        host, _, rest = raw[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif raw.count(":") == 1:
        host, port_text = raw.split(":")
    host = host.strip().rstrip(".")
    try:
        port = int(port_text) if port_text else default_port
    except ValueError:
        port = -1
    if not host or not 0 < port < 65536:
        raise UsageError(f"'{text}' is not a DNS server address; use host, host:port or [IPv6]:port.")
    return host, port


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def to_servers(text: str, default_port: int = 53) -> list[Server]:
    """The servers a 'host[:port]' string names (a host name is resolved with the system resolver)."""
    host, port = parse_server(text, default_port)
    if is_ip(host):
        return [Server(host, port)]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except OSError as exc:
        raise DnsLookupError(f"Cannot resolve the DNS server name '{host}': {exc.strerror or exc}.") from exc
    return sorted({Server(str(info[4][0]), port, host) for info in infos})


def configured(explicit: list[str] | None, override: list[str] | None, env: str) -> list[str] | None:
    if explicit:
        return list(explicit)
    if override:
        return list(override)
    if value := os.environ.get(env, "").strip():
        return [part for part in value.replace(" ", ",").split(",") if part]
    return None


def make_resolver(servers: list[str] | None = None) -> dns.resolver.Resolver:
    """A resolver asking `servers` ("host[:port]"), else the configured override, else the system's."""
    chosen = configured(servers, RESOLVER_OVERRIDE, RESOLVERS_ENV)
    if chosen:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [dns.nameserver.Do53Nameserver(s.host, s.port)
                                for text in chosen for s in to_servers(text)]
    else:
        try:
            resolver = dns.resolver.Resolver()
        except dns.exception.DNSException as exc:
            raise DnsLookupError(f"No system DNS resolver is configured ({exc}).") from exc
    resolver.timeout = LOOKUP_TIMEOUT
    resolver.lifetime = LOOKUP_LIFETIME
    resolver.cache = None  # records change under us; never answer from a cache
    return resolver


def _text(name: dns.name.Name | str) -> str:
    if isinstance(name, str):
        return name.strip().rstrip(".").lower()
    return name.to_text(omit_final_dot=True).lower()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, dns.resolver.LifetimeTimeout | dns.exception.Timeout):
        return "no answer in time"
    if isinstance(exc, dns.resolver.NoNameservers):
        return "every resolver failed (SERVFAIL or REFUSED)"
    return str(exc) or type(exc).__name__


def follow_cname(name: str, resolver: dns.resolver.Resolver, max_depth: int = MAX_CNAME_DEPTH) -> list[str]:
    """The CNAME chain from `name`: [name, target, ..., final]; [name] when there is no CNAME.

    OperationError for a loop or a chain longer than `max_depth`; DnsLookupError when a lookup fails.
    """
    chain = [_text(name)]
    while True:
        try:
            answer = resolver.resolve(chain[-1], dns.rdatatype.CNAME)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return chain
        except dns.exception.DNSException as exc:
            raise DnsLookupError(f"looking up a CNAME at {chain[-1]}: {_reason(exc)}") from exc
        target = _text(answer[0].target)
        if target in chain:
            shown = " -> ".join([*chain, target])
            raise OperationError(f"The CNAME chain from {chain[0]} loops ({shown}); fix the DNS records.")
        chain.append(target)
        if len(chain) - 1 > max_depth:
            raise OperationError(f"The CNAME chain from {chain[0]} is longer than {max_depth} steps "
                                 f"({' -> '.join(chain[:4])} -> ...); point it at the record's zone directly.")


def find_zone(name: str, resolver: dns.resolver.Resolver) -> str:
    """The zone holding `name`: walk up the labels asking for an SOA."""
    try:
        zone = dns.resolver.zone_for_name(_text(name) + ".", resolver=resolver, lifetime=LOOKUP_LIFETIME)
    except dns.exception.DNSException as exc:
        raise DnsLookupError(f"Cannot find the DNS zone of {_text(name)} ({_reason(exc)}).") from exc
    return _text(zone)


def addresses_of(host: str, resolver: dns.resolver.Resolver, port: int = 53) -> list[Server]:
    """A and AAAA addresses of a host name; [] when it has none or they cannot be looked up."""
    found: list[Server] = []
    for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
        try:
            answer = resolver.resolve(host, rdtype)
        except dns.exception.DNSException:
            continue
        found.extend(Server(rd.address, port, _text(host)) for rd in answer)
    return found


def nameserver_names(zone: str, resolver: dns.resolver.Resolver) -> list[str]:
    try:
        answer = resolver.resolve(_text(zone), dns.rdatatype.NS)
    except dns.exception.DNSException as exc:
        raise DnsLookupError(f"Cannot look up the nameservers of zone {_text(zone)} ({_reason(exc)}).") from exc
    return sorted({_text(rd.target) for rd in answer})


def nameservers_of(zone: str, resolver: dns.resolver.Resolver) -> list[Server]:
    """Every address of every NS of `zone` (port 53)."""
    names = nameserver_names(zone, resolver)
    servers = sorted({s for ns in names for s in addresses_of(ns, resolver)})
    if not servers:
        raise DnsLookupError(f"None of the nameservers of zone {zone} ({', '.join(names)}) has an address.")
    return servers
