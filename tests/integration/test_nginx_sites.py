"""Sites of a real nginx (tests/servers/nginx.py): found from the running master, kept across edits of
the file, and given HTTPS by the add-or-update binding. Certificates come from Pebble."""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import time
from pathlib import Path

import pytest
from cryptography import x509
from integration.helpers import add_account, add_standalone_cert, unique
from integration.test_cli import add_account as cli_add_account
from integration.test_cli import cli
from integration.test_cli import ok as cli_ok
from servers.common import free_port
from servers.nginx import NginxServer
from servers.pebble import PebbleServer

from certify_tui.deploy.sites import discover_sites
from certify_tui.lifecycle import Core

HOST = "a.example.test"
OTHER = "other.example.test"


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")
def test_running_master_config_is_discovered_without_settings(nginx: NginxServer) -> None:
    """The test nginx runs with `-p PREFIX -c FILE`: no setting names the file, `nginx -V` does not know it."""
    found = [s for s in discover_sites(None, "off", nginx_binary=nginx.binary) if s.main_config == str(nginx.conf)]
    assert sorted(s.hostnames for s in found) == [(HOST,), (OTHER,)]


def _site_id(nginx: NginxServer, host: str = HOST) -> str:
    site, = [s for s in discover_sites(str(nginx.conf), "off") if s.hostnames == (host,)]
    return site.id


def _single_site_cert(core: Core, pebble: PebbleServer, nginx: NginxServer) -> str:
    core.update_settings({"nginx_config": str(nginx.conf), "apache_config": "off"})
    add_account(core, pebble)
    name = unique("single")
    add_standalone_cert(core, pebble, name, [HOST], deployment_mode="single", deployment_site=_site_id(nginx))
    return name


@pytest.mark.pebble
def test_comment_above_the_site_keeps_the_same_site(core: Core, pebble: PebbleServer, nginx: NginxServer) -> None:
    name = _single_site_cert(core, pebble, nginx)
    before = core.preview(name)
    # Two lines above the block: its line changes, what it is does not.
    nginx.site_file.write_text("# moved down by a comment\n# and another\n" + nginx.site_file.read_text())
    after = core.preview(name)
    assert after.fingerprint == before.fingerprint
    assert any(f"{nginx.site_file}:4" in line for line in after.deployment)
    before_other = nginx.other_file.read_bytes()

    result = core.request(name, plan=after)

    assert result.deployed, result.deploy_error
    serial = int(core.certificate_view(core.get_certificate(name))["serial"], 16)
    assert nginx.wait_for_serial(HOST, serial) == serial
    assert nginx.other_file.read_bytes() == before_other


@pytest.mark.pebble
def test_renamed_site_is_refused(core: Core, pebble: PebbleServer, nginx: NginxServer) -> None:
    name = _single_site_cert(core, pebble, nginx)
    renamed = nginx.site_file.read_text().replace(f"server_name {HOST};", "server_name renamed.example.test;")
    nginx.site_file.write_text(renamed)
    nginx.reload()
    plan = core.preview(name)
    assert any(f"The nginx site {HOST} (port {nginx.port}) is not in the web server configuration" in w
               for w in plan.warnings), plan.warnings

    result = core.request(name)

    assert not result.deployed
    assert result.deploy_error and f"The nginx site {HOST} (port {nginx.port})" in result.deploy_error
    assert "choose the site again" in result.deploy_error
    cert = core.get_certificate(name)
    assert cert.status == "valid" and cert.deploy_status == "failed"
    assert nginx.site_file.read_text() == renamed  # nothing edited
    assert nginx.tls_serial("renamed.example.test") == nginx.initial_serials[HOST]


PLAIN = "plain.example.test"


def _plain_site(nginx: NginxServer) -> tuple[Path, int]:
    """An HTTP-only site on its own port, loaded by the running nginx."""
    http_port = free_port()
    plain = nginx.sites_dir / "plain.conf"
    plain.write_text(f"# {PLAIN}: HTTP only\nserver {{\n    listen 127.0.0.1:{http_port};\n    server_name {PLAIN};\n\n"
                     f"    location / {{\n        return 200 \"{PLAIN}\\n\";\n    }}\n}}\n")
    nginx.reload()
    return plain, http_port


def _serial_on(port: int, host: str, timeout: float = 10.0) -> int | None:
    """The serial of the certificate presented on 127.0.0.1:`port` for `host` (SNI), once it answers."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ssl.SSLError):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
                    context.wrap_socket(raw, server_hostname=host) as tls:
                der = tls.getpeercert(binary_form=True)
            assert der is not None
            return x509.load_der_x509_certificate(der).serial_number
        time.sleep(0.05)
    return None


def _auto_cert(core: Core, pebble: PebbleServer, nginx: NginxServer, binding: str, https_port: int) -> str:
    core.update_settings({"nginx_config": str(nginx.conf), "apache_config": "off", "https_port": https_port})
    add_account(core, pebble)
    name = unique("bind")
    add_standalone_cert(core, pebble, name, [PLAIN], deployment_mode="auto", deployment_binding=binding)
    return name


@pytest.mark.pebble
def test_add_or_update_gives_an_http_site_https(core: Core, pebble: PebbleServer, nginx: NginxServer) -> None:
    plain, _ = _plain_site(nginx)
    https_port = free_port()
    name = _auto_cert(core, pebble, nginx, "add-or-update", https_port)
    plan = core.preview(name)
    assert any(f"({plain}:2): add a TLS listener on port {https_port}" in line for line in plan.deployment), \
        plan.deployment
    before_other = nginx.other_file.read_bytes()

    result = core.request(name, plan=plan)

    assert result.deployed, result.deploy_error
    serial = int(core.certificate_view(core.get_certificate(name))["serial"], 16)
    assert _serial_on(https_port, PLAIN) == serial  # the new listener presents the Pebble certificate
    text = plain.read_text()
    assert f"listen 127.0.0.1:{https_port} ssl;" in text and "ssl_certificate " in text
    assert nginx.other_file.read_bytes() == before_other
    # The next deployment updates the site it made: the same site, now with TLS.
    site, = [s for s in discover_sites(str(nginx.conf), "off") if s.hostnames == (PLAIN,)]
    assert site.tls and site.ports[-1] == https_port
    assert core.deploy(name) is None
    assert plain.read_text().count("listen") == 2


@pytest.mark.pebble
def test_update_binding_lists_the_http_site_as_skipped(core: Core, pebble: PebbleServer, nginx: NginxServer) -> None:
    plain, _ = _plain_site(nginx)
    before = plain.read_bytes()
    name = _auto_cert(core, pebble, nginx, "update", free_port())
    plan = core.preview(name)
    reason = (f"nginx site {PLAIN} ({plain}:2): skipped, it has no TLS listener (the 'add-or-update' deployment "
              "binding would add one)")
    assert reason in plan.deployment, plan.deployment

    result = core.request(name)

    assert not result.deployed and result.deploy_error and "no nginx or Apache site covers" in result.deploy_error
    assert plain.read_bytes() == before


@pytest.mark.pebble
def test_cli_takes_the_binding_and_lists_site_ids(pebble: PebbleServer, nginx: NginxServer, tmp_path: Path) -> None:
    data = tmp_path / "data"
    cli_add_account(data, pebble)
    cli_ok(data, "cert", "add", "b", "--domain", PLAIN, "-o", "port=8080", "--deploy-binding", "add-or-update")
    assert cli_ok(data, "cert", "show", "b", "--json").json()["deployment"]["binding"] == "add-or-update"
    bad = cli(data, "cert", "add", "c", "--domain", PLAIN, "--deploy-binding", "add")
    assert bad.code == 2 and "--deploy-binding" in bad.err

    table = cli_ok(data, "sites", "--nginx-config", str(nginx.conf), "--apache-config", "off").out
    assert f"nginx:{HOST}@{nginx.port}" in table and f"{nginx.site_file}:2" in table
