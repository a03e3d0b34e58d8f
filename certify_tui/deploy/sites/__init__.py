"""Web server sites: nginx server blocks and Apache virtual hosts found in their configurations.

`discover_sites` reads the given main configuration files (or finds the installed servers' own),
follows their includes and returns one `Site` per block. `match_sites` decides which sites a
certificate may be deployed to: a TLS site whose every host name the certificate covers, so a
deployment never makes a server present a certificate that lacks one of the names it serves.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, replace

from certify_tui.deploy.base import Site
from certify_tui.deploy.sites import apache, nginx
from certify_tui.deploy.sites.nginx import ConfigError
from certify_tui.deploy.sites.nginx_process import running_configs
from certify_tui.errors import UsageError
from certify_tui.identifiers import covers

__all__ = ["ConfigError", "Selection", "discover_sites", "match_sites", "select_sites", "site_covered",
           "sites_for"]

DISABLED = ("off", "none")  # a setting value that turns discovery of that server off


def discover_sites(nginx_config: str | None = None, apache_config: str | None = None, *,
                   nginx_binary: str = "nginx", apache_server_root: str | None = None,
                   proc_root: str = "/proc") -> list[Site]:
    """Sites from the given main configuration files; for a server whose file is not given, from the
    installed server's own configuration (`nginx -V`, `apachectl -V`, the usual paths), if any, and
    for nginx also from every running master's `-c FILE` (read from `proc_root`, Linux only).

    A given file that does not exist is a UsageError; an unreadable or malformed one a ConfigError
    naming the file and line. "off" skips that server."""
    found: list[Site] = []
    if nginx_config and nginx_config.lower() in DISABLED:
        pass
    elif nginx_config:
        found += nginx.sites(_existing(nginx_config, "nginx"))
    else:
        for main, prefix in _nginx_configs(nginx_binary, proc_root):
            found += [replace(site, prefix=prefix) for site in nginx.sites(main)] if prefix else nginx.sites(main)
    if apache_config and apache_config.lower() in DISABLED:
        pass
    elif apache_config:
        found += apache.sites(_existing(apache_config, "Apache"), apache_server_root)
    else:
        conf, root = apache.find_config()
        if conf:
            found += apache.sites(conf, apache_server_root or root)
    return unique_ids(found)


def unique_ids(sites: list[Site]) -> list[Site]:
    """Blocks with the same server, names and ports (one per listen address, in two files...) get
    "~2", "~3" after the first, in configuration order, so every site has its own id."""
    seen: dict[str, int] = {}
    result = []
    for site in sites:
        seen[site.id] = seen.get(site.id, 0) + 1
        result.append(site if seen[site.id] == 1 else replace(site, id=f"{site.id}~{seen[site.id]}"))
    return result


def _nginx_configs(binary: str, proc_root: str) -> list[tuple[str, str]]:
    """(file, prefix) of the installed nginx's own file, then those running masters were started with; each
    file once. The prefix is a running master's `-p` ("" if none): its relative `pid` and `error_log` paths
    depend on it, so `nginx -t` and the reload must be given it too."""
    conf, _prefix = nginx.find_config(binary)
    candidates: list[tuple[str, str | None]] = [(conf, None)] if conf else []
    candidates += running_configs(proc_root)
    configs: dict[str, tuple[str, str]] = {}  # the real file -> (the path as named (site ids keep it), prefix)
    for candidate, prefix in candidates:
        real = os.path.realpath(candidate)
        if not os.path.isfile(real):
            continue
        named, known = configs.get(real, (candidate, ""))
        configs[real] = (named, known or prefix or "")
    return list(configs.values())


def _existing(path: str, server: str) -> str:
    full = os.path.abspath(os.path.expanduser(path))
    if not os.path.isfile(full):
        raise UsageError(f"The {server} configuration file {path} does not exist.")
    return full


def _covered(identifiers: Iterable[str], hostname: str) -> bool:
    for identifier in identifiers:
        try:
            if covers(identifier, hostname):
                return True
        except UsageError:  # a regex or `www.example.*` server name: no certificate covers it
            continue
    return False


def site_covered(identifiers: Iterable[str], site: Site) -> bool | None:
    """True: every host name covered; False: only some; None: none (or the site has no names)."""
    identifiers = list(identifiers)
    hits = [_covered(identifiers, name) for name in site.hostnames]
    if not any(hits):
        return None
    return all(hits)


def match_sites(identifiers: Iterable[str], sites: Iterable[Site]) -> tuple[list[Site], list[Site]]:
    """(covered, partial) among the TLS sites: covered when the certificate covers every host name of
    the site, partial when it covers some but not all (left alone, shown as a warning).

    Sites without a TLS listener are never targets: a plain-HTTP block for the same names (the usual
    redirect to https) is not an error, and no listener is ever invented."""
    identifiers = list(identifiers)
    covered: list[Site] = []
    partial: list[Site] = []
    for site in sites:
        if not site.tls:
            continue
        verdict = site_covered(identifiers, site)
        if verdict is True:
            covered.append(site)
        elif verdict is False:
            partial.append(site)
    return covered, partial


@dataclass(frozen=True)
class Selection:
    """What an Auto deployment does with each discovered site that has any of the certificate's names."""

    update: tuple[Site, ...] = ()  # TLS sites pointed at the certificate
    add_tls: tuple[Site, ...] = ()  # HTTP-only sites given a TLS listener (add-or-update)
    partial: tuple[Site, ...] = ()  # TLS sites only partly covered (a warning: left alone)
    skipped: tuple[tuple[Site, str], ...] = ()  # other sites left alone, each with the reason

    @property
    def sites(self) -> tuple[Site, ...]:
        return self.update + self.add_tls


def select_sites(identifiers: Iterable[str], sites: Iterable[Site], binding: str = "update") -> Selection:
    """The Auto mode's choice: covered TLS sites are updated; a covered HTTP-only site gets a TLS listener
    with the "add-or-update" binding, unless a TLS site already serves its names (the usual redirect
    block on port 80 stays as it is); every other site with one of the names is listed with the reason."""
    identifiers = list(identifiers)
    sites = list(sites)
    covered, partial = match_sites(identifiers, sites)
    add: list[Site] = []
    skipped: list[tuple[Site, str]] = []
    for site in sites:
        if site.tls:
            continue
        verdict = site_covered(identifiers, site)
        if verdict is None:
            continue
        if verdict is False:
            skipped.append((site, "it is only partly covered by this certificate"))
            continue
        twin = next((t for t in (*covered, *partial) if t.server == site.server
                     and set(site.hostnames) <= set(t.hostnames)), None)
        if twin is not None:
            skipped.append((site, f"it has no TLS listener, and {twin.location} already serves its names "
                                  "with TLS"))
        elif binding == "add-or-update":
            add.append(site)
        else:
            skipped.append((site, "it has no TLS listener (the 'add-or-update' deployment binding would add "
                                  "one)"))
    return Selection(tuple(covered), tuple(add), tuple(partial), tuple(skipped))


def sites_for(identifiers: Iterable[str], sites: Iterable[Site]) -> list[Site]:
    """The sites an Auto deployment of a certificate for `identifiers` changes."""
    return match_sites(identifiers, sites)[0]
