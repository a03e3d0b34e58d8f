"""tls-alpn-01 (RFC 8737) through a built-in TLS listener on port 443.

Like the http-01 listener, one socket per address and port is shared by every order in flight:
each registers a validation certificate per name and releases it; the socket closes when the last
order leaves. The listener speaks only `acme-tls/1`: a ClientHello that does not offer it is
refused with a `no_application_protocol` alert before any certificate is sent, the certificate is
chosen by SNI, and the connection is closed right after the handshake.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import os
import selectors
import socket
import ssl
import tempfile
import threading
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from certify_tui.challenges.base import ChallengeProvider, ChallengeTask
from certify_tui.challenges.probing import Check, Listener, ProbeContext
from certify_tui.errors import OperationError
from certify_tui.plugins import Param, StepLogger

ALPN_PROTOCOL = "acme-tls/1"
ACME_IDENTIFIER_OID = x509.ObjectIdentifier("1.3.6.1.5.5.7.1.31")
HANDSHAKE_TIMEOUT = 10.0
# A TLS record header plus the largest plaintext record: a ClientHello fits in one.
_MAX_RECORD = 5 + 16384
# A fatal alert record: level 2 (fatal), description 120 (no_application_protocol).
_NO_APPLICATION_PROTOCOL = bytes([21, 3, 3, 0, 2, 2, 120])




def validation_certificate(domain: str, key_authorization: str,
                           key: ec.EllipticCurvePrivateKey | None = None) -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM): self-signed for `domain`, with the critical acmeIdentifier extension."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    digest = hashlib.sha256(key_authorization.encode()).digest()
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "certify-tui tls-alpn-01")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(domain)]), critical=False)
        # The extension's value is the DER OCTET STRING holding the SHA-256 digest (RFC 8737 section 3).
        .add_extension(x509.UnrecognizedExtension(ACME_IDENTIFIER_OID, b"\x04\x20" + digest), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _context_for(cert_pem: bytes, key_pem: bytes) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2  # RFC 8737: TLS 1.2 or later
    ctx.set_alpn_protocols([ALPN_PROTOCOL])
    fd, path = tempfile.mkstemp(prefix="certify-alpn-", suffix=".pem")  # 0600; the stdlib loads only files
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(key_pem + cert_pem)
        ctx.load_cert_chain(path)
    finally:
        with contextlib.suppress(OSError):
            os.remove(path)
    return ctx


def client_alpn(hello: bytes) -> list[str] | None:
    """ALPN protocols a ClientHello record offers ([] for none), or None if it cannot be read."""
    try:
        if len(hello) < 5 or hello[0] != 22:  # handshake record
            return None
        body = hello[5:5 + int.from_bytes(hello[3:5], "big")]
        if body[0] != 1:  # client_hello
            return None
        end = 4 + int.from_bytes(body[1:4], "big")
        if end > len(body):
            return None  # split over several records: let the handshake decide
        p = 4 + 2 + 32  # legacy version, random
        p += 1 + body[p]  # session id
        p += 2 + int.from_bytes(body[p:p + 2], "big")  # cipher suites
        p += 1 + body[p]  # compression methods
        if p + 2 > end:
            return []
        ext_end = min(end, p + 2 + int.from_bytes(body[p:p + 2], "big"))
        p += 2
        while p + 4 <= ext_end:
            ext_type = int.from_bytes(body[p:p + 2], "big")
            length = int.from_bytes(body[p + 2:p + 4], "big")
            if ext_type == 16:  # application_layer_protocol_negotiation
                q, stop, names = p + 6, p + 4 + length, []
                while q < stop:
                    size = body[q]
                    names.append(body[q + 1:q + 1 + size].decode("ascii", "replace"))
                    q += 1 + size
                return names
            p += 4 + length
        return []
    except IndexError:
        return None


class _Listener:
    def __init__(self, address: str, port: int) -> None:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind((address, port))
            self.sock.listen(128)
        except OSError as exc:
            self.sock.close()
            hint = ""
            if exc.errno == errno.EADDRINUSE:
                hint = " (is a web server already using it? stop it during validation, or use http-01 or dns-01)"
            elif exc.errno == errno.EACCES:
                hint = " (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
            raise OperationError(
                f"Cannot listen on {address}:{port} for tls-alpn-01: {exc.strerror or exc}{hint}") from exc
        self.sock.setblocking(False)
        self.key = ec.generate_private_key(ec.SECP256R1())  # one key per listener; the certificates differ
        self.contexts: dict[str, list[tuple[str, ssl.SSLContext]]] = {}  # domain -> [(key authz, context)]
        self.lock = threading.Lock()
        self.users = 0
        self.stopping = threading.Event()
        # The first context only routes by SNI: it has no certificate, so an unknown name fails the handshake.
        self.router = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.router.minimum_version = ssl.TLSVersion.TLSv1_2
        self.router.set_alpn_protocols([ALPN_PROTOCOL])
        self.router.sni_callback = self._select
        self.thread = threading.Thread(target=self._serve, name=f"tls-alpn-01 {address}:{port}", daemon=True)
        self.thread.start()

    def add(self, domain: str, key_authorization: str) -> None:
        ctx = _context_for(*validation_certificate(domain, key_authorization, self.key))
        with self.lock:
            self.contexts.setdefault(domain.lower(), []).append((key_authorization, ctx))

    def remove(self, domain: str, key_authorization: str) -> None:
        with self.lock:
            entries = self.contexts.get(domain.lower(), [])
            entries[:] = [e for e in entries if e[0] != key_authorization]
            if not entries:
                self.contexts.pop(domain.lower(), None)

    def _select(self, sslobj: ssl.SSLObject | ssl.SSLSocket, server_name: str | None,
                _ctx: ssl.SSLContext) -> int | None:
        with self.lock:
            entries = self.contexts.get((server_name or "").lower().rstrip("."))
            ctx = entries[-1][1] if entries else None
        if ctx is None:
            return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
        sslobj.context = ctx
        return None

    def _serve(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self.sock, selectors.EVENT_READ)
            while not self.stopping.is_set():
                if not selector.select(timeout=0.02):
                    continue
                try:
                    conn, _ = self.sock.accept()
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    if self.stopping.is_set():
                        return
                    continue
                threading.Thread(target=self._handle, args=(conn,), daemon=True, name="tls-alpn-01 conn").start()

    def _handle(self, conn: socket.socket) -> None:
        with contextlib.closing(conn):
            conn.setblocking(True)
            conn.settimeout(HANDSHAKE_TIMEOUT)
            try:
                offered = client_alpn(self._peek_hello(conn))
                if offered is not None and ALPN_PROTOCOL not in offered:
                    conn.sendall(_NO_APPLICATION_PROTOCOL)  # RFC 8737: acme-tls/1 only, nothing else served
                    return
                with self.router.wrap_socket(conn, server_side=True) as tls:
                    if tls.selected_alpn_protocol() != ALPN_PROTOCOL:
                        return  # the handshake is all a validator needs; close at once
            except (OSError, ssl.SSLError, ValueError):
                return  # a failed or refused handshake is the client's to report

    @staticmethod
    def _peek_hello(conn: socket.socket) -> bytes:
        deadline = time.monotonic() + HANDSHAKE_TIMEOUT
        data = b""
        while time.monotonic() < deadline:
            data = conn.recv(_MAX_RECORD, socket.MSG_PEEK)
            if not data:
                return data
            if len(data) >= 5 and len(data) >= 5 + int.from_bytes(data[3:5], "big"):
                return data
            time.sleep(0.005)  # the rest of the record is on its way
        return data

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=2)
        self.sock.close()


_listeners: dict[tuple[str, int], _Listener] = {}
_registry_lock = threading.Lock()


def publish(address: str, port: int, answers: list[tuple[str, str]]) -> None:
    """Answer tls-alpn-01 for these (domain, key authorization) pairs on address:port."""
    with _registry_lock:
        listener = _listeners.get((address, port))
        if listener is None:
            listener = _listeners[(address, port)] = _Listener(address, port)
        listener.users += 1
    try:
        for domain, key_authorization in answers:
            listener.add(domain, key_authorization)
    except Exception:
        withdraw(address, port, answers)
        raise


def withdraw(address: str, port: int, answers: list[tuple[str, str]]) -> None:
    """Stop answering for these pairs; close the listener when nobody else uses it."""
    with _registry_lock:
        listener = _listeners.get((address, port))
        if listener is None:
            return
        for domain, key_authorization in answers:
            listener.remove(domain, key_authorization)
        listener.users -= 1
        if listener.users > 0:
            return
        del _listeners[(address, port)]
    listener.close()


def is_listening(address: str, port: int) -> bool:
    with _registry_lock:
        return (address, port) in _listeners


class StandaloneTlsAlpnProvider(ChallengeProvider):
    id = "standalone"
    challenge_type = "tls-alpn-01"
    title = "Built-in TLS listener"
    description = ("Answers tls-alpn-01 from a TLS listener certify-tui starts for the duration of the order; "
                   "port 443 must be free meanwhile.")
    params = (
        Param("address", "Bind address", type="address", default="0.0.0.0",
              help="Address to listen on; '::' for IPv6, 0.0.0.0 for every IPv4 interface."),
        Param("port", "Port", type="int", default=443, minimum=1, maximum=65535,
              help="The CA connects to port 443; use another port only behind a port forward."),
    )

    def describe(self) -> str:
        return f"built-in TLS listener on {self.options['address']}:{self.options['port']}"

    @staticmethod
    def _answers(tasks: list[ChallengeTask]) -> list[tuple[str, str]]:
        return [(t.domain, t.key_authorization) for t in tasks]

    def prepare(self, tasks: list[ChallengeTask], log: StepLogger) -> None:
        address, port = self.options["address"], self.options["port"]
        publish(address, port, self._answers(tasks))
        for task in tasks:
            log.info(f"answering tls-alpn-01 on {address}:{port}", task.identifier)

    def cleanup(self, tasks: list[ChallengeTask], log: StepLogger) -> None:
        withdraw(self.options["address"], self.options["port"], self._answers(tasks))

    def listener(self) -> Listener:
        address, port = self.options["address"], self.options["port"]
        return Listener("tls-alpn-01", address, port, serving=is_listening(address, port),
                        busy_remedy="Stop a TLS server there during validation, or validate with http-01 or dns-01.")

    def probe(self, names: list[str], context: ProbeContext) -> list[Check]:
        from certify_tui.challenges import probes

        return probes.alpn_probe(self, names, context, port=self.options["port"])
