"""Finding the site a certificate's single-site deployment was set to, again, at each deployment.

The stored value is the site's id (server, host names, ports; see deploy.base.site_id), so a comment
added above the block or a block moved to another file is still the same site, and a renamed one is
not. Older versions stored "<file>:<line>": such a value is still found by its location, with a
warning to choose the site again. Either way the site found must serve only names the certificate
covers, or the deployment is refused (the certificate stays issued).
"""

from __future__ import annotations

from collections.abc import Iterable

from certify_tui.deploy.base import DeploymentFailed, Site
from certify_tui.deploy.sites import site_covered

SERVERS = ("nginx", "apache")


def is_location(stored: str) -> bool:
    """True for a "<file>:<line>" value written by older versions."""
    return not stored.startswith(tuple(f"{s}:" for s in SERVERS)) and stored.rpartition(":")[2].isdigit()


def parse_id(stored: str) -> tuple[str, frozenset[str], frozenset[int]] | None:
    """(server, host names, ports) of a site id; None when it is not one."""
    server, sep, rest = stored.partition(":")
    names, at, ports = rest.split("~")[0].rpartition("@")
    if not sep or server not in SERVERS or not at:
        return None
    try:
        port_set = frozenset(int(p) for p in ports.split(",") if p)
    except ValueError:
        return None
    return server, frozenset(n for n in names.split(",") if n and n != "_"), port_set


def describe_id(stored: str) -> str:
    """"the nginx site a.example.test (port 443)" for messages."""
    parsed = parse_id(stored)
    if parsed is None:
        return f"the site {stored}"
    server, names, ports = parsed
    label = "port" if len(ports) == 1 else "ports"
    return (f"the {server} site {', '.join(sorted(names)) or '(no name)'} "
            f"({label} {', '.join(str(p) for p in sorted(ports))})")


def find_chosen_site(stored: str, sites: Iterable[Site], identifiers: Iterable[str]) -> tuple[Site, list[str]]:
    """The site `stored` names among `sites`, and warnings; DeploymentFailed saying what changed when it
    is gone or serves a name the certificate does not cover."""
    sites = list(sites)
    warnings: list[str] = []
    if is_location(stored):
        site = next((s for s in sites if s.location == stored), None)
        if site is None:
            raise DeploymentFailed(f"The site at {stored} was not found in the web server configuration any "
                                   "more; choose the site again (certify-tui sites lists them).")
        warnings.append(f"the single site is stored by its place ({stored}), which changes when the file does; "
                        f"choose it again to keep it by what it is: {site.id}")
    else:
        site = _by_id(stored, sites)
    verdict = site_covered(identifiers, site)
    if verdict is not True:
        raise DeploymentFailed(f"The {site.server} site at {site.location} serves "
                               f"{', '.join(site.hostnames) or 'no name'}, which this certificate does not "
                               f"{'fully ' if verdict is False else ''}cover; nothing was changed: choose the "
                               "site again or change the certificate's names.")
    return site, warnings


def resolve_stored(stored: str, sites: Iterable[Site]) -> Site | None:
    """The site a stored value names now (by id, or by place for an old "<file>:<line>"), None when gone;
    for faces showing the choice (no coverage check)."""
    sites = list(sites)
    if is_location(stored):
        return next((s for s in sites if s.location == stored), None)
    try:
        return _by_id(stored, sites)
    except DeploymentFailed:
        return None


def _by_id(stored: str, sites: list[Site]) -> Site:
    exact = next((s for s in sites if s.id == stored), None)
    if exact is not None:
        return exact
    parsed = parse_id(stored)
    if parsed is None:
        raise DeploymentFailed(f"The stored site '{stored}' is not a site id; choose the site again.")
    server, names, ports = parsed
    same_names = [s for s in sites if s.server == server and frozenset(s.hostnames) == names]
    grown = [s for s in same_names if ports <= frozenset(s.ports)]  # e.g. a TLS listener was added
    if len(grown) == 1:
        return grown[0]
    what = describe_id(stored)
    if same_names:
        now = "; ".join(f"{s.location} listens on {', '.join(map(str, s.ports))}" for s in same_names)
        raise DeploymentFailed(f"{what[0].upper()}{what[1:]} is not in the web server configuration any more: "
                               f"its ports changed ({now}); choose the site again.")
    related = [s for s in sites if s.server == server and names & frozenset(s.hostnames)]
    now = "".join(f"; {s.location} now serves {', '.join(s.hostnames)}" for s in related)
    raise DeploymentFailed(f"{what[0].upper()}{what[1:]} is not in the web server configuration any more "
                           f"(no {server} site serves exactly these names{now}); nothing was changed: choose "
                           "the site again (certify-tui sites lists them).")
