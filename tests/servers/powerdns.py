"""Start a throwaway PowerDNS Authoritative server (sqlite3 backend, HTTP API on) for tests.

It listens on two free loopback ports: DNS (UDP and TCP) on `port`, the HTTP API on `api_port`
(key `api_key`). The zone example.test is created through the API with SOA, NS and A records
(the apex and every subdomain -> 127.0.0.1), so Pebble can resolve names through it.
Caches are off, so an API change is visible to the next DNS query at once.
Each pytest-xdist worker starts its own server.
"""

from __future__ import annotations

import os
import secrets
import socket
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import requests

from servers.common import find_executable, free_port, free_udp_tcp_port, stop_process, tail

START_TIMEOUT = 20.0
ZONE = "example.test"
SERVER_ID = "localhost"
SCHEMA_CANDIDATES = (
    "/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql",
    "/usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql",
)


class PowerDnsNotFound(RuntimeError):
    """pdns_server or the sqlite3 backend (with its schema) is not installed."""


class PowerDnsStartError(RuntimeError):
    """pdns_server did not come up."""


def find_pdns_server() -> Path:
    return find_executable("PDNS_SERVER_BIN", "pdns_server", PowerDnsNotFound,
                           "install pdns-server and pdns-backend-sqlite3 "
                           "(Debian: apt-get install pdns-server pdns-backend-sqlite3)")


def find_schema() -> Path:
    if env := os.environ.get("PDNS_SQLITE_SCHEMA"):
        return Path(env)
    for candidate in SCHEMA_CANDIDATES:
        if os.path.isfile(candidate):
            return Path(candidate)
    raise PowerDnsNotFound("the gsqlite3 schema (schema.sqlite3.sql) was not found; "
                           "install pdns-backend-sqlite3")





class PowerDnsServer:
    """A running pdns_server; use as a context manager or call start()/stop()."""

    def __init__(self) -> None:
        self.pdns_server = find_pdns_server()
        self.schema = find_schema()
        self.api_key = secrets.token_urlsafe(24)
        self.server_id = SERVER_ID
        self.zone = ZONE
        self.port = 0
        self.api_port = 0
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """What lexicon's powerdns provider takes as `pdns_server`."""
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def workdir(self) -> Path:
        assert self._tmp is not None, "server not started"
        return Path(self._tmp.name)

    @property
    def log_path(self) -> Path:
        return self.workdir / "pdns.log"

    def lexicon_options(self) -> dict[str, str]:
        """Options for the `lexicon-powerdns` provider that reach this server."""
        return {"pdns_server": self.api_url, "auth_token": self.api_key, "pdns_server_id": self.server_id}

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self, attempts: int = 3) -> Self:
        self._tmp = tempfile.TemporaryDirectory(prefix="pdns-")
        db = self.workdir / "pdns.sqlite3"
        with sqlite3.connect(db) as conn:
            conn.executescript(self.schema.read_text())
        conn.close()
        (self.workdir / "pdns.conf").write_text("")  # an empty config file: everything is on the command line
        for attempt in range(1, attempts + 1):
            try:
                self._start_once(db)
                self._create_zone()
                return self
            except PowerDnsStartError as exc:
                self._stop_proc()
                if attempt == attempts or "address already in use" not in str(exc).lower():
                    self.stop()
                    raise
            except BaseException:
                self.stop()
                raise
        raise AssertionError("unreachable")

    def _argv(self, db: Path) -> list[str]:
        d = self.workdir
        return [
            str(self.pdns_server),
            f"--config-dir={d}", f"--socket-dir={d}",
            "--local-address=127.0.0.1", f"--local-port={self.port}",
            "--launch=gsqlite3", f"--gsqlite3-database={db}",
            "--api=yes", f"--api-key={self.api_key}",
            "--webserver=yes", "--webserver-address=127.0.0.1", f"--webserver-port={self.api_port}",
            "--webserver-allow-from=127.0.0.0/8",
            "--daemon=no", "--guardian=no", "--disable-syslog", "--write-pid=no",
            # No caches: a change made through the API is what the next query sees.
            "--cache-ttl=0", "--negquery-cache-ttl=0", "--query-cache-ttl=0", "--consistent-backends=yes",
            "--receiver-threads=1", "--distributor-threads=1", "--signing-threads=1",
            # No security poll (a DNS query to powerdns.com): tests never leave the machine.
            "--security-poll-suffix=",
            "--default-soa-content=ns1.@ hostmaster.@ 0 10800 3600 604800 60",
            "--loglevel=6",
        ]  # fmt: skip

    def _start_once(self, db: Path) -> None:
        self.port = free_udp_tcp_port()
        self.api_port = free_port(socket.SOCK_STREAM)
        while self.api_port == self.port:
            self.api_port = free_port(socket.SOCK_STREAM)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self._proc = subprocess.Popen(self._argv(db), stdin=subprocess.DEVNULL, stdout=self._log,
                                      stderr=subprocess.STDOUT, cwd=self.workdir)
        self._wait(lambda: self._api_ready() and self._dns_answers("localhost.", expect_answer=False))

    def _wait(self, ready: Any) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise PowerDnsStartError(
                    f"pdns_server exited with {self._proc.returncode}:\n{tail(self.log_path)}")
            if ready():
                return
            time.sleep(0.05)
        raise PowerDnsStartError(f"pdns_server not ready after {START_TIMEOUT:.0f}s:\n{tail(self.log_path)}")

    def _api_ready(self) -> bool:
        try:
            return requests.get(f"{self.api_url}/api/v1/servers/{self.server_id}",
                                headers={"X-API-Key": self.api_key}, timeout=1).ok
        except requests.RequestException:
            return False

    def _dns_answers(self, name: str, *, expect_answer: bool = True) -> bool:
        try:
            r = dns.query.udp(dns.message.make_query(name, "SOA"), "127.0.0.1", timeout=0.5, port=self.port)
        except (OSError, dns.exception.DNSException):
            return False
        if not expect_answer:
            return True  # any response (REFUSED for a zone not served) means the listener is up
        return r.rcode() == dns.rcode.NOERROR and bool(r.answer)

    def _create_zone(self) -> None:
        zone = f"{self.zone}."

        def a(name: str) -> dict[str, Any]:
            return {"name": name, "type": "A", "ttl": 60, "changetype": "REPLACE",
                    "records": [{"content": "127.0.0.1", "disabled": False}]}

        body = {
            "name": zone, "kind": "Native", "soa_edit_api": "DEFAULT",
            "nameservers": [f"ns1.{zone}"],
            "rrsets": [a(zone), a(f"*.{zone}"), a(f"ns1.{zone}")],
        }
        r = self.api("POST", "/zones", json=body)
        if r.status_code != 201:
            raise PowerDnsStartError(f"creating {zone} through the API failed: HTTP {r.status_code} {r.text}\n"
                                     f"{tail(self.log_path)}")
        self._wait(lambda: self._dns_answers(zone))

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

    # -- API and queries -----------------------------------------------------------------------

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Call the HTTP API under /api/v1/servers/<id> (with the key)."""
        return requests.request(method, f"{self.api_url}/api/v1/servers/{self.server_id}{path}",
                                headers={"X-API-Key": self.api_key}, timeout=10, **kwargs)

    def query(self, name: str, rdtype: str = "TXT") -> dns.message.Message:
        """Ask this server directly (TCP, no recursion)."""
        q = dns.message.make_query(name, rdtype)
        q.flags &= ~dns.flags.RD
        return dns.query.tcp(q, "127.0.0.1", timeout=5, port=self.port)

    def txt_values(self, name: str) -> set[str]:
        """The TXT values this server answers at `name`, over DNS."""
        response = self.query(name, "TXT")
        wanted = dns.name.from_text(name)
        return {b"".join(rd.strings).decode() for rrset in response.answer
                if rrset.rdtype == dns.rdatatype.TXT and rrset.name == wanted for rd in rrset}

    def txt_records(self) -> dict[str, set[str]]:
        """Every TXT record of the zone, from the API: owner name (no final dot) -> values."""
        r = self.api("GET", f"/zones/{self.zone}.")
        r.raise_for_status()
        return {rrset["name"].rstrip("."): {rec["content"].strip('"') for rec in rrset["records"]}
                for rrset in r.json()["rrsets"] if rrset["type"] == "TXT"}
