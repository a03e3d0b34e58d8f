"""The real-CA harness itself works: Pebble answers, hands out its root, and its DNS is steerable."""

from __future__ import annotations

import secrets
import socket
import struct

import pytest
import requests
from cryptography import x509
from servers.pebble import PebbleServer

pytestmark = pytest.mark.pebble

TYPE_TXT = 16


def _dns_query_txt(port: int, name: str) -> list[bytes]:
    """Ask 127.0.0.1:port for TXT records of `name` over UDP; stdlib only (no dnspython)."""
    qid = secrets.randbits(16)
    qname = b"".join(bytes([len(label)]) + label.encode() for label in name.rstrip(".").split(".")) + b"\0"
    query = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + qname + struct.pack("!HH", TYPE_TXT, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(query, ("127.0.0.1", port))
        resp, _ = s.recvfrom(4096)
    rid, _flags, qdcount, ancount, _, _ = struct.unpack("!HHHHHH", resp[:12])
    assert rid == qid
    pos = 12
    for _ in range(qdcount):
        pos = _skip_name(resp, pos) + 4
    values = []
    for _ in range(ancount):
        pos = _skip_name(resp, pos)
        rtype, _cls, _ttl, rdlen = struct.unpack("!HHIH", resp[pos : pos + 10])
        pos += 10
        if rtype == TYPE_TXT:
            # TXT rdata is a sequence of length-prefixed strings; join them.
            rdata, i, parts = resp[pos : pos + rdlen], 0, []
            while i < len(rdata):
                parts.append(rdata[i + 1 : i + 1 + rdata[i]])
                i += 1 + rdata[i]
            values.append(b"".join(parts))
        pos += rdlen
    return values


def _skip_name(msg: bytes, pos: int) -> int:
    while True:
        length = msg[pos]
        if length == 0:
            return pos + 1
        if length & 0xC0 == 0xC0:  # compression pointer ends the name
            return pos + 2
        pos += 1 + length


def test_directory_lists_acme_endpoints(pebble: PebbleServer) -> None:
    r = requests.get(pebble.directory_url, verify=pebble.https_ca_bundle, timeout=10)
    r.raise_for_status()
    directory = r.json()
    assert "newOrder" in directory
    # ARI (renewalInfo) arrived in Pebble 2.5; Debian stable's 2.4 lacks it.
    if pebble.version is None or pebble.version >= (2, 5):
        assert "renewalInfo" in directory


def test_root_and_intermediate_are_certificates(pebble: PebbleServer) -> None:
    root = x509.load_pem_x509_certificate(pebble.root_pem())
    inter = x509.load_pem_x509_certificate(pebble.intermediate_pem())
    assert inter.issuer == root.subject


def test_challtestsrv_txt_records(pebble: PebbleServer) -> None:
    host = "_acme-challenge.harness.example.com"
    pebble.set_txt(host, "token-value")
    assert _dns_query_txt(pebble.dns_port, host) == [b"token-value"]
    pebble.clear_txt(host)
    assert _dns_query_txt(pebble.dns_port, host) == []


def test_eab_server_requires_binding(pebble_eab: PebbleServer) -> None:
    r = requests.get(pebble_eab.directory_url, verify=pebble_eab.https_ca_bundle, timeout=10)
    assert r.json()["meta"]["externalAccountRequired"] is True
    assert len(next(iter(pebble_eab.eab_keys.values()))) == 64
