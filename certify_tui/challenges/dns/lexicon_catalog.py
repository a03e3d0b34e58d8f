"""Which dns-lexicon providers exist, and what to call them: found without importing lexicon.

Listing the providers reads one folder (lexicon/_private/providers); titles come from TITLES or the module's
docstring, read as text. Importing lexicon pulls in tldextract, dnspython's resolver, requests and ~90
modules (about 0.2 s), so nothing here does.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import re
from pathlib import Path

# Not offered: `auto` picks a provider by looking up the zone's NS records (an nslookup subprocess,
# through the system resolver) and needs every other provider's options; choosing the provider here
# does the same job without the lookups.
EXCLUDED = frozenset({"auto", "base"})

# Display names where the module's docstring does not give one.
TITLES = {
    "aliyun": "Alibaba Cloud DNS (aliyun)", "digitalocean": "DigitalOcean", "dnsimple": "DNSimple",
    "duckdns": "Duck DNS", "exoscale": "Exoscale", "godaddy": "GoDaddy", "henet": "Hurricane Electric (he.net)",
    "hostingde": "Hosting.de", "httpnet": "http.net", "localzone": "Local zone file", "luadns": "LuaDNS",
    "memset": "Memset", "nfsn": "NearlyFreeSpeech.NET", "rage4": "Rage4", "safedns": "UKFast SafeDNS",
    "azure": "Azure DNS", "constellix": "Constellix", "gandi": "Gandi", "googleclouddns": "Google Cloud DNS",
    "gransy": "Gransy (subreg.cz)", "infoblox": "Infoblox", "internetbs": "Internet.bs", "ionos": "IONOS",
    "linode4": "Linode (linode4)", "oci": "Oracle Cloud Infrastructure DNS", "porkbun": "Porkbun",
    "qcloud": "Tencent Cloud DNSPod (qcloud)", "rackspace": "Rackspace Cloud DNS", "route53": "AWS Route 53",
    "valuedomain": "Value Domain", "wedos": "WEDOS", "zeit": "Vercel (zeit)", "zilore": "Zilore",
}


@functools.cache
def _providers_dir() -> Path | None:
    """lexicon/_private/providers, found without importing lexicon."""
    try:
        spec = importlib.util.find_spec("lexicon")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "_private" / "providers"
        if candidate.is_dir():
            return candidate
    return None


@functools.cache
def provider_names() -> tuple[str, ...]:
    """Every lexicon provider offered here (module names: 'cloudflare', 'powerdns', ...)."""
    folder = _providers_dir()
    if folder is None:
        return ()
    names = {entry.name[:-3] for entry in folder.iterdir()
             if entry.name.endswith(".py") and not entry.name.startswith("_")}
    return tuple(sorted(names - EXCLUDED))


@functools.cache
def _extras() -> dict[str, tuple[str, ...]]:
    """pip extra of dns-lexicon -> the distributions it adds."""
    try:
        requires = importlib.metadata.distribution("dns-lexicon").requires or []
    except importlib.metadata.PackageNotFoundError:
        return {}
    found: dict[str, list[str]] = {}
    for line in requires:
        match = re.match(r"^\s*([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?[^;]*;.*\bextra\s*==\s*['\"]([^'\"]+)['\"]", line)
        if match:
            found.setdefault(match.group(2), []).append(match.group(1))
    return {extra: tuple(dists) for extra, dists in found.items()}


@functools.cache
def missing_extra(name: str) -> str | None:
    """The pip command that installs what lexicon's `name` provider still needs, or None."""
    for dist in _extras().get(name, ()):
        try:
            importlib.metadata.distribution(dist)
        except importlib.metadata.PackageNotFoundError:
            return f"pip install 'dns-lexicon[{name}]'"
    return None


@functools.cache
def _docstring_title(name: str) -> str | None:
    folder = _providers_dir()
    try:
        head = (folder / f"{name}.py").read_text(encoding="utf-8", errors="replace")[:600] if folder else ""
    except OSError:
        return None
    match = re.match(r'\s*(?:#[^\n]*\n\s*)*[rRuU]?"""\s*([^\n]*?)\s*(?:"""|\n)', head)
    if not match:
        return None
    first = match.group(1).strip().rstrip(".")
    for pattern in (r"^(?:Module provider|Provider module) for (.+?)(?: hosts)?$", r"^Lexicon (.+?) Provider$",
                    r"^(.+?) provider implementation$"):
        if m := re.match(pattern, first, re.IGNORECASE):
            return m.group(1).strip()
    return None


@functools.cache
def display_name(name: str) -> str:
    return TITLES.get(name) or _docstring_title(name) or name.capitalize()

