"""Apache httpd configurations: logical lines with offsets, sections, Include globs, virtual hosts, edits.

Apache's syntax is line based: one directive per line, a trailing `\\` continues it on the next line,
`#` starts a comment only at the start of a line, arguments may be quoted ("..." or '...'), sections
are `<Name args>` ... `</Name>`, and directive names are case-insensitive. Every directive keeps the
offsets of its logical line, so an edit touches exactly that line and nothing else in the file.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from certify_tui.deploy.base import Site, site_id
from certify_tui.deploy.sites.nginx import (
    ConfigError,
    Directive,
    Edit,
    EditRefused,
    apply_edits,
    read_text,
    removal_span,
)

DEFAULT_PORT = 80
MAX_INCLUDE_DEPTH = 32
_GLOB_CHARS = re.compile(r"[*?\[]")
_INCLUDES = ("include", "includeoptional")
_CERT_DIRECTIVES = ("sslcertificatefile", "sslcertificatekeyfile", "sslcertificatechainfile")
# Places where virtual hosts are never declared for real (a macro's body is a template).
_NOT_SEARCHED = ("macro", "directory", "directorymatch", "location", "locationmatch", "files", "filesmatch")


def logical_lines(text: str) -> Iterator[tuple[int, int, int, str]]:
    """(line number, start offset, end offset, content) of each non-comment, non-blank logical line.

    `end` is where the logical line's last physical line ends (before its newline)."""
    pos, line, n = 0, 1, len(text)
    while pos < n:
        first_line, start = line, pos
        parts: list[str] = []
        while True:
            newline = text.find("\n", pos)
            stop = n if newline < 0 else newline
            physical = text[pos:stop]
            body = physical[:-1] if physical.endswith("\r") else physical
            pos = stop + 1 if newline >= 0 else n
            if body.endswith("\\") and newline >= 0:
                parts.append(body[:-1])
                line += 1
                continue
            parts.append(body)
            end = stop - (1 if physical.endswith("\r") else 0)
            break
        line += 1
        content = "".join(parts)
        stripped = content.strip()
        if stripped and not stripped.startswith("#"):
            yield first_line, start, end, content


def split_args(text: str) -> list[str]:
    """Arguments as Apache's ap_getword_conf reads them: quoted words keep their spaces."""
    args: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if c in "\"'":
            i += 1
            chars: list[str] = []
            while i < n and text[i] != c:
                if text[i] == "\\" and i + 1 < n and text[i + 1] == c:
                    i += 1
                chars.append(text[i])
                i += 1
            i += 1
            args.append("".join(chars))
        else:
            start = i
            while i < n and not text[i].isspace():
                i += 1
            args.append(text[start:i])
    return args


def parse(text: str, file: str = "<string>") -> list[Directive]:
    """The directive tree of one file, without following includes; sections have a `block`."""
    root: list[Directive] = []
    stack: list[Directive] = []
    for line, start, end, content in logical_lines(text):
        lead = len(content) - len(content.lstrip())
        body = content.strip()
        target = stack[-1].block if stack else root
        assert target is not None
        if body.startswith("</"):
            name = body[2:].rstrip(">").strip()
            if not stack or stack[-1].name.lower() != name.lower():
                expected = f"</{stack[-1].name}>" if stack else "no closing section"
                raise ConfigError(f"{file}:{line}: </{name}> does not close a section (expected {expected})")
            stack.pop().end = end
            continue
        if body.startswith("<"):
            inner = body[1:]
            if not inner.endswith(">"):
                raise ConfigError(f"{file}:{line}: section {body.split()[0]} is missing its closing '>'")
            words = split_args(inner[:-1])
            if not words:
                raise ConfigError(f"{file}:{line}: empty section")
            section = Directive(words[0], words[1:], file, line, start + lead,
                                start + lead + 1 + len(words[0]), end, block=[])
            target.append(section)
            stack.append(section)
            continue
        words = split_args(body)
        target.append(Directive(words[0], words[1:], file, line, start + lead, start + lead + len(words[0]), end))
    if stack:
        raise ConfigError(f"{file}:{stack[-1].line}: <{stack[-1].name}> is never closed")
    return root


def include_paths(pattern: str, server_root: Path) -> list[str]:
    """What `Include pattern` loads: relative to ServerRoot; globs sorted; a folder means all its files."""
    full = pattern if os.path.isabs(pattern) else str(server_root / pattern)
    candidates = sorted(glob.glob(full)) if _GLOB_CHARS.search(full) else [full]
    paths: list[str] = []
    for candidate in candidates:
        if os.path.isdir(candidate):
            for folder, dirs, names in sorted(os.walk(candidate)):
                dirs.sort()
                paths += [os.path.join(folder, name) for name in sorted(names)]
        elif os.path.isfile(candidate):
            paths.append(candidate)
    return paths


def load(main: str | os.PathLike[str], server_root: Path | None = None) -> list[Directive]:
    """The tree of `main` with every Include/IncludeOptional expanded; ServerRoot applies as it appears."""
    main = os.path.abspath(main)
    root = [server_root or Path(main).parent]
    return _load_file(main, root, (main,))


def _load_file(path: str, root: list[Path], stack: tuple[str, ...]) -> list[Directive]:
    tree = parse(read_text(path), path)
    _expand(tree, root, stack)
    return tree


def _expand(tree: list[Directive], root: list[Path], stack: tuple[str, ...]) -> None:
    for d in tree:
        lower = d.name.lower()
        if lower == "serverroot" and d.args:
            root[0] = Path(d.args[0])
        elif lower in _INCLUDES and d.args:
            for path in include_paths(d.args[0], root[0]):
                if path in stack or len(stack) > MAX_INCLUDE_DEPTH:
                    raise ConfigError(f"{d.file}:{d.line}: Include loop through {path}")
                d.included_files.append(path)
                d.included.extend(_load_file(path, root, (*stack, path)))
        elif d.block is not None:
            _expand(d.block, root, stack)


def children(block: list[Directive], *, nested: bool = False) -> Iterator[Directive]:
    """Directives of a block with includes replaced by their content; `nested`: also inside sections."""
    for d in block:
        if d.name.lower() in _INCLUDES:
            yield from children(d.included, nested=nested)
        else:
            yield d
            if nested and d.block is not None and d.name.lower() not in _NOT_SEARCHED:
                yield from children(d.block, nested=True)


def vhost_port(address: str) -> int:
    """The port of a <VirtualHost> address: `*:443`, `_default_:443`, `[2001:db8::1]:443`, `192.0.2.1`."""
    if address.startswith("["):
        _, _, rest = address.partition("]")
        return int(rest[1:]) if rest[1:].isdigit() else DEFAULT_PORT
    _, sep, port = address.rpartition(":")
    return int(port) if sep and port.isdigit() else DEFAULT_PORT


def host_name(value: str) -> str:
    """A ServerName value as a host name: `https://www.example.com:443` -> `www.example.com`."""
    name = value.strip().lower()
    if "://" in name:
        name = name.split("://", 1)[1]
    if name.startswith("["):
        return name
    return name.split(":", 1)[0].rstrip("/")


def vhost_names(block: list[Directive]) -> list[str]:
    """ServerName first (the last one wins, as in Apache), then every ServerAlias."""
    server_name: str | None = None
    aliases: list[str] = []
    for d in children(block, nested=True):
        lower = d.name.lower()
        if lower == "servername" and d.args:
            server_name = host_name(d.args[0])
        elif lower == "serveralias":
            aliases += [host_name(a) for a in d.args]
    return [n for n in dict.fromkeys([server_name or "", *aliases]) if n]


def _is_tls(block: list[Directive]) -> bool:
    return any(d.name.lower() == "sslengine" and d.args[:1] and d.args[0].lower() == "on"
               for d in children(block, nested=True))


def site_from_vhost(vhost: Directive, main: str, server_root: Path) -> Site:
    block = vhost.block or []
    cert = key = None
    for d in children(block, nested=True):
        lower = d.name.lower()
        if lower == "sslcertificatefile" and d.args and cert is None:
            cert = resolve(d.args[0], server_root)
        elif lower == "sslcertificatekeyfile" and d.args and key is None:
            key = resolve(d.args[0], server_root)
    ports = tuple(dict.fromkeys(vhost_port(a) for a in vhost.args)) or (DEFAULT_PORT,)
    hostnames = tuple(vhost_names(block))
    return Site(server="apache", id=site_id("apache", hostnames, ports), hostnames=hostnames,
                ports=ports, tls=_is_tls(block), config_file=vhost.file, line=vhost.line,
                certificate=cert, key=key, main_config=main)


def resolve(path: str, server_root: Path) -> str:
    return path if os.path.isabs(path) else os.path.normpath(server_root / path)


def server_root_of(tree: list[Directive], default: Path) -> Path:
    for d in tree:
        if d.name.lower() == "serverroot" and d.args:
            return Path(d.args[0])
    return default


def sites(main: str | os.PathLike[str], server_root: str | os.PathLike[str] | None = None) -> list[Site]:
    """Every <VirtualHost> reachable from the main configuration file."""
    main = os.path.abspath(main)
    default_root = Path(server_root) if server_root else Path(main).parent
    tree = load(main, default_root)
    root = server_root_of(tree, default_root)
    found: list[Site] = []

    def walk(block: list[Directive]) -> None:
        for d in children(block):
            if d.block is None:
                continue
            lower = d.name.lower()
            if lower == "virtualhost":
                found.append(site_from_vhost(d, main, root))
            elif lower not in _NOT_SEARCHED:
                walk(d.block)

    walk(tree)
    return found


def parse_version_output(text: str) -> tuple[str | None, str | None]:
    """(main configuration, ServerRoot) from `apachectl -V`."""
    root = re.search(r'HTTPD_ROOT="([^"]*)"', text)
    conf = re.search(r'SERVER_CONFIG_FILE="([^"]*)"', text)
    if not conf:
        return None, root.group(1) if root else None
    path = conf.group(1)
    if not os.path.isabs(path) and root:
        path = os.path.join(root.group(1), path)
    return path, root.group(1) if root else None


def control_binary() -> str | None:
    for name in ("apachectl", "apache2ctl"):
        if found := shutil.which(name):
            return found
    return None


def find_config() -> tuple[str | None, str | None]:
    """(main configuration, ServerRoot) of the installed Apache; (None, None) when there is none."""
    for name in ("apachectl", "apache2ctl", "httpd", "apache2"):
        exe = shutil.which(name)
        if exe is None:
            continue
        try:
            out = subprocess.run([exe, "-V"], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            continue
        conf, root = parse_version_output(out.stdout + out.stderr)
        if conf and os.path.isfile(conf):
            return conf, root
    for conf, root in (("/etc/apache2/apache2.conf", "/etc/apache2"), ("/etc/httpd/conf/httpd.conf", "/etc/httpd")):
        if os.path.isfile(conf):
            return conf, root
    return None, None


# --- editing -------------------------------------------------------------------------------------


def quote(value: str) -> str:
    if value and not any(c.isspace() or c in "\"'\\" for c in value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _find_vhost(tree: list[Directive], line: int) -> Directive | None:
    for d in tree:
        if d.block is None:
            continue
        if d.name.lower() == "virtualhost" and d.line == line:
            return d
        inner = _find_vhost(d.block, line)
        if inner is not None:
            return inner
    return None


def _own(block: list[Directive]) -> Iterator[Directive]:
    """Directives physically inside the block in this file (nested sections too, includes not expanded)."""
    for d in block:
        yield d
        if d.block is not None and d.name.lower() not in _NOT_SEARCHED:
            yield from _own(d.block)


def set_certificate(text: str, file: str, line: int, fullchain: str, privkey: str, server_root: Path,
                    hostnames: tuple[str, ...] | None = None, *, add_tls_port: int | None = None) -> Edit:
    """Point the <VirtualHost> at `file`:`line` at the given files; raise EditRefused when unsafe.

    SSLCertificateFile gets the full chain (Apache 2.4.8+), SSLCertificateKeyFile the key, and any
    SSLCertificateChainFile is removed, since the chain now comes with the certificate."""
    tree = parse(text, file)
    vhost = _find_vhost(tree, line)
    if vhost is None or vhost.block is None:
        raise EditRefused(f"no <VirtualHost> at {file}:{line} any more; list the sites again")
    _expand(vhost.block, [server_root], (os.path.abspath(file),))
    if hostnames is not None and tuple(vhost_names(vhost.block)) != tuple(hostnames):
        raise EditRefused(f"the virtual host at {file}:{line} now serves "
                          f"{', '.join(vhost_names(vhost.block)) or 'no name'}, not {', '.join(hostnames)}; "
                          "list the sites again")
    if not _is_tls(vhost.block):
        if add_tls_port is None:
            raise EditRefused("site has no TLS listener; add `SSLEngine on` to the virtual host first")
        return add_tls_vhost(text, vhost, add_tls_port, fullchain, privkey)
    own = list(_own(vhost.block))
    for inc in (d for d in own if d.name.lower() in _INCLUDES):
        for d in children(inc.included, nested=True):
            if d.name.lower() in _CERT_DIRECTIVES:
                raise EditRefused(f"{d.name} is set in {d.file}:{d.line}, included by {file}:{inc.line} and "
                                  "possibly shared with other sites; move it into the virtual host")
    certs = [d for d in own if d.name.lower() == "sslcertificatefile"]
    keys = [d for d in own if d.name.lower() == "sslcertificatekeyfile"]
    chains = [d for d in own if d.name.lower() == "sslcertificatechainfile"]
    if (not chains and len(certs) == 1 and len(keys) == 1 and _same(certs[0].args, fullchain, server_root)
            and _same(keys[0].args, privkey, server_root)):
        return Edit(text, False)
    want = {"SSLCertificateFile": fullchain, "SSLCertificateKeyFile": privkey}
    edits: list[tuple[int, int, str]] = []
    notes: list[str] = []
    missing: list[str] = []
    for name, found in (("SSLCertificateFile", certs), ("SSLCertificateKeyFile", keys)):
        if found:
            edits.append((found[0].name_end, found[0].end, f" {quote(want[name])}"))
            for extra in found[1:]:
                edits.append((*removal_span(text, extra.start, extra.end), ""))
                notes.append(f"removed the extra {extra.name} {' '.join(extra.args)} at {file}:{extra.line}")
        else:
            missing.append(name)
    for chain in chains:
        edits.append((*removal_span(text, chain.start, chain.end), ""))
        notes.append(f"removed {chain.name} at {file}:{chain.line}: the full chain is in SSLCertificateFile")
    if missing:
        anchors = [d for d in own if d.name.lower() in ("sslengine", "servername", "serveralias")]
        anchor = max(anchors, key=lambda d: d.end) if anchors else None
        if anchor is not None:
            at, indent = anchor.end, _indent(text, anchor.start)
        else:
            at = text.index("\n", vhost.start) if "\n" in text[vhost.start:] else len(text)
            indent = _indent(text, vhost.start) + "    "
        newline = "\r\n" if "\r\n" in text else "\n"
        edits.append((at, at, "".join(f"{newline}{indent}{name} {quote(want[name])}" for name in missing)))
    return Edit(apply_edits(text, edits), True, notes)


def add_tls_vhost(text: str, vhost: Directive, port: int, fullchain: str, privkey: str) -> Edit:
    """A `<VirtualHost *:PORT>` after `vhost`, with its ServerName, ServerAlias and DocumentRoot, `SSLEngine on`
    and the certificate (the add-or-update binding; mod_ssl and a `Listen PORT` must be there already)."""
    newline = "\r\n" if "\r\n" in text else "\n"
    indent = _indent(text, vhost.start)
    inner = indent + "    "
    copied = [d for d in (vhost.block or []) if d.name.lower() in ("servername", "serveralias", "documentroot")
              and d.args]
    lines = [f"{indent}<VirtualHost *:{port}>"]
    lines += [f"{inner}{d.name} {' '.join(quote(a) for a in d.args)}" for d in copied]
    lines += [f"{inner}SSLEngine on", f"{inner}SSLCertificateFile {quote(fullchain)}",
              f"{inner}SSLCertificateKeyFile {quote(privkey)}", f"{indent}</VirtualHost>"]
    added = newline + newline + newline.join(lines)
    at = vhost.end
    return Edit(apply_edits(text, [(at, at, added)]), True,
                [f"added <VirtualHost *:{port}> with SSLEngine on for {', '.join(vhost_names(vhost.block or []))}"])


def _indent(text: str, offset: int) -> str:
    start = text.rfind("\n", 0, offset) + 1
    prefix = text[start:offset]
    return prefix[:len(prefix) - len(prefix.lstrip(" \t"))]


def _same(args: list[str], path: str, server_root: Path) -> bool:
    return len(args) == 1 and os.path.normpath(resolve(args[0], server_root)) == os.path.normpath(path)
