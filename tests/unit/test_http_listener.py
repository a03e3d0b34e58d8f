"""The shared http-01 listener: serves only published tokens, is shared per port, and closes when unused."""

from __future__ import annotations

import http.client
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from servers.common import free_port

from certify_tui.challenges import http_listener
from certify_tui.challenges.http_listener import CHALLENGE_PREFIX, is_listening, publish, withdraw
from certify_tui.errors import OperationError

HOST = "127.0.0.1"



@pytest.fixture(autouse=True)
def no_linger(monkeypatch: pytest.MonkeyPatch) -> None:
    """Most tests check the close on the last withdraw; the linger has its own test."""
    monkeypatch.setattr(http_listener, "LINGER_SECONDS", 0)


@pytest.fixture
def port() -> Iterator[int]:
    port = free_port()
    yield port
    # Whatever a failing test left published on this port, release it.
    while is_listening(HOST, port):
        withdraw(HOST, port, [])


def _request(port: int, path: str, method: str = "GET") -> tuple[int, bytes, dict[str, str]]:
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        return resp.status, resp.read(), {k.lower(): v for k, v in resp.getheaders()}
    finally:
        conn.close()


def _refused(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=2):
            return False
    except ConnectionRefusedError:
        return True


def test_serves_published_token(port: int) -> None:
    publish(HOST, port, {"tok1": "tok1.thumbprint", "tok2": "tok2.thumbprint"})
    try:
        status, body, headers = _request(port, CHALLENGE_PREFIX + "tok1")
        assert (status, body) == (200, b"tok1.thumbprint")
        assert headers["content-length"] == str(len(b"tok1.thumbprint"))
        assert _request(port, CHALLENGE_PREFIX + "tok2?x=1")[:2] == (200, b"tok2.thumbprint")
    finally:
        withdraw(HOST, port, ["tok1", "tok2"])


@pytest.mark.parametrize("path", [CHALLENGE_PREFIX + "unknown", "/", "/tok1", CHALLENGE_PREFIX, "/.well-known/tok1"])
def test_other_paths_are_404(port: int, path: str) -> None:
    publish(HOST, port, {"tok1": "secret-answer"})
    try:
        status, body, _ = _request(port, path)
        assert status == 404
        assert b"secret-answer" not in body
    finally:
        withdraw(HOST, port, ["tok1"])


def test_head(port: int) -> None:
    publish(HOST, port, {"tok1": "answer"})
    try:
        status, body, headers = _request(port, CHALLENGE_PREFIX + "tok1", method="HEAD")
        assert status == 200
        assert body == b""
        assert headers["content-length"] == "6"
        assert _request(port, CHALLENGE_PREFIX + "nope", method="HEAD")[0] == 404
    finally:
        withdraw(HOST, port, ["tok1"])


def test_withdrawn_token_is_404(port: int) -> None:
    publish(HOST, port, {"a": "A"})
    publish(HOST, port, {"b": "B"})
    try:
        withdraw(HOST, port, ["a"])
        assert _request(port, CHALLENGE_PREFIX + "a")[0] == 404
        assert _request(port, CHALLENGE_PREFIX + "b")[:2] == (200, b"B")
    finally:
        withdraw(HOST, port, ["b"])


def test_shared_listener_closes_after_last_withdraw(port: int) -> None:
    publish(HOST, port, {"first": "1"})
    server = http_listener._listeners[(HOST, port)].server
    publish(HOST, port, {"second": "2"})
    assert http_listener._listeners[(HOST, port)].server is server  # one listener, not two
    assert _request(port, CHALLENGE_PREFIX + "first")[:2] == (200, b"1")
    assert _request(port, CHALLENGE_PREFIX + "second")[:2] == (200, b"2")

    withdraw(HOST, port, ["first"])
    assert is_listening(HOST, port)
    assert _request(port, CHALLENGE_PREFIX + "second")[:2] == (200, b"2")

    withdraw(HOST, port, ["second"])
    assert not is_listening(HOST, port)
    assert _refused(port)
    # The listening socket is really closed: the port can be listened on again at once
    # (SO_REUSEADDR only because served connections linger in TIME_WAIT).
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((HOST, port))
        s.listen()


def test_withdraw_unknown_is_harmless(port: int) -> None:
    withdraw(HOST, port, ["never-published"])
    assert not is_listening(HOST, port)


def test_restart_after_close(port: int) -> None:
    publish(HOST, port, {"x": "1"})
    withdraw(HOST, port, ["x"])
    publish(HOST, port, {"y": "2"})
    try:
        assert _request(port, CHALLENGE_PREFIX + "y")[:2] == (200, b"2")
        assert _request(port, CHALLENGE_PREFIX + "x")[0] == 404
    finally:
        withdraw(HOST, port, ["y"])


def test_port_in_use_is_a_clear_error(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:
        other.bind((HOST, port))
        other.listen()
        with pytest.raises(OperationError, match=rf"Cannot listen on {HOST}:{port} for http-01") as info:
            publish(HOST, port, {"t": "v"})
        assert "webroot" in info.value.message
        assert info.value.exit_code == 1
    assert not is_listening(HOST, port)  # nothing half-registered


def test_many_concurrent_requests(port: int) -> None:
    tokens = {f"token{i}": f"answer{i}" for i in range(50)}
    publish(HOST, port, tokens)
    try:
        assert http_listener._listeners[(HOST, port)].server.request_queue_size >= 50
        # Open every connection before any request is sent, so they all wait in the accept backlog.
        # A dropped SYN (full backlog) costs a 1 s retransmit, so a slow connect means a too-small backlog.
        started = time.monotonic()
        socks = [socket.create_connection((HOST, port), timeout=10) for _ in range(50)]
        assert time.monotonic() - started < 0.9

        def ask(i: int) -> bytes:
            s = socks[i]
            with s:
                s.sendall(f"GET {CHALLENGE_PREFIX}token{i} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
                chunks = []
                while chunk := s.recv(4096):
                    chunks.append(chunk)
            return b"".join(chunks)

        with ThreadPoolExecutor(max_workers=50) as pool:
            replies = list(pool.map(ask, range(50)))
        for i, reply in enumerate(replies):
            assert reply.startswith(b"HTTP/1.0 200"), reply[:40]
            assert reply.endswith(f"answer{i}".encode())

        with ThreadPoolExecutor(max_workers=50) as pool:
            results = list(pool.map(lambda i: _request(port, f"{CHALLENGE_PREFIX}token{i}")[:2], range(50)))
        assert results == [(200, f"answer{i}".encode()) for i in range(50)]
    finally:
        withdraw(HOST, port, list(tokens))


def _has_ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback")
def test_ipv6_address(port: int) -> None:
    publish("::1", port, {"six": "answer6"})
    try:
        conn = http.client.HTTPConnection("::1", port, timeout=10)
        conn.request("GET", CHALLENGE_PREFIX + "six")
        resp = conn.getresponse()
        assert (resp.status, resp.read()) == (200, b"answer6")
        conn.close()
    finally:
        withdraw("::1", port, ["six"])
    assert not is_listening("::1", port)


def test_bad_address_error_has_no_port_in_use_hint(port: int) -> None:
    address = "192.0.2.1"  # TEST-NET-1: not configured on any interface, fails with EADDRNOTAVAIL (no DNS)
    with pytest.raises(OperationError, match=rf"Cannot listen on {address}:{port}") as info:
        publish(address, port, {"t": "v"})
    assert not is_listening(address, port)
    assert "already using" not in info.value.message


def test_listener_lingers_for_the_next_order_then_closes(port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http_listener, "LINGER_SECONDS", 1.5)  # long enough for a loaded CI machine
    monkeypatch.setattr(http_listener, "_batches", 1)  # as inside the worker's burst
    publish(HOST, port, {"a": "a.1"})
    first = http_listener._listeners[(HOST, port)]
    withdraw(HOST, port, ["a"])
    assert is_listening(HOST, port) and not _refused(port)  # still up for a burst of orders
    assert _request(port, CHALLENGE_PREFIX + "a")[0] == 404  # but no longer serving the old token
    publish(HOST, port, {"b": "b.1"})
    assert http_listener._listeners[(HOST, port)] is first  # the same socket was reused
    withdraw(HOST, port, ["b"])
    deadline = time.monotonic() + 10
    while not _refused(port) and time.monotonic() < deadline:  # the close runs on the timer's thread
        time.sleep(0.05)
    assert not is_listening(HOST, port) and _refused(port)


def test_close_idle_frees_the_port_at_once(port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http_listener, "LINGER_SECONDS", 30)
    with http_listener.batch():
        publish(HOST, port, {"a": "a.1"})
        withdraw(HOST, port, ["a"])
        assert not _refused(port)
    assert _refused(port)  # the end of the batch closed the idle listener


def test_outside_a_batch_the_port_is_freed_at_once(port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http_listener, "LINGER_SECONDS", 30)
    publish(HOST, port, {"a": "a.1"})
    withdraw(HOST, port, ["a"])
    assert _refused(port)
