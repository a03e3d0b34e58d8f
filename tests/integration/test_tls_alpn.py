"""tls-alpn-01 (RFC 8737) through the built-in TLS listener, validated by a real Pebble."""

from __future__ import annotations

import contextlib
import hashlib
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from integration.helpers import add_account, open_core, unique, verify_issued
from servers.common import free_port
from servers.pebble import PebbleServer

from certify_tui.challenges import get_provider, tls_alpn
from certify_tui.errors import OperationError
from certify_tui.lifecycle import Core

pytestmark = pytest.mark.pebble



def _handshake(port: int, name: str, alpn: list[str] | None) -> x509.Certificate:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    if alpn is not None:
        ctx.set_alpn_protocols(alpn)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock, \
            ctx.wrap_socket(sock, server_hostname=name) as tls:
        assert tls.selected_alpn_protocol() == "acme-tls/1"
        cert = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))
        # The listener closes right after the handshake: the next read sees the end of the stream.
        tls.settimeout(5)
        with contextlib.suppress(ssl.SSLError, ConnectionResetError):
            assert tls.recv(1) == b""
    return cert


def test_two_names_tls_alpn(core: Core, pebble: PebbleServer, data_dir: Path) -> None:
    add_account(core, pebble)
    base = unique("alpn")
    names = [f"a.{base}.example.test", f"b.{base}.example.test"]
    core.add_certificate(name="alpn", domains=names, challenge="tls-alpn-01", provider="standalone",
                         options={"address": "127.0.0.1", "port": pebble.tls_port})

    result = core.request("alpn")

    verify_issued(result.version.files, names, pebble.root_pem(), data_dir=data_dir)
    log = core.certificate_log("alpn")
    assert "answering tls-alpn-01 on 127.0.0.1:" in log
    assert not tls_alpn.is_listening("127.0.0.1", pebble.tls_port)  # closed after the order
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", pebble.tls_port), timeout=2).close()


def test_listener_speaks_only_acme_tls() -> None:
    port = free_port()
    answers = [("x.example.test", "token.thumbprint")]
    tls_alpn.publish("127.0.0.1", port, answers)
    try:
        cert = _handshake(port, "x.example.test", ["acme-tls/1"])
        ext = cert.extensions.get_extension_for_oid(tls_alpn.ACME_IDENTIFIER_OID)
        assert ext.critical
        assert ext.value.value == b"\x04\x20" + hashlib.sha256(b"token.thumbprint").digest()
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.DNSName) == ["x.example.test"]

        for alpn in (None, ["h2", "http/1.1"]):  # no acme-tls/1 offered: refused before any certificate
            with pytest.raises(ssl.SSLError, match="no application protocol|NO_APPLICATION_PROTOCOL"):
                _handshake(port, "x.example.test", alpn)
        with pytest.raises(ssl.SSLError, match="(?i)unrecognized name"):
            _handshake(port, "other.example.test", ["acme-tls/1"])
    finally:
        tls_alpn.withdraw("127.0.0.1", port, answers)
    assert not tls_alpn.is_listening("127.0.0.1", port)


def test_listener_is_shared_and_refcounted() -> None:
    port = free_port()
    first, second = [("one.example.test", "k1")], [("two.example.test", "k2")]
    tls_alpn.publish("127.0.0.1", port, first)
    tls_alpn.publish("127.0.0.1", port, second)  # a second order at the same time: the same socket
    try:
        _handshake(port, "one.example.test", ["acme-tls/1"])
        tls_alpn.withdraw("127.0.0.1", port, first)
        assert tls_alpn.is_listening("127.0.0.1", port)
        with pytest.raises(ssl.SSLError):
            _handshake(port, "one.example.test", ["acme-tls/1"])
        _handshake(port, "two.example.test", ["acme-tls/1"])
    finally:
        tls_alpn.withdraw("127.0.0.1", port, second)
    assert not tls_alpn.is_listening("127.0.0.1", port)


def test_port_taken_is_a_clear_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        with pytest.raises(OperationError, match=rf"Cannot listen on 127.0.0.1:{port} for tls-alpn-01"):
            tls_alpn.publish("127.0.0.1", port, [("x.example.test", "k")])
    assert not tls_alpn.is_listening("127.0.0.1", port)


def test_registered_with_its_params() -> None:
    cls = get_provider("tls-alpn-01", None)
    assert cls is tls_alpn.StandaloneTlsAlpnProvider
    assert cls({}).options == {"address": "0.0.0.0", "port": 443}
    with pytest.raises(Exception, match="between 1 and 65535"):
        cls({"port": "70000"})


def test_fresh_process_cli_request(pebble: PebbleServer, data_dir: Path) -> None:
    with contextlib.contextmanager(open_core)(data_dir) as core:
        add_account(core, pebble)
        core.add_certificate(name="fresh", domains=[f"{unique('fresh')}.example.test"], challenge="tls-alpn-01",
                             provider="standalone", options={"address": "127.0.0.1", "port": pebble.tls_port})
    cli = Path(sys.executable).with_name("certify-tui")
    proc = subprocess.run([str(cli), "--data-dir", str(data_dir), "cert", "request", "fresh"],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr

