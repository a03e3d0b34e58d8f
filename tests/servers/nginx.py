"""A private nginx for deployment tests: its own prefix, configuration, logs and pid in a temp folder.

Two TLS server blocks share one free loopback port (SNI picks the block), each in its own file under
`sites/` (included by a glob): `a.example.test` (sites/a.conf), the one tests deploy to, and
`other.example.test` (sites/other.conf), which must never change. Both start with self-signed
certificates. Every path in the configuration is absolute, so `nginx -t -c <conf>` and
`nginx -s reload -c <conf>` work without `-p` too (as deploy_to_site runs them by default).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Self

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from servers.common import free_port

START_TIMEOUT = 15.0
HOSTS = ("a.example.test", "other.example.test")


class NginxNotFound(RuntimeError):
    """No nginx binary to run."""


def find_nginx() -> str:
    if env := os.environ.get("NGINX_BIN"):
        if not os.access(env, os.X_OK):
            raise NginxNotFound(f"NGINX_BIN={env} is not an executable file")
        return env
    for candidate in (shutil.which("nginx"), "/usr/sbin/nginx", "/usr/local/sbin/nginx"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise NginxNotFound("nginx not found (install nginx-light, or set NGINX_BIN)")



def self_signed(host: str, folder: Path) -> tuple[Path, Path, int]:
    """A self-signed certificate for `host`: (cert path, key path, serial)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / f"{host}.crt", folder / f"{host}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path, cert.serial_number


def _alive(pid: int) -> bool:
    """Running, and not just a zombie waiting for init (the daemon's parent) to reap it."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return state not in ("Z", "X")


class NginxServer:
    def __init__(self, binary: str | None = None) -> None:
        self.binary = binary or find_nginx()
        self.prefix = Path(tempfile.mkdtemp(prefix="certify-nginx-"))
        self.conf = self.prefix / "nginx.conf"
        self.sites_dir = self.prefix / "sites"
        self.pid_file = self.prefix / "nginx.pid"
        self.port = free_port()
        self.initial_serials: dict[str, int] = {}
        self._started = False

    # Paths of the two site files.
    @property
    def site_file(self) -> Path:
        return self.sites_dir / "a.conf"

    @property
    def other_file(self) -> Path:
        return self.sites_dir / "other.conf"

    @property
    def where(self) -> list[str]:
        return ["-p", f"{self.prefix}/", "-c", str(self.conf)]

    @property
    def reload_command(self) -> list[str]:
        return [self.binary, *self.where, "-s", "reload"]

    def _write_config(self) -> None:
        for folder in ("logs", "temp", "certs", "sites"):
            (self.prefix / folder).mkdir(exist_ok=True)
        p = self.prefix
        self.conf.write_text(f"""# certify-tui test nginx
daemon on;
master_process on;
worker_processes 1;
pid {self.pid_file};
error_log {p}/logs/error.log info;

events {{
    worker_connections 64;
}}

http {{
    access_log {p}/logs/access.log;
    client_body_temp_path {p}/temp/body;
    proxy_temp_path {p}/temp/proxy;
    fastcgi_temp_path {p}/temp/fastcgi;
    uwsgi_temp_path {p}/temp/uwsgi;
    scgi_temp_path {p}/temp/scgi;

    include sites/*.conf;
}}
""")
        for host, path in zip(HOSTS, (self.site_file, self.other_file), strict=True):
            cert, key, serial = self_signed(host, self.prefix / "certs")
            self.initial_serials[host] = serial
            path.write_text(f"""# {host}: managed by the tests
server {{
    listen 127.0.0.1:{self.port} ssl;
    server_name {host};

    ssl_certificate {cert};
    ssl_certificate_key {key};

    location / {{
        return 200 "{host}\\n";
    }}
}}
""")

    def start(self) -> Self:
        self._write_config()
        out = subprocess.run([self.binary, *self.where], capture_output=True, text=True, timeout=START_TIMEOUT)
        if out.returncode != 0:
            raise RuntimeError(f"nginx did not start: {out.stderr.strip()}")
        self._started = True
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, ssl.SSLError):
                self.tls_serial(HOSTS[0])
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nginx did not answer on 127.0.0.1:{self.port}")

    def tls_serial(self, host: str) -> int:
        """The serial number of the certificate nginx presents for `host` (SNI)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as raw, \
                context.wrap_socket(raw, server_hostname=host) as tls:
            der = tls.getpeercert(binary_form=True)
        assert der is not None
        return x509.load_der_x509_certificate(der).serial_number

    def tls_serial_hex(self, host: str) -> str:
        return format(self.tls_serial(host), "x")

    def wait_for_serial(self, host: str, serial: int, timeout: float = 10.0) -> int:
        """Poll until `host` presents `serial` (a reload replaces workers asynchronously); the last seen."""
        deadline = time.monotonic() + timeout
        seen = -1
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, ssl.SSLError):
                seen = self.tls_serial(host)
                if seen == serial:
                    return seen
            time.sleep(0.05)
        return seen

    def reload(self) -> None:
        subprocess.run(self.reload_command, check=True, capture_output=True, timeout=START_TIMEOUT)

    def master_pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def error_log(self) -> str:
        path = self.prefix / "logs" / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        pid = self.master_pid()
        if self._started and pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)  # fast shutdown of this master (and its workers) only
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and _alive(pid):
                time.sleep(0.02)
        self._started = False
        shutil.rmtree(self.prefix, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
