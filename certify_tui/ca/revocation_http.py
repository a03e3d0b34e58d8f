"""What an OCSP responder or a CRL says about one certificate, and the bounded HTTP both are fetched with.

Revocation sources are third-party servers polled in the background: every fetch has a total time limit and a
size cap, so a slow or hostile server can neither hold the daily check nor fill memory.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

import requests
import urllib3
from cryptography import x509

from certify_tui.ca.network import USER_AGENT
from certify_tui.errors import OperationError

FETCH_TIMEOUT = 10.0  # seconds for one whole request, connection to last byte
OCSP_MAX_BYTES = 64 * 1024  # an OCSP response is a few KB
CRL_MAX_BYTES = 20 * 1024 * 1024  # large public CRLs are some MB; sharded ones far less

Status = Literal["good", "revoked", "unknown"]


@dataclass(frozen=True)
class RevocationAnswer:
    status: Status
    via: Literal["ocsp", "crl"]
    url: str
    reason: str | None = None  # RFC 5280 reason name (lifecycle.revoked.REASONS) when revoked
    revoked_at: datetime | None = None


def http_urls(names: Iterable[x509.GeneralName]) -> list[str]:
    """The http(s) URIs among `names` (LDAP and other schemes are not fetched)."""
    return [name.value for name in names if isinstance(name, x509.UniformResourceIdentifier)
            and urlsplit(name.value).scheme.lower() in ("http", "https")]


def fetch(url: str, *, max_bytes: int, body: bytes | None = None, content_type: str | None = None,
          timeout: float = FETCH_TIMEOUT) -> bytes:
    """GET `url` (POST `body` when given) and return at most `max_bytes`; OperationError (one line) for an
    unreachable server, an HTTP error, a body over the cap or a transfer slower than `timeout` in total."""
    deadline = time.monotonic() + timeout
    # identity: a compressed body could expand past the cap after it was counted
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if content_type:
        headers["Content-Type"] = content_type
    try:
        with requests.request("POST" if body is not None else "GET", url, data=body, headers=headers,
                              timeout=timeout, stream=True, allow_redirects=True) as response:
            if response.status_code != 200:
                raise OperationError(f"{url} answered HTTP {response.status_code}.")
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise OperationError(f"{url} sent {declared} bytes, more than the {max_bytes} allowed.")
            return _read(url, response, max_bytes, deadline, timeout)
    except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:  # urllib3's: from raw.read1
        raise OperationError(f"{url} could not be reached: {_reason(exc)}.", detail=repr(exc)) from exc


def _read(url: str, response: requests.Response, max_bytes: int, deadline: float, timeout: float) -> bytes:
    """The body, up to `max_bytes`, stopped at `deadline`. read1 returns after one socket read, so a server
    trickling bytes is cut off at the deadline (plus one read timeout); urllib3 before 2.3 lacks it and reads
    in small chunks instead."""
    read1 = getattr(response.raw, "read1", None)
    chunks = iter(lambda: read1(16384), b"") if read1 is not None else response.iter_content(chunk_size=4096)
    received: list[bytes] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > max_bytes:
            raise OperationError(f"{url} sent more than the {max_bytes} bytes allowed.")
        if time.monotonic() > deadline:
            raise OperationError(f"{url} took longer than {timeout:.0f} s.")
        received.append(chunk)
    return b"".join(received)


def _reason(exc: requests.RequestException | urllib3.exceptions.HTTPError) -> str:
    if isinstance(exc, requests.Timeout | urllib3.exceptions.TimeoutError):
        return "timed out"
    if isinstance(exc, requests.ConnectionError | urllib3.exceptions.ProtocolError):
        return "connection failed"
    return type(exc).__name__
