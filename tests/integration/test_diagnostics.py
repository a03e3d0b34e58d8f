"""`cert test` / Core.test_certificate against real servers: challtestsrv DNS, the built-in listeners, scripts."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import dns.rdata
import pytest
import requests
from integration.helpers import add_account, open_core, unique
from servers.pebble import PebbleServer

from certify_tui.cert_test import Check, caa_decision, lookups
from certify_tui.challenges import http_listener, probes, tls_alpn
from certify_tui.lifecycle import Core

pytestmark = pytest.mark.pebble

CLI = Path(sys.executable).with_name("certify-tui")


@pytest.fixture
def core(data_dir: Path, pebble: PebbleServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Core]:
    monkeypatch.setattr(lookups, "NAMESERVER", ("127.0.0.1", pebble.dns_port))
    yield from open_core(data_dir)


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


def free_port(address: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return s.getsockname()[1]


def add_cert(core: Core, name: str, domains: list[str], challenge: str, provider: str,
             options: dict[str, Any]) -> None:
    core.add_certificate(name=name, domains=domains, challenge=challenge, provider=provider, options=options)


class _NotFound(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_standalone_passes(core: Core, pebble: PebbleServer) -> None:
    add_account(core, pebble)
    names = [f"a.{unique('d')}.example.test", f"b.{unique('d')}.example.test"]
    add_cert(core, "ok", names, "http-01", "standalone", {"address": "127.0.0.1", "port": pebble.http_port})

    checks = by_name(core.test_certificate("ok"))

    for name in names:
        assert checks[f"resolve {name}"].ok is True and checks[f"resolve {name}"].message == "127.0.0.1"
        assert checks[f"http-01 {name}"].ok is True, checks[f"http-01 {name}"]
        assert f":{pebble.http_port}/.well-known/acme-challenge/" in checks[f"http-01 {name}"].message
    assert checks[f"port 127.0.0.1:{pebble.http_port} (http-01)"].ok is True
    assert checks["CAA"].ok is None and "custom CA" in checks["CAA"].message  # Pebble has no CAA identity
    assert not http_listener.is_listening("127.0.0.1", pebble.http_port)  # the probe is withdrawn
    assert "check(s), 0 failed" in core.certificate_log("ok")


def test_unresolvable_name(core: Core, pebble: PebbleServer) -> None:
    add_account(core, pebble)
    bad = f"{unique('gone')}.example.test"
    requests.post(pebble.challtestsrv_url + "/set-servfail", json={"host": bad + "."}, timeout=10).raise_for_status()
    add_cert(core, "unres", [bad], "http-01", "standalone", {"address": "127.0.0.1", "port": pebble.http_port})

    checks = by_name(core.test_certificate("unres"))

    check = checks[f"resolve {bad}"]
    assert check.ok is False and f"{bad} does not resolve" in check.message and "SERVFAIL" in check.message
    assert "Create an A" in check.remedy
    assert checks[f"http-01 {bad}"].ok is None  # nothing to fetch from


def test_http_reachability_fails_on_404(core: Core, pebble: PebbleServer) -> None:
    # A web server answers 404 where the name points (127.0.0.1); certify-tui's listener sits elsewhere.
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        add_account(core, pebble)
        name = f"{unique('nf')}.example.test"
        add_cert(core, "nf", [name], "http-01", "standalone", {"address": "127.0.0.2", "port": port})
        checks = by_name(core.test_certificate("nf"))
    finally:
        server.shutdown()
        server.server_close()

    assert checks[f"port 127.0.0.2:{port} (http-01)"].ok is True
    check = checks[f"http-01 {name}"]
    assert check.ok is False and "answered HTTP 404" in check.message
    assert f"Something other than certify-tui's listener answered on port {port}" in check.remedy


def test_webroot_not_served(core: Core, pebble: PebbleServer, tmp_path: Path,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
    monkeypatch.setattr(probes, "HTTP_PORT", server.server_address[1])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        add_account(core, pebble)
        name = f"{unique('wr')}.example.test"
        add_cert(core, "wr", [name], "http-01", "webroot", {"path": str(tmp_path)})
        checks = by_name(core.test_certificate("wr"))
    finally:
        server.shutdown()
        server.server_close()
    check = checks[f"http-01 {name}"]
    assert check.ok is False and f"does not serve {tmp_path}/.well-known/acme-challenge/" in check.remedy
    assert not (tmp_path / ".well-known").exists()  # the probe file and folders are gone


def test_port_conflicts(core: Core, pebble: PebbleServer) -> None:
    add_account(core, pebble)
    with socket.socket() as busy_http, socket.socket() as busy_tls:
        for sock in (busy_http, busy_tls):
            sock.bind(("127.0.0.1", 0))
            sock.listen(1)
        http_port, tls_port = busy_http.getsockname()[1], busy_tls.getsockname()[1]
        name = f"{unique('pc')}.example.test"
        add_cert(core, "pc", [name], "http-01", "standalone", {"address": "127.0.0.1", "port": http_port})
        add_cert(core, "pc-tls", [name], "tls-alpn-01", "standalone", {"address": "127.0.0.1", "port": tls_port})
        checks = by_name(core.test_certificate("pc"))
        tls_checks = by_name(core.test_certificate("pc-tls"))

    port = checks[f"port 127.0.0.1:{http_port} (http-01)"]
    assert port.ok is False and "another program already listens" in port.message
    assert "webroot" in port.remedy
    assert checks[f"http-01 {name}"].ok is None and "see the port check" in checks[f"http-01 {name}"].message
    assert tls_checks[f"port 127.0.0.1:{tls_port} (tls-alpn-01)"].ok is False
    assert tls_checks[f"tls-alpn-01 {name}"].ok is None


def test_tls_alpn_reachability(core: Core, pebble: PebbleServer) -> None:
    add_account(core, pebble)
    name = f"{unique('ta')}.example.test"
    port = free_port()
    add_cert(core, "ta", [name], "tls-alpn-01", "standalone", {"address": "127.0.0.1", "port": port})
    checks = by_name(core.test_certificate("ta"))
    assert checks[f"port 127.0.0.1:{port} (tls-alpn-01)"].ok is True
    assert checks[f"tls-alpn-01 {name}"].ok is True, checks[f"tls-alpn-01 {name}"]
    assert not tls_alpn.is_listening("127.0.0.1", port)


def test_caa_against_dns(core: Core, pebble: PebbleServer) -> None:
    account = add_account(core, pebble)
    account.ca_name = "letsencrypt"  # as if it were a Let's Encrypt account: its CAA identity is known
    account.save()
    parent = f"{unique('caa')}.example.test"
    forbidden, inherited, allowed, free = (f"no.{parent}", f"x.sub.{parent}", f"yes.{parent}",
                                           f"{unique('free')}.example.test")

    def add_caa(host: str, *policies: tuple[str, str]) -> None:
        body = {"host": host + ".", "policies": [{"tag": t, "value": v} for t, v in policies]}
        requests.post(pebble.challtestsrv_url + "/add-caa", json=body, timeout=10).raise_for_status()

    add_caa(forbidden, ("issue", "pki.goog"))
    add_caa(f"sub.{parent}", ("issue", "sectigo.com"), ("issue", ";"))
    add_caa(allowed, ("issue", "letsencrypt.org; validationmethods=dns-01"), ("iodef", "mailto:x@example.com"))
    add_cert(core, "caa", [forbidden, inherited, allowed, free], "http-01", "standalone",
             {"address": "127.0.0.1", "port": pebble.http_port})

    checks = by_name(core.test_certificate("caa"))

    assert checks[f"CAA {forbidden}"].ok is False
    assert "forbids letsencrypt.org: allows only pki.goog" in checks[f"CAA {forbidden}"].message
    assert checks[f"CAA {forbidden}"].remedy == f'Add a CAA record at {forbidden}: {forbidden}. CAA 0 issue "letsencrypt.org"'
    assert checks[f"CAA {inherited}"].ok is False and f"CAA at sub.{parent}" in checks[f"CAA {inherited}"].message
    assert checks[f"CAA {allowed}"].ok is True
    assert checks[f"CAA {free}"].ok is True and "no CAA records" in checks[f"CAA {free}"].message


def _caa(*texts: str) -> list[tuple[int, str, str]]:
    rdatas = [dns.rdata.from_text("IN", "CAA", t) for t in texts]
    return [(r.flags, r.tag.decode(), r.value.decode()) for r in rdatas]


def test_caa_decision() -> None:
    assert caa_decision([], "letsencrypt.org")[0]
    assert caa_decision(_caa('0 iodef "mailto:a@example.com"'), "letsencrypt.org")[0]
    assert caa_decision(_caa('0 issue "LetsEncrypt.org; accounturi=x"'), "letsencrypt.org")[0]
    assert caa_decision(_caa('0 issue "pki.goog"', '0 issue "letsencrypt.org"'), "letsencrypt.org")[0]
    assert caa_decision(_caa('0 issue ";"'), "letsencrypt.org") == (False, "allows only no CA")
    # issuewild governs wildcards when present, and only them
    records = _caa('0 issue "letsencrypt.org"', '0 issuewild "pki.goog"')
    assert caa_decision(records, "letsencrypt.org", wildcard=False)[0]
    assert not caa_decision(records, "letsencrypt.org", wildcard=True)[0]
    assert caa_decision(_caa('0 issue "letsencrypt.org"'), "letsencrypt.org", wildcard=True)[0]
    assert caa_decision(_caa('0 issuewild ";"'), "sectigo.com", wildcard=False)[0]
    # an unknown property marked critical forbids everyone
    allowed, reason = caa_decision(_caa('128 tbs "x"', '0 issue "letsencrypt.org"'), "letsencrypt.org")
    assert not allowed and "critical" in reason


def _script(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(0o755)
    return path


def test_dns_provider_credentials(core: Core, pebble: PebbleServer, tmp_path: Path) -> None:
    add_account(core, pebble)
    seen = tmp_path / "seen.txt"
    record = _script(tmp_path, "rec", f"import sys\nopen({str(seen)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n")
    denied = _script(tmp_path, "denied", "import sys\nprint('403 Forbidden: token lacks zone access')\nsys.exit(1)\n")
    domain = f"{unique('dc')}.example.test"
    add_cert(core, "dns-ok", [f"*.{domain}", domain], "dns-01", "script",
             {"create_command": f"{record} add", "delete_command": f"{record} del"})
    add_cert(core, "dns-bad", [domain], "dns-01", "script",
             {"create_command": str(denied), "delete_command": str(record)})
    add_cert(core, "dns-manual", [domain], "dns-01", "manual", {})

    ok = by_name(core.test_certificate("dns-ok"))
    lines = seen.read_text().splitlines()
    assert [line.split()[:2] for line in lines] == [["add", f"_certify-tui-test.{domain}"],
                                                    ["del", f"_certify-tui-test.{domain}"]]
    assert lines[0].split()[2] == lines[1].split()[2]  # the same test value created and deleted
    assert ok[f"dns-01 script {domain}"].ok is True
    assert ok[f"resolve *.{domain}"].ok is None

    bad = by_name(core.test_certificate("dns-bad"))[f"dns-01 script {domain}"]
    assert bad.ok is False and "exit code 1" in bad.message and "403 Forbidden" in bad.message
    assert "credentials" in bad.remedy

    manual = by_name(core.test_certificate("dns-manual"))[f"dns-01 manual {domain}"]
    assert manual.ok is None


def test_cli_cert_test(core: Core, pebble: PebbleServer, data_dir: Path) -> None:
    add_account(core, pebble)
    name = f"{unique('cli')}.example.test"
    add_cert(core, "good", [name], "http-01", "standalone", {"address": "127.0.0.1", "port": pebble.http_port})
    env = {**os.environ, "CERTIFY_TUI_DNS_RESOLVERS": f"127.0.0.1:{pebble.dns_port}"}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(CLI), "--data-dir", str(data_dir), "cert", "test", *args], capture_output=True,
                              text=True, env=env, timeout=60, stdin=subprocess.DEVNULL)

    good = cli("good")
    assert good.returncode == 0, good.stderr
    assert f"✓  http-01 {name}" in good.stdout and "-  CAA" in good.stdout

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        add_cert(core, "busy", [name], "http-01", "standalone", {"address": "127.0.0.1", "port": port})
        bad = cli("busy")
        bad_json = cli("busy", "--json")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert f"✗  port 127.0.0.1:{port} (http-01)" in bad.stdout and "To fix:" in bad.stdout
    assert bad_json.returncode == 1
    data = json.loads(bad_json.stdout)
    assert {"name", "ok", "message", "remedy"} <= set(data[0])
    assert any(c["ok"] is False and c["name"].startswith("port ") for c in data)
