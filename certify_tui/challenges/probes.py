"""The probes providers run for `cert test`: publish a random answer through the provider, check it the way
the CA will, remove it. Imported by a provider's `probe()` only, so listing providers never loads this.

- http-01: the probe file is fetched back over http://<name>/.well-known/acme-challenge/<token>, following
  redirects the way a CA does;
- tls-alpn-01: a probe certificate is fetched back with an `acme-tls/1` handshake.
(dns-01 providers share theirs in dns/probe.py.)
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import secrets
import socket
import ssl
from collections.abc import Callable
from urllib.parse import urlsplit

from cryptography import x509

from certify_tui.challenges.base import ChallengeProvider, ChallengeTask
from certify_tui.challenges.probing import Check, LookupFailed, ProbeContext, check_names
from certify_tui.errors import CertifyError

# Where the CA fetches http-01 answers; a standalone listener on another port is probed on its own port.
HTTP_PORT = 80
TIMEOUT = 10.0

# (name, port, HTTP status or None) -> what to do when the probe is not fetched back.
Remedy = Callable[[str, int, int | None], str]


# -- http-01 -----------------------------------------------------------------------------------------
def http_probe(provider: ChallengeProvider, names: list[str], context: ProbeContext, *, port: int,
               remedy: Remedy) -> list[Check]:
    """Publish a probe file through `provider`, fetch it from each name on `port`, remove it."""
    token = secrets.token_urlsafe(32)
    body = f"{token}.certify-tui-probe"
    labels = check_names("http-01", provider.id, names)
    tasks = [ChallengeTask(n, n, "http-01", token, body, body) for n in names]
    try:
        provider.prepare(tasks, context.log)
    except CertifyError as exc:
        return [Check(labels[n], False, f"could not publish the probe: {exc.message}", remedy(n, port, None))
                for n in names]
    try:
        results = []
        for name in names:
            url = f"http://{name}{'' if port == 80 else f':{port}'}/.well-known/acme-challenge/{token}"
            results.append(_fetch_probe(labels[name], name, url, body, port, remedy, context))
        return results
    finally:
        with contextlib.suppress(Exception):
            provider.cleanup(tasks, context.log)


def _fetch_probe(label: str, name: str, url: str, body: str, port: int, remedy: Remedy,
                 context: ProbeContext) -> Check:
    addresses = context.addresses(name)
    if not addresses:
        return Check(label, None, "skipped: the name does not resolve")
    try:
        status, content, final = fetch(url, addresses, context.resolve)
    except (OSError, LookupFailed) as exc:
        return Check(label, False, f"{url}: {getattr(exc, 'strerror', None) or exc}",
                     f"Make sure port {port} is open in the firewall and forwarded to this server, and "
                     f"that {name} points at it.")
    where = url if final == url else f"{url} (redirected to {final})"
    if status == 200 and content.strip() == body.encode():
        return Check(label, True, f"probe fetched from {where}")
    if status == 200:
        return Check(label, False, f"{where} answered 200 but not with the probe",
                     "Another server answers for this name: point the name at this server, or make the "
                     "web server serve /.well-known/acme-challenge/ from the configured webroot.")
    return Check(label, False, f"{where} answered HTTP {status}", remedy(name, port, status))


def fetch(url: str, addresses: list[str], resolve: Callable[[str], list[str]],
          redirects: int = 5) -> tuple[int, bytes, str]:
    """(status, body, final URL) of GET url, connecting to `addresses` (the name's, as resolved by the test)."""
    for _ in range(redirects + 1):
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        status, body, location = _get_once(parts.scheme, host, port, parts.path or "/", addresses)
        if status not in (301, 302, 303, 307, 308) or not location:
            return status, body, url
        nxt = urlsplit(location if "://" in location else f"{parts.scheme}://{parts.netloc}{location}")
        if nxt.hostname != host:
            addresses = resolve(nxt.hostname or "")
        url = nxt.geturl()
    raise OSError(f"too many redirects (last: {url})")


def _get_once(scheme: str, host: str, port: int, path: str, addresses: list[str]) -> tuple[int, bytes, str]:
    error: OSError = OSError(f"{host} has no address")
    for address in addresses:
        if scheme == "https":
            # A CA follows redirects to https without checking the certificate.
            ctx = ssl.create_default_context()
            ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
            conn: http.client.HTTPConnection = _HTTPSTo(address, host, port, ctx)
        else:
            conn = http.client.HTTPConnection(address, port, timeout=TIMEOUT)
        try:
            conn.putrequest("GET", path, skip_host=True)
            conn.putheader("Host", host if port in (80, 443) else f"{host}:{port}")
            conn.putheader("User-Agent", "certify-tui reachability test")
            conn.endheaders()
            response = conn.getresponse()
            return response.status, response.read(65536), response.getheader("Location") or ""
        except OSError as exc:
            error = exc
        finally:
            conn.close()
    raise error


class _HTTPSTo(http.client.HTTPSConnection):
    """HTTPS to a given address, with SNI for the name."""

    def __init__(self, address: str, host: str, port: int, ctx: ssl.SSLContext) -> None:
        super().__init__(address, port, timeout=TIMEOUT, context=ctx)
        self._sni = host
        self._tls = ctx

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self._sni)


# -- tls-alpn-01 ----------------------------------------------------------------------------------
def alpn_probe(provider: ChallengeProvider, names: list[str], context: ProbeContext, *, port: int) -> list[Check]:
    """Publish a probe certificate through `provider`, fetch it from each name with acme-tls/1, remove it."""
    labels = check_names("tls-alpn-01", provider.id, names)
    probe = f"{secrets.token_urlsafe(32)}.certify-tui-probe"
    tasks = [ChallengeTask(n, n, "tls-alpn-01", "probe", probe, probe) for n in names]
    try:
        provider.prepare(tasks, context.log)
    except CertifyError as exc:
        return [Check(labels[n], False, f"could not publish the probe: {exc.message}", "") for n in names]
    try:
        return [_alpn_check(labels[n], n, port, probe, context) for n in names]
    finally:
        with contextlib.suppress(Exception):
            provider.cleanup(tasks, context.log)


def _alpn_check(label: str, name: str, port: int, probe: str, context: ProbeContext) -> Check:
    addresses = context.addresses(name)
    if not addresses:
        return Check(label, None, "skipped: the name does not resolve")
    remedy = (f"Make sure port {port} is open and forwarded to this server, that {name} points at it, "
              "and that no proxy terminates TLS in front of it.")
    try:
        digest = alpn_digest(name, addresses[0], port)
    except (OSError, ssl.SSLError) as exc:
        return Check(label, False, f"acme-tls/1 handshake with {name}:{port} failed: {exc}", remedy)
    if digest == hashlib.sha256(probe.encode()).digest():
        return Check(label, True, f"probe certificate served on {name}:{port}")
    return Check(label, False, f"{name}:{port} answered acme-tls/1 with another certificate", remedy)


def alpn_digest(name: str, address: str, port: int) -> bytes | None:
    """The acmeIdentifier digest in the certificate served to an acme-tls/1 handshake for `name`."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    ctx.set_alpn_protocols(["acme-tls/1"])
    with socket.create_connection((address, port), timeout=TIMEOUT) as sock, \
            ctx.wrap_socket(sock, server_hostname=name) as tls:
        der = tls.getpeercert(binary_form=True)
    if not der:
        return None
    cert = x509.load_der_x509_certificate(der)
    try:
        ext = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier("1.3.6.1.5.5.7.1.31"))
    except x509.ExtensionNotFound:
        return None
    value = getattr(ext.value, "value", b"")
    return value[2:] if value[:2] == b"\x04\x20" else None
