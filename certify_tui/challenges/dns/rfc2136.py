"""dns-01 through RFC 2136 dynamic updates signed with TSIG (BIND, Knot, PowerDNS, Windows DNS...)."""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from typing import Any

import dns.exception
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.tsig
import dns.update

from certify_tui.challenges.dns import zones
from certify_tui.challenges.dns.base import PROPAGATION_PARAMS, DnsProvider
from certify_tui.challenges.dns.records import TxtRecord
from certify_tui.challenges.dns.zones import DnsLookupError, Server
from certify_tui.errors import OperationError, UsageError
from certify_tui.plugins import Param, StepLogger

ALGORITHMS = ("hmac-sha256", "hmac-sha512", "hmac-sha384", "hmac-sha224", "hmac-sha1", "hmac-md5")
RECORD_TTL = 60
UPDATE_TIMEOUT = 10.0


class Rfc2136Provider(DnsProvider):
    id = "rfc2136"
    title = "RFC 2136 dynamic update (TSIG)"
    description = "Adds the TXT records with signed dynamic DNS updates to your primary nameserver."
    params = (
        Param("server", "Primary nameserver", required=True,
              help="host or host:port of the server accepting updates (port 53 by default)."),
        Param("zone", "Zone", help="The zone to update; found from the server's SOA answers if empty."),
        Param("tsig_key_name", "TSIG key name", required=True),
        Param("tsig_secret", "TSIG secret", required=True, secret=True, help="The key's base64 secret."),
        Param("tsig_algorithm", "TSIG algorithm", type="choice", choices=ALGORITHMS, default="hmac-sha256"),
        *PROPAGATION_PARAMS,
    )

    @classmethod
    def validate_options(cls, raw: Mapping[str, Any]) -> dict[str, Any]:
        values = super().validate_options(raw)
        zones.parse_server(values["server"])  # UsageError for a malformed address
        try:
            cls._key(values)
        except (binascii.Error, ValueError):
            raise UsageError(f"{cls.id}: option 'tsig_secret' must be the key's base64 secret.") from None
        except dns.exception.DNSException:
            raise UsageError(f"{cls.id}: option 'tsig_key_name' is not a valid key name.") from None
        if zone := (values.get("zone") or "").strip():
            values["zone"] = zone.rstrip(".").lower()
        return values

    @staticmethod
    def _key(options: Mapping[str, Any]) -> dns.tsig.Key:
        return dns.tsig.Key(options["tsig_key_name"], options["tsig_secret"].strip(), options["tsig_algorithm"])

    def describe(self) -> str:
        host, port = zones.parse_server(self.options["server"])
        zone = self.options.get("zone") or "found from its SOA"
        return f"RFC 2136 update to {Server(host, port).address} (zone {zone})"

    # -- where ------------------------------------------------------------------------------------

    def server(self) -> Server:
        return zones.to_servers(self.options["server"])[0]

    def zone_for(self, fqdn: str) -> str:
        zone: str | None = self.options.get("zone")
        if zone:
            if not dns.name.from_text(fqdn).is_subdomain(dns.name.from_text(zone)):
                raise OperationError(f"The record {fqdn} is not inside zone {zone}; set the right zone, or "
                                     "cname_target to a name inside it.")
            return zone
        cache = self._cache("zones")
        if fqdn not in cache:
            try:  # the server accepting updates is authoritative for the zone: ask it, not the system resolver
                cache[fqdn] = zones.find_zone(fqdn, zones.make_resolver([self.server().address]))
            except DnsLookupError as exc:
                raise OperationError(f"{exc.message.rstrip('.')} asking {self.server()}; set the zone option.") \
                    from exc
        return cache[fqdn]

    def authoritative_servers(self, zone: str, log: StepLogger) -> list[Server]:
        """The update server, plus the zone's other nameservers (secondaries) it lists."""
        primary = self.server()
        override = zones.configured(self.nameservers, zones.NAMESERVER_OVERRIDE, zones.NAMESERVERS_ENV)
        if override:
            return sorted({primary, *(s for text in override for s in zones.to_servers(text))})
        servers = [primary]
        try:
            at_primary = zones.make_resolver([primary.address])
            names = zones.nameserver_names(zone, at_primary)
        except DnsLookupError as exc:
            log.info(f"checking only {primary}: {exc.message}")
            return servers
        system = None
        for name in names:
            found = zones.addresses_of(name, at_primary)
            if not found:
                system = system or self.resolver()
                found = zones.addresses_of(name, system)
            servers.extend(s for s in found if s.host != primary.host)  # same host: that is the primary
        return sorted(set(servers), key=lambda s: (s != primary, s))

    # -- updates ----------------------------------------------------------------------------------

    def create_txt(self, record: TxtRecord, log: StepLogger) -> None:
        self._update(record, add=True)

    def delete_txt(self, record: TxtRecord, log: StepLogger) -> None:
        self._update(record, add=False)  # deleting a value that is not there is not an error (RFC 2136 3.4.2)

    def _update(self, record: TxtRecord, *, add: bool) -> None:
        zone = self.zone_for(record.fqdn)
        origin = dns.name.from_text(zone)
        name = dns.name.from_text(record.fqdn).relativize(origin)
        keyname = self.options["tsig_key_name"]
        message = dns.update.UpdateMessage(origin, keyring=self._key(self.options))
        rdata = dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT, [record.value.encode()])
        if add:
            message.add(name, RECORD_TTL, rdata)
        else:
            message.delete(name, rdata)
        server = self.server()
        action = "add" if add else "remove"
        prefix = f"RFC 2136: could not {action} TXT {record.fqdn} at {server}"
        try:
            response = dns.query.tcp(message, server.host, timeout=UPDATE_TIMEOUT, port=server.port)
        except dns.exception.Timeout:
            raise OperationError(f"{prefix}: no answer from server within {UPDATE_TIMEOUT:g} s.") from None
        except (dns.tsig.PeerBadKey, dns.tsig.PeerBadSignature) as exc:
            raise OperationError(f"{prefix}: the TSIG key name or secret is wrong (key '{keyname}', "
                                 f"{self.options['tsig_algorithm']}; the server said: {exc}).") from None
        except dns.tsig.PeerError as exc:
            raise OperationError(f"{prefix}: the server rejected the TSIG signature ({exc}); check the key "
                                 "and that both clocks are right.") from None
        except ConnectionRefusedError:
            raise OperationError(f"{prefix}: no answer from server (connection refused).") from None
        except OSError as exc:
            raise OperationError(f"{prefix}: no answer from server ({exc.strerror or exc}).") from None
        except dns.exception.DNSException as exc:
            raise OperationError(f"{prefix}: {exc}.") from None
        rcode = response.rcode()
        if rcode == dns.rcode.NOERROR:
            return
        if rcode == dns.rcode.REFUSED:
            raise OperationError(f"{prefix}: the server refuses updates for zone {zone} from this key "
                                 f"('{keyname}'); check its allow-update / update-policy.")
        if rcode == dns.rcode.NOTAUTH:
            raise OperationError(f"{prefix}: the TSIG key name or secret is wrong, or the server is not "
                                 f"authoritative for zone {zone} (NOTAUTH).")
        if rcode == dns.rcode.NOTZONE:
            raise OperationError(f"{prefix}: the name is not inside zone {zone} (NOTZONE); set the zone option.")
        raise OperationError(f"{prefix}: the server answered {dns.rcode.to_text(rcode)}.")
