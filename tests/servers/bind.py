"""Start a throwaway BIND 9 (`named`) as an authoritative, dynamically updatable DNS server for tests.

It serves two zones on one free loopback port (UDP and TCP):
- example.test: the names certificates are issued for (A records to 127.0.0.1 for the apex and every
  subdomain), updatable with the TSIG key `key_name`/`key_secret` (hmac-sha256);
- delegated.test: where `_acme-challenge` CNAMEs of example.test point (CNAME delegation tests),
  updatable with the same key and also with `limited_key_name`, which may update only this zone.

Crafted CNAMEs in example.test (see CNAMES) cover delegation, two hops, a loop and a chain too long.
Recursion is on for loopback clients only, so a query for a delegated name is answered with the whole
CNAME chain across both local zones, as a CA's recursive resolver would answer it (Pebble's validator
does not follow CNAMEs itself). Queries without the RD bit get plain authoritative answers.
Each pytest-xdist worker starts its own server, so tests stay independent.
"""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.zone

from servers.common import find_executable, free_udp_tcp_port, stop_process, tail

START_TIMEOUT = 20.0
ZONE = "example.test"
DELEGATED_ZONE = "delegated.test"
LONG_CHAIN = 9  # hops in the `long` chain: one more than the machinery follows

# name in example.test -> CNAME target (absolute)
CNAMES: dict[str, str] = {
    "_acme-challenge.cname": "_acme-challenge.target.delegated.test.",
    "_acme-challenge.twohop": "hop1.example.test.",
    "hop1": "_acme-challenge.final.delegated.test.",
    "_acme-challenge.loop": "loop-a.example.test.",
    "loop-a": "loop-b.example.test.",
    "loop-b": "loop-a.example.test.",
    "_acme-challenge.long": "chain1.example.test.",
    **{f"chain{i}": f"chain{i + 1}.example.test." for i in range(1, LONG_CHAIN)},
    f"chain{LONG_CHAIN}": "_acme-challenge.end.delegated.test.",
}


class BindNotFound(RuntimeError):
    """named is not installed."""


class BindStartError(RuntimeError):
    """named did not come up."""


def find_named() -> Path:
    return find_executable("NAMED_BIN", "named", BindNotFound, "install bind9 (Debian: apt-get install bind9)")




def _secret() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


class BindServer:
    """A running named; use as a context manager or call start()/stop()."""

    def __init__(self) -> None:
        self.named = find_named()
        self.key_name = "certify-test-key"
        self.key_secret = _secret()
        self.key_algorithm = "hmac-sha256"
        self.limited_key_name = "limited-key"  # may update delegated.test only
        self.limited_key_secret = _secret()
        self.port = 0
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def workdir(self) -> Path:
        assert self._tmp is not None, "server not started"
        return Path(self._tmp.name)

    @property
    def log_path(self) -> Path:
        return self.workdir / "named.log"

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self, attempts: int = 3) -> Self:
        self._tmp = tempfile.TemporaryDirectory(prefix="bind-")
        for attempt in range(1, attempts + 1):
            try:
                self._start_once()
                return self
            except BindStartError as exc:
                self._stop_proc()
                if attempt == attempts or "address in use" not in str(exc).lower():
                    self.stop()
                    raise
        raise AssertionError("unreachable")

    def _start_once(self) -> None:
        self.port = free_udp_tcp_port()
        d = self.workdir
        self._write_zone(ZONE, self._example_records())
        self._write_zone(DELEGATED_ZONE, [])
        conf = d / "named.conf"
        conf.write_text(self._config())
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        # -g: foreground, log to stderr; -n 2: few worker threads (many servers may run at once).
        self._proc = subprocess.Popen(
            [str(self.named), "-g", "-n", "2", "-c", str(conf), "-p", str(self.port)],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, cwd=d)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise BindStartError(f"named exited with {self._proc.returncode}:\n{tail(self.log_path)}")
            if self._answers():
                return
            time.sleep(0.05)
        raise BindStartError(f"named not ready after {START_TIMEOUT:.0f}s:\n{tail(self.log_path)}")

    def _answers(self) -> bool:
        for zone in (ZONE, DELEGATED_ZONE):
            try:
                r = dns.query.udp(dns.message.make_query(zone, "SOA"), "127.0.0.1", timeout=0.5, port=self.port)
            except (OSError, dns.exception.DNSException):
                return False
            if r.rcode() != dns.rcode.NOERROR or not r.answer:
                return False
        return True

    def _config(self) -> str:
        d = self.workdir
        return f"""
key "{self.key_name}" {{ algorithm {self.key_algorithm}; secret "{self.key_secret}"; }};
key "{self.limited_key_name}" {{ algorithm hmac-sha256; secret "{self.limited_key_secret}"; }};
controls {{ }};
options {{
    directory "{d}";
    pid-file "{d}/named.pid";
    session-keyfile "{d}/session.key";
    managed-keys-directory "{d}";
    dump-file "{d}/cache.db";
    statistics-file "{d}/stats";
    listen-on port {self.port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion yes;  // for loopback only: chases CNAMEs into the other local zone, as a CA's resolver would
    allow-recursion {{ 127.0.0.1; }};
    allow-query-cache {{ 127.0.0.1; }};
    dnssec-validation no;
    notify no;
    allow-transfer {{ 127.0.0.1; }};
    minimal-responses no;
}};
zone "{ZONE}" {{
    type primary; file "{d}/{ZONE}.zone"; journal "{d}/{ZONE}.jnl";
    allow-update {{ key "{self.key_name}"; }};
}};
zone "{DELEGATED_ZONE}" {{
    type primary; file "{d}/{DELEGATED_ZONE}.zone"; journal "{d}/{DELEGATED_ZONE}.jnl";
    allow-update {{ key "{self.key_name}"; key "{self.limited_key_name}"; }};
}};
"""

    @staticmethod
    def _example_records() -> list[str]:
        return [
            "@ IN A 127.0.0.1",
            "* IN A 127.0.0.1",
            *(f"{name} IN CNAME {target}" for name, target in CNAMES.items()),
        ]

    def _write_zone(self, zone: str, records: list[str]) -> None:
        lines = [
            "$TTL 60",
            f"$ORIGIN {zone}.",
            f"@ IN SOA ns.{ZONE}. hostmaster.{ZONE}. 1 3600 600 86400 60",
            f"@ IN NS ns.{ZONE}.",
        ]
        if zone == ZONE:
            lines.append("ns IN A 127.0.0.1")
        (self.workdir / f"{zone}.zone").write_text("\n".join(lines + records) + "\n")

    def _stop_proc(self) -> None:
        stop_process(self._proc, self._log)
        self._proc = self._log = None

    def stop(self) -> None:
        self._stop_proc()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> Self:
        return self.start() if self._tmp is None else self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- queries -------------------------------------------------------------------------------

    def query(self, name: str, rdtype: str = "TXT") -> dns.message.Message:
        """Ask this server directly (TCP, no recursion)."""
        q = dns.message.make_query(name, rdtype)
        q.flags &= ~dns.flags.RD
        return dns.query.tcp(q, "127.0.0.1", timeout=5, port=self.port)

    def txt_values(self, name: str) -> set[str]:
        """The TXT values this server holds at `name` (not following CNAMEs)."""
        response = self.query(name, "TXT")
        wanted = dns.name.from_text(name)
        return {b"".join(rd.strings).decode() for rrset in response.answer
                if rrset.rdtype == dns.rdatatype.TXT and rrset.name == wanted for rd in rrset}

    def txt_records(self, zone: str = ZONE) -> dict[str, set[str]]:
        """Every TXT record in `zone` (a zone transfer, allowed from loopback): owner name -> values."""
        xfr = dns.zone.from_xfr(dns.query.xfr("127.0.0.1", zone, port=self.port, timeout=5, lifetime=10))
        found: dict[str, set[str]] = {}
        for name, rdataset in xfr.iterate_rdatasets(dns.rdatatype.TXT):
            owner = name.derelativize(xfr.origin).to_text(omit_final_dot=True)
            found.setdefault(owner, set()).update(b"".join(rd.strings).decode() for rd in rdataset)
        return found


def start_bind_or_skip() -> BindServer:
    """A started BindServer; skips the test when named is missing, but fails under CI=true."""
    import pytest

    try:
        server = BindServer()
    except BindNotFound as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{exc}; CI must provide BIND", pytrace=False)
        pytest.skip(f"{exc}; the RFC 2136 / dns-01 tests need it")
    return server.start()
