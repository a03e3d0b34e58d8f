"""Start a throwaway Pebble ACME CA plus pebble-challtestsrv (its DNS) for tests.

Everything binds to 127.0.0.1 on free ports, so parallel workers (pytest-xdist)
each get their own independent CA.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import json
import os
import re
import secrets
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from servers.common import find_executable, free_udp_tcp_port, stop_process, tail

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE_DIR = REPO_ROOT / ".cache" / "pebble"
START_TIMEOUT = 20.0


class PebbleNotFound(RuntimeError):
    """The pebble / pebble-challtestsrv binaries are not installed."""


class PebbleStartError(RuntimeError):
    """A server process did not come up in time."""


def _find_binary(env_var: str, name: str) -> Path:
    return find_executable(env_var, name, PebbleNotFound, f"set {env_var}, or run `make test-servers`",
                           extra=(CACHE_DIR / "usr" / "bin" / name,))


def find_binaries() -> tuple[Path, Path]:
    """Return (pebble, pebble-challtestsrv) or raise PebbleNotFound."""
    return _find_binary("PEBBLE_BIN", "pebble"), _find_binary("CHALLTESTSRV_BIN", "pebble-challtestsrv")


def _parse_version(text: str) -> tuple[int, ...] | None:
    m = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    return tuple(int(g) for g in m.groups() if g is not None) if m else None


def pebble_version(pebble: Path) -> tuple[int, ...] | None:
    """Best-effort version; None when unknown.

    Debian's build reports "version: dev", so for the cached copy trust the package
    version the fetch script recorded in .cache/pebble/VERSION.
    """
    stamp = CACHE_DIR / "VERSION"
    if pebble.resolve() == (CACHE_DIR / "usr" / "bin" / "pebble").resolve() and stamp.is_file():
        return _parse_version(stamp.read_text())
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run([str(pebble), "-version"], capture_output=True, text=True, timeout=10)
        return _parse_version(out.stdout + out.stderr)
    return None


def _challtestsrv_dns_flag(challtestsrv: Path) -> str:
    # Flag was renamed -dns01 -> -dnsserver (2.4 in Debian stable still has -dns01).
    # Ask the binary itself, since the version string is not always reliable.
    out = subprocess.run([str(challtestsrv), "-h"], capture_output=True, text=True, timeout=10)
    return "-dnsserver" if "-dnsserver" in out.stdout + out.stderr else "-dns01"


def _free_ports(n: int) -> list[int]:
    # Hold all sockets open together so the n ports are distinct.
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()



def _write_tls_material(d: Path) -> tuple[Path, Path, Path]:
    """Throwaway CA + server cert for Pebble's own HTTPS (ACME API and management)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "certify-tui test HTTPS CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    bundle, cert_path, key_path = d / "https-ca.pem", d / "pebble-cert.pem", d / "pebble-key.pem"
    bundle.write_bytes(ca_cert.public_bytes(pem))
    cert_path.write_bytes(cert.public_bytes(pem))
    key_path.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return bundle, cert_path, key_path



class PebbleServer:
    """A running Pebble + challtestsrv pair; use as a context manager or call start()/stop()."""

    def __init__(
        self,
        *,
        eab_required: bool = False,
        eab_keys: dict[str, str] | None = None,
        env: dict[str, str] | None = None,
        dns_server: str | None = None,
    ) -> None:
        self.pebble_bin, self.challtestsrv_bin = find_binaries()
        self.version = pebble_version(self.pebble_bin)
        self.eab_required = eab_required
        # Where Pebble's validator resolves names: challtestsrv by default, or a real DNS server
        # ("127.0.0.1:PORT") for dns-01 tests against BIND or PowerDNS.
        self.dns_server = dns_server
        # Always offer a key so EAB can be exercised even when it is optional.
        self.eab_keys = eab_keys if eab_keys is not None else {"kid-1": secrets.token_urlsafe(48)}
        # NOSLEEP: no random validation delay; AUTHZREUSE=0: every order really validates.
        self.env = {"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_AUTHZREUSE": "0", **(env or {})}
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._procs: list[subprocess.Popen[bytes]] = []
        self._logs: list[IO[bytes]] = []

    # -- addresses ---------------------------------------------------------------

    @property
    def directory_url(self) -> str:
        return f"https://127.0.0.1:{self.acme_port}/dir"

    @property
    def management_url(self) -> str:
        return f"https://127.0.0.1:{self.management_port}"

    @property
    def challtestsrv_url(self) -> str:
        return f"http://127.0.0.1:{self.challtestsrv_port}"

    @property
    def http_port(self) -> int:
        """Where Pebble's validator connects for http-01."""
        return self._http_port

    @property
    def tls_port(self) -> int:
        """Where Pebble's validator connects for tls-alpn-01."""
        return self._tls_port

    @property
    def dns_port(self) -> int:
        """challtestsrv's DNS server (UDP+TCP), which Pebble resolves through."""
        return self._dns_port

    @property
    def https_ca_bundle(self) -> str:
        """PEM file to pass as `verify` when talking to Pebble's HTTPS endpoints."""
        return str(self._bundle)

    @property
    def workdir(self) -> Path:
        assert self._tmp is not None, "server not started"
        return Path(self._tmp.name)

    # -- lifecycle ---------------------------------------------------------------

    def start(self, attempts: int = 3) -> Self:
        self._tmp = tempfile.TemporaryDirectory(prefix="pebble-")
        self._bundle, self._cert, self._key = _write_tls_material(self.workdir)
        # A picked port can be grabbed by someone else before the server binds it;
        # retry with fresh ports rather than failing a whole test session.
        for attempt in range(1, attempts + 1):
            try:
                self._start_once()
                return self
            except PebbleStartError as exc:
                self._stop_procs()
                if attempt == attempts or "address already in use" not in str(exc):
                    self.stop()
                    raise
        raise AssertionError("unreachable")

    def _start_once(self) -> None:
        (
            self.acme_port,
            self.management_port,
            self._http_port,
            self._tls_port,
            self.challtestsrv_port,
        ) = _free_ports(5)
        self._dns_port = free_udp_tcp_port()
        dns = f"127.0.0.1:{self._dns_port}"

        cts = self._spawn(
            "challtestsrv",
            [
                str(self.challtestsrv_bin),
                _challtestsrv_dns_flag(self.challtestsrv_bin), dns,
                "-management", f"127.0.0.1:{self.challtestsrv_port}",
                "-defaultIPv4", "127.0.0.1",
                "-defaultIPv6", "",
                "-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", "",
            ],
        )  # fmt: skip
        self._wait(cts, "challtestsrv", lambda: self._tcp_open(self.challtestsrv_port))

        cfg = self.workdir / "pebble-config.json"
        cfg.write_text(json.dumps(self._config(), indent=2))
        peb = self._spawn("pebble", [str(self.pebble_bin), "-config", str(cfg), "-dnsserver",
                                     self.dns_server or dns])
        self._wait(peb, "pebble", self._dir_ready)

    def _config(self) -> dict[str, object]:
        return {
            "pebble": {
                "listenAddress": f"127.0.0.1:{self.acme_port}",
                "managementListenAddress": f"127.0.0.1:{self.management_port}",
                "certificate": str(self._cert),
                "privateKey": str(self._key),
                "httpPort": self._http_port,
                "tlsPort": self._tls_port,
                "ocspResponderURL": "",
                "externalAccountBindingRequired": self.eab_required,
                "externalAccountMACKeys": self.eab_keys,
                "profiles": {
                    "default": {"description": "default", "validityPeriod": 7776000},
                    "shortlived": {"description": "short", "validityPeriod": 518400},
                },
            }
        }

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - closed in stop()
        self._logs.append(log)
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.env},
            cwd=self.workdir,
        )
        self._procs.append(proc)
        return proc

    def _wait(self, proc: subprocess.Popen[bytes], name: str, ready: Callable[[], bool]) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise PebbleStartError(
                    f"{name} exited with {proc.returncode}:\n{tail(self.workdir / f'{name}.log')}"
                )
            if ready():
                return
            time.sleep(0.05)
        raise PebbleStartError(
            f"{name} not ready after {START_TIMEOUT:.0f}s:\n{tail(self.workdir / f'{name}.log')}"
        )

    @staticmethod
    def _tcp_open(port: int) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    def _dir_ready(self) -> bool:
        try:
            return requests.get(self.directory_url, verify=self.https_ca_bundle, timeout=2).ok
        except requests.RequestException:
            return False

    def _stop_procs(self) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self._procs:
            stop_process(proc, timeout=5)
        for log in self._logs:
            log.close()
        self._procs, self._logs = [], []

    def go_down(self) -> None:
        """Stop the CA's processes but keep its files (trust bundle, log): a CA that went down, for failover."""
        self._stop_procs()

    def stop(self) -> None:
        self._stop_procs()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> Self:
        return self.start() if self._tmp is None else self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- CA material -------------------------------------------------------------

    def _mgmt_get(self, path: str) -> bytes:
        r = requests.get(self.management_url + path, verify=self.https_ca_bundle, timeout=10)
        r.raise_for_status()
        return r.content

    def root_pem(self) -> bytes:
        """Pebble's ACME root (regenerated on every start), for verifying issued chains."""
        return self._mgmt_get("/roots/0")

    def intermediate_pem(self) -> bytes:
        return self._mgmt_get("/intermediates/0")

    def set_renewal_info(self, cert_pem: bytes | str, start: str, end: str) -> None:
        """Make Pebble's ARI answer for this certificate a window of our choosing (RFC 3339 times)."""
        pem = cert_pem.decode() if isinstance(cert_pem, bytes) else cert_pem
        window = json.dumps({"suggestedWindow": {"start": start, "end": end}})
        r = requests.post(self.management_url + "/set-renewal-info/", json={"certificate": pem, "ariResponse": window},
                          verify=self.https_ca_bundle, timeout=10)
        r.raise_for_status()

    # -- DNS records (challtestsrv) ----------------------------------------------

    def _cts_post(self, path: str, body: dict[str, object]) -> None:
        r = requests.post(self.challtestsrv_url + path, json=body, timeout=10)
        r.raise_for_status()

    @staticmethod
    def _fqdn(host: str) -> str:
        # challtestsrv matches fully qualified names only.
        return host if host.endswith(".") else host + "."

    def set_txt(self, host: str, value: str) -> None:
        self._cts_post("/set-txt", {"host": self._fqdn(host), "value": value})

    def clear_txt(self, host: str) -> None:
        self._cts_post("/clear-txt", {"host": self._fqdn(host)})

    def add_a(self, host: str, ip: str) -> None:
        self._cts_post("/add-a", {"host": self._fqdn(host), "addresses": [ip]})
