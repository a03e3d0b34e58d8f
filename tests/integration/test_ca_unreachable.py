"""A CA that dies mid-connection is "cannot reach the CA", never a trust problem (issue 9, item 10).

A tiny real socket server accepts and then resets or closes the connection in the middle of the TLS
handshake or of the HTTP response; the real ACME client code (AcmeSession fetching the directory)
must say "Cannot reach the CA ...". A real certificate the client does not trust still gives the
--ca-bundle message.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from servers.pebble import _write_tls_material

from certify_tui.ca.client import AcmeSession
from certify_tui.errors import OperationError
from certify_tui.keys import generate_key

TRUST = "--ca-bundle"
UNREACHABLE = "Cannot reach the CA at"


class DyingServer:
    """Accepts every connection on 127.0.0.1 and hands the socket to `behave` in a thread."""

    def __init__(self, behave: Callable[[socket.socket], None]) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.behave = behave
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        try:
            self.behave(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.sock.close()


def reset(conn: socket.socket) -> None:
    """Close with SO_LINGER 0: the peer gets a TCP RST (ECONNRESET)."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ssl.SSLContext]:
    """A CA bundle the client trusts and a server context whose certificate it signed."""
    bundle, cert, key = _write_tls_material(tmp_path_factory.mktemp("tls"))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return bundle, context


@pytest.fixture
def server() -> Iterator[Callable[[Callable[[socket.socket], None]], DyingServer]]:
    started: list[DyingServer] = []

    def start(behave: Callable[[socket.socket], None]) -> DyingServer:
        started.append(DyingServer(behave))
        return started[-1]

    yield start
    for s in started:
        s.close()


def connect_error(port: int, bundle: Path) -> OperationError:
    with pytest.raises(OperationError) as info:
        AcmeSession(f"https://127.0.0.1:{port}/dir", generate_key("ec256"), ca_bundle=str(bundle), timeout=5)
    return info.value


def read_hello(conn: socket.socket) -> None:
    conn.settimeout(5)
    assert conn.recv(4096)  # the ClientHello: the handshake has begun


@pytest.mark.parametrize("how", ["reset", "close"])
def test_ca_dying_mid_handshake_is_unreachable_not_a_trust_problem(tls, server, how: str) -> None:
    bundle, _ = tls

    def behave(conn: socket.socket) -> None:
        read_hello(conn)
        if how == "reset":
            reset(conn)
        else:
            conn.shutdown(socket.SHUT_RDWR)

    error = connect_error(server(behave).port, bundle)
    assert UNREACHABLE in error.message, error.message
    assert TRUST not in error.message and "TLS verification" not in error.message


@pytest.mark.parametrize("how", ["reset", "close"])
def test_ca_dying_mid_response_is_unreachable(tls, server, how: str) -> None:
    bundle, context = tls

    def behave(conn: socket.socket) -> None:
        conn.settimeout(5)
        wrapped = context.wrap_socket(conn, server_side=True)
        wrapped.recv(65536)  # the GET of the directory
        wrapped.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"newN")
        if how == "reset":
            reset(wrapped)
        else:
            wrapped.close()

    error = connect_error(server(behave).port, bundle)
    assert UNREACHABLE in error.message, error.message
    assert TRUST not in error.message


def test_an_untrusted_certificate_still_names_the_trust_bundle(tls, server, tmp_path: Path) -> None:
    _, context = tls
    other_bundle, _, _ = _write_tls_material(tmp_path)  # a different CA: the server's certificate is untrusted

    def behave(conn: socket.socket) -> None:
        conn.settimeout(5)
        with contextlib.suppress(ssl.SSLError):  # the client aborts the handshake
            context.wrap_socket(conn, server_side=True)

    error = connect_error(server(behave).port, other_bundle)
    assert "TLS verification of the CA" in error.message and TRUST in error.message, error.message
