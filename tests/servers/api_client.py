"""Raw-socket clients for the local API of a real `certify-tui service` process.

Raw sockets rather than requests, so a test controls exactly which bytes were sent when an answer came
(headers only, no body byte yet) and can hold hundreds of idle or slowloris connections open.
Shared by tests/integration/test_api_transport.py and benchmarks/api_under_idle_connections.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CLI = Path(sys.executable).with_name("certify-tui")


@dataclass
class Service:
    """A `certify-tui service` process and where its API listens."""

    proc: subprocess.Popen[bytes]
    data_dir: Path
    port: int
    token: str
    log: Path

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def start_service(data_dir: Path, port: int, *, env: dict[str, str] | None = None, timeout: float = 30) -> Service:
    """Start `certify-tui --data-dir D service --port P`; return once its service.json names the port."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    log = data_dir.parent / f"service-{port}.log"
    full_env = {k: v for k, v in os.environ.items() if k != "CERTIFY_TUI_DATA_DIR"} | (env or {})
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(CLI), "--data-dir", str(data_dir), "service", "--port", str(port)],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=full_env)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the service exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            info = json.loads((data_dir / "service.json").read_text())
            token = (data_dir / "api-token").read_text().strip()
        except (OSError, ValueError):
            time.sleep(0.05)
            continue
        if info.get("port") == port and token:
            return Service(proc, data_dir, port, token, log)
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    raise RuntimeError(f"the service did not announce port {port} within {timeout} s: {log.read_text()[-2000:]}")


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body)


def request_bytes(method: str, path: str, port: int, *, host: str | None = None, token: str | None = None,
                  headers: dict[str, str] | None = None) -> bytes:
    """A request head (no body): Host defaults to 127.0.0.1:port; host="" leaves Host out."""
    lines = [f"{method} {path} HTTP/1.1"]
    host = f"127.0.0.1:{port}" if host is None else host
    if host:
        lines.append(f"Host: {host}")
    if token:
        lines.append(f"Authorization: Bearer {token}")
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def read_response(sock: socket.socket, timeout: float) -> RawResponse:
    """One HTTP/1.1 response (Content-Length framed, or until the server closes)."""
    started = time.monotonic()
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a complete response head: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "-1"))
    while length < 0 or len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return RawResponse(int(status_line.split()[1]), headers, body, time.monotonic() - started)


def exchange(port: int, raw: bytes, timeout: float = 10) -> RawResponse:
    """Send `raw` on a new connection and read one response."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(raw)
        return read_response(sock, timeout)


def raise_fd_limit(wanted: int) -> int:
    """Raise this process's soft open-file limit towards `wanted` (POSIX); the limit now in force."""
    try:
        import resource
    except ImportError:  # Windows: no per-process soft limit to raise
        return wanted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


@dataclass
class Flood:
    """Holds `count` connections open to a port: half idle (connected, silent), half slowloris (a request
    head that never ends, one header line every `drip` seconds). Like an attacker, it reconnects any
    connection the server closes, so `count` stay open; `reopened` counts how many the server dropped.
    """

    port: int
    count: int = 500
    drip: float = 1.0
    reopened_idle: int = 0  # connections the server closed, by kind
    reopened_slow: int = 0
    _idle: list[socket.socket] = field(default_factory=list)
    _slow: list[socket.socket] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _connect(self, slow: bool) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        sock.setblocking(False)
        if slow:
            sock.send(f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n".encode())
        return sock

    def __enter__(self) -> Flood:
        raise_fd_limit(self.count * 2 + 256)
        for i in range(self.count):
            (self._slow if i % 2 else self._idle).append(self._connect(slow=bool(i % 2)))
        self._thread = threading.Thread(target=self._hold, name="flood", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        for sock in self._idle + self._slow:
            sock.close()

    @property
    def reopened(self) -> int:
        return self.reopened_idle + self.reopened_slow

    def open_now(self) -> int:
        return len(self._idle) + len(self._slow)

    def _hold(self) -> None:
        with selectors.DefaultSelector() as sel:
            for group in (self._idle, self._slow):
                for i, sock in enumerate(group):
                    sel.register(sock, selectors.EVENT_READ, (group, i))
            while not self._stop.wait(self.drip):
                # Readable means answered (the server gave up on it) or closed: reopen it.
                for key, _ in sel.select(0):
                    group, i = key.data
                    sel.unregister(key.fileobj)
                    key.fileobj.close()
                    replacement = self._reconnect(group is self._slow)
                    if replacement is None:
                        return
                    group[i] = replacement
                    sel.register(replacement, selectors.EVENT_READ, (group, i))
                    if group is self._slow:
                        self.reopened_slow += 1
                    else:
                        self.reopened_idle += 1
                for sock in self._slow:
                    with contextlib.suppress(OSError):  # closed by the server: the next select() sees it
                        sock.send(b"X-Slow: 1\r\n")

    def _reconnect(self, slow: bool) -> socket.socket | None:
        while not self._stop.is_set():
            try:
                return self._connect(slow)
            except OSError:
                self._stop.wait(0.05)
        return None
