"""The `listen` directives the add-or-update deployment binding adds to an nginx site that serves plain
HTTP only: on the addresses it already listens on (a site bound to 127.0.0.1 stays bound there), else the
usual IPv4 + IPv6 pair. The certificate directives are added by the code that updates TLS sites.
(Apache gets a second <VirtualHost>: see apache.add_tls_vhost.)
"""

from __future__ import annotations

_ANY = ("", "*", "0.0.0.0")


def nginx_listens(listens: list[list[str]], port: int) -> list[str]:
    """The `listen` arguments to add, from the block's current `listen` arguments."""
    addresses: list[str] = []
    for args in listens:
        host = _listen_host(args[0]) if args else ""
        if host is None:
            continue  # a unix socket: no TLS twin
        address = f"{port}" if host in _ANY else f"[::]:{port}" if host == "[::]" else f"{host}:{port}"
        if address not in addresses:
            addresses.append(address)
    if not addresses or addresses == [str(port)]:
        addresses = [str(port), f"[::]:{port}"]
    return [f"{address} ssl" for address in addresses]


def _listen_host(address: str) -> str | None:
    """The host part of a listen address ("" for a bare port), None for a unix socket."""
    if address.startswith("unix:"):
        return None
    if address.isdigit():
        return ""
    if address.startswith("["):
        return address.partition("]")[0] + "]"
    host, sep, port = address.rpartition(":")
    if sep and port.isdigit():
        return host
    return address  # a host name or address without a port
