"""Issue 11's "Done when", as a new user with only a shell: every step is a `certify-tui` subprocess.

An nginx the user started with `-p DIR -c FILE` serves an HTTP + HTTPS site for a name only this test
uses. No setting names that file: `--deploy auto` must find it through the running master. Pebble
issues the certificate, nginx presents it (TLS handshake with SNI), and an export task added from the
CLI writes a PKCS#12 whose password came from a file (never the command line).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import pkcs12
from integration.test_cli import add_account, ok
from integration.test_nginx_sites import _serial_on
from servers.common import free_port
from servers.nginx import NginxNotFound, find_nginx, self_signed
from servers.pebble import PebbleServer

pytestmark = [pytest.mark.pebble,
              pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc (running nginx master)")]

NAME = f"newuser-{secrets.token_hex(4)}.example.test"  # no other test's nginx serves it


class UserNginx:
    """nginx as a user runs it: their own folder, `nginx -p DIR -c DIR/nginx.conf`, one site file."""

    def __init__(self, binary: str, folder: Path) -> None:
        self.binary, self.prefix = binary, folder
        self.conf, self.site = folder / "nginx.conf", folder / "sites" / "newuser.conf"
        self.http_port, self.https_port = free_port(), free_port()
        self.pid_file = folder / "nginx.pid"

    def start(self) -> int:
        """Start it; the serial of the self-signed certificate it serves at first."""
        for sub in ("logs", "temp", "certs", "sites"):
            (self.prefix / sub).mkdir(parents=True, exist_ok=True)
        p = self.prefix
        self.conf.write_text(f"""daemon on;
worker_processes 1;
pid nginx.pid;  # relative to -p, as in many containers
error_log logs/error.log;
events {{ worker_connections 64; }}
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
        cert, key, serial = self_signed(NAME, p / "certs")
        self.site.write_text(f"""server {{
    listen 127.0.0.1:{self.http_port};
    listen 127.0.0.1:{self.https_port} ssl;
    server_name {NAME};

    ssl_certificate {cert};
    ssl_certificate_key {key};

    location / {{
        return 200 "hello from {NAME}\\n";
    }}
}}
""")
        subprocess.run([self.binary, "-p", f"{p}/", "-c", str(self.conf)], check=True, capture_output=True,
                       timeout=15)
        assert _serial_on(self.https_port, NAME) == serial, "nginx did not come up"
        return serial

    def stop(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            pid = int(self.pid_file.read_text().strip())
            os.kill(pid, signal.SIGTERM)  # this master (and its workers) only
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
                time.sleep(0.05)


@pytest.fixture
def user_nginx(tmp_path: Path) -> Iterator[UserNginx]:
    try:
        binary = find_nginx()
    except NginxNotFound as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{exc}; CI must provide nginx", pytrace=False)
        pytest.skip(str(exc))
    server = UserNginx(binary, tmp_path / "srv")
    yield server
    server.stop()


def test_new_user_gets_https_and_a_pfx_from_the_shell(pebble: PebbleServer, user_nginx: UserNginx,
                                                      tmp_path: Path) -> None:
    self_signed_serial = user_nginx.start()
    data = tmp_path / "data"

    add_account(data, pebble, "newuser@example.com")
    ok(data, "cert", "add", "a", "--domain", NAME, "--deploy", "auto",
       "-o", "address=127.0.0.1", "-o", f"port={pebble.http_port}")
    preview = ok(data, "cert", "preview", "a").out
    assert str(user_nginx.site) in preview, preview  # found through the running master, no setting

    request = ok(data, "cert", "request", "a")
    assert request.err == "", request.err  # a failed deployment would be a warning here
    issued = request.out
    serial = ok(data, "cert", "show", "a", "--json").json()["serial"]
    assert f"serial {serial}," in issued, issued
    assert int(serial, 16) != self_signed_serial
    # nginx reloads its workers asynchronously: poll until the new certificate answers.
    deadline = time.monotonic() + 10
    seen = _serial_on(user_nginx.https_port, NAME)
    while seen != int(serial, 16) and time.monotonic() < deadline:
        time.sleep(0.1)
        seen = _serial_on(user_nginx.https_port, NAME)
    assert seen == int(serial, 16), "nginx does not present the Pebble certificate"

    # A PKCS#12 export whose password comes from a 0600 file, never the command line.
    password = secrets.token_urlsafe(16)
    password_file = tmp_path / "pfx-password"
    password_file.write_text(password + "\n")
    password_file.chmod(0o600)
    export_dir = tmp_path / "export"
    ok(data, "cert", "task", "add", "a", "--type", "export", "-o", f"path={export_dir}", "-o", "formats=pfx",
       "-o", f"pkcs12_password=@{password_file}")
    tasks = ok(data, "cert", "task", "list", "a", "--json").json()
    assert [t["type"] for t in tasks] == ["export"]
    assert password not in ok(data, "cert", "show", "a").out

    ok(data, "cert", "deploy", "a")
    shown = ok(data, "cert", "show", "a").out
    assert "Deploy mode:" in shown and "1. export" in shown  # `cert show` lists the deployment and its tasks

    key, cert, chain = pkcs12.load_key_and_certificates((export_dir / "a.pfx").read_bytes(), password.encode())
    assert key is not None and cert is not None and chain
    assert cert.serial_number == int(serial, 16)
    with pytest.raises(ValueError):
        pkcs12.load_key_and_certificates((export_dir / "a.pfx").read_bytes(), b"wrong")
    # The password is stored sealed: the database's bytes do not hold it.
    for db in data.glob("*.db*"):
        assert password.encode() not in db.read_bytes(), db
