"""nginx configurations: a tokenizer that keeps byte offsets, include expansion, server blocks, and edits.

The tokenizer follows nginx's own lexer (ngx_conf_file.c): words separated by whitespace, `;` ends a
directive, `{ }` delimit blocks, `#` starts a comment at the start of a word, single and double quotes
with backslash escapes, and `${var}` inside a word. Every token keeps its offsets, so an edit replaces
exactly the bytes of one directive and leaves the rest of the file (comments, layout) as it was.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from certify_tui.deploy.base import Site, site_id
from certify_tui.errors import OperationError

DEFAULT_PORT = 80
MAX_INCLUDE_DEPTH = 32
# Blocks whose `server` is not an HTTP site: upstream servers, stream (TCP/UDP) and mail proxies.
_NOT_HTTP = {"upstream", "stream", "mail"}
_GLOB_CHARS = re.compile(r"[*?\[]")
_BARE_VALUE = re.compile(r"[^\s;{}#\"'\\$]+")


class ConfigError(OperationError):
    """A web server configuration file could not be read or parsed."""


@dataclass
class Token:
    value: str
    start: int
    end: int
    line: int
    quoted: bool = False

    @property
    def special(self) -> bool:
        return not self.quoted and self.value in (";", "{", "}")


@dataclass
class Directive:
    name: str
    args: list[str]
    file: str
    line: int
    start: int  # offset of the name
    name_end: int
    end: int  # just after the `;`, or after the block's `}`
    block: list[Directive] | None = None
    included: list[Directive] = field(default_factory=list)  # an `include`'s expanded content
    included_files: list[str] = field(default_factory=list)


def tokenize(text: str, file: str = "<string>") -> Iterator[Token]:
    i, n, line = 0, len(text), 1
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
        elif c in " \t\r\f\v":
            i += 1
        elif c == "#":
            while i < n and text[i] != "\n":
                i += 1
        elif c in ";{}":
            yield Token(c, i, i + 1, line)
            i += 1
        elif c in "\"'":
            start, start_line, i = i, line, i + 1
            chars: list[str] = []
            while True:
                if i >= n:
                    raise ConfigError(f"{file}:{start_line}: unterminated quoted string")
                ch = text[i]
                if ch == "\\" and i + 1 < n:
                    nxt = text[i + 1]
                    chars.append({"t": "\t", "n": "\n", "r": "\r"}.get(nxt, nxt) if nxt in "\"'\\tnr"
                                 else ch + nxt)
                    line += nxt == "\n"
                    i += 2
                    continue
                if ch == c:
                    i += 1
                    break
                line += ch == "\n"
                chars.append(ch)
                i += 1
            yield Token("".join(chars), start, i, start_line, quoted=True)
        else:
            start = i
            chars = []
            while i < n:
                ch = text[i]
                if ch in " \t\r\n\f\v;{}":
                    break
                if ch == "\\" and i + 1 < n:
                    chars.append(text[i:i + 2])
                    i += 2
                    continue
                if ch == "$" and i + 1 < n and text[i + 1] == "{":
                    close = text.find("}", i)
                    if close < 0:
                        raise ConfigError(f"{file}:{line}: unterminated variable")
                    chars.append(text[i:close + 1])
                    i = close + 1
                    continue
                chars.append(ch)
                i += 1
            yield Token("".join(chars), start, i, line)


def parse(text: str, file: str = "<string>") -> list[Directive]:
    """The directive tree of one file, without following includes."""
    tokens = list(tokenize(text, file))
    pos = 0

    def block(depth: int) -> list[Directive]:
        nonlocal pos
        result: list[Directive] = []
        while pos < len(tokens):
            tok = tokens[pos]
            if tok.special and tok.value == "}":
                if depth == 0:
                    raise ConfigError(f"{file}:{tok.line}: unexpected \"}}\"")
                return result
            if tok.special:
                raise ConfigError(f"{file}:{tok.line}: unexpected \"{tok.value}\"")
            name = tok
            pos += 1
            args: list[str] = []
            while pos < len(tokens) and not tokens[pos].special:
                args.append(tokens[pos].value)
                pos += 1
            if pos >= len(tokens):
                raise ConfigError(f"{file}:{name.line}: unexpected end of file, expecting \";\" or \"}}\"")
            term = tokens[pos]
            pos += 1
            directive = Directive(name.value, args, file, name.line, name.start, name.end, term.end)
            if term.value == "{":
                directive.block = block(depth + 1)
                if pos >= len(tokens):
                    raise ConfigError(f"{file}:{name.line}: unexpected end of file, expecting \"}}\"")
                directive.end = tokens[pos].end
                pos += 1
            elif term.value == "}":
                raise ConfigError(f"{file}:{term.line}: unexpected \"}}\"")
            result.append(directive)
        if depth:
            raise ConfigError(f"{file}: unexpected end of file, expecting \"}}\"")
        return result

    return block(0)


def read_text(path: str | os.PathLike[str]) -> str:
    """A file's text; bytes that are not UTF-8 survive a round trip (surrogateescape)."""
    try:
        return Path(path).read_bytes().decode("utf-8", "surrogateescape")
    except OSError as exc:
        raise ConfigError(f"Could not read {path}: {exc.strerror or exc}.") from exc


def include_paths(pattern: str, conf_dir: Path) -> list[str]:
    """What `include pattern` loads: relative to the directory of the main configuration, globs sorted."""
    full = pattern if os.path.isabs(pattern) else str(conf_dir / pattern)
    if _GLOB_CHARS.search(full):
        return sorted(p for p in glob.glob(full) if os.path.isfile(p))
    return [full] if os.path.isfile(full) else []


def load(main: str | os.PathLike[str], conf_dir: Path | None = None) -> list[Directive]:
    """The tree of `main` with every `include` expanded (missing includes are skipped)."""
    main = os.path.abspath(main)
    conf_dir = conf_dir or Path(main).parent
    return _load_file(main, conf_dir, (main,))


def _load_file(path: str, conf_dir: Path, stack: tuple[str, ...]) -> list[Directive]:
    tree = parse(read_text(path), path)
    _expand(tree, conf_dir, stack)
    return tree


def _expand(tree: list[Directive], conf_dir: Path, stack: tuple[str, ...]) -> None:
    for directive in tree:
        if directive.name == "include" and directive.args and directive.block is None:
            for path in include_paths(directive.args[0], conf_dir):
                if path in stack or len(stack) > MAX_INCLUDE_DEPTH:
                    raise ConfigError(f"{directive.file}:{directive.line}: include loop through {path}")
                directive.included_files.append(path)
                directive.included.extend(_load_file(path, conf_dir, (*stack, path)))
        elif directive.block is not None:
            _expand(directive.block, conf_dir, stack)


def children(block: list[Directive]) -> Iterator[Directive]:
    """The directives of a block as nginx sees them: includes replaced by their content."""
    for directive in block:
        if directive.name == "include" and directive.block is None:
            yield from children(directive.included)
        else:
            yield directive


def listen_port(args: list[str]) -> int | None:
    """The port of a `listen` directive: `443`, `[::]:443`, `127.0.0.1:8443`, `*:80`, `localhost`."""
    if not args:
        return None
    address = args[0]
    if address.startswith("unix:"):
        return None
    if address.isdigit():
        return int(address)
    if address.startswith("["):
        _, _, rest = address.partition("]")
        return int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else DEFAULT_PORT
    host, sep, port = address.rpartition(":")
    if sep and port.isdigit():
        return int(port)
    return DEFAULT_PORT


def server_names(args: list[str]) -> list[str]:
    """`server_name` values as host names: `_` and "" skipped, `.example.com` is both names."""
    names: list[str] = []
    for raw in args:
        name = raw.strip().lower()
        if not name or name == "_":
            continue
        if name.startswith(".") and len(name) > 1:
            names += [name[1:], "*" + name]
        else:
            names.append(name)
    return list(dict.fromkeys(names))


def is_tls_listen(args: list[str]) -> bool:
    return "ssl" in args[1:] and "quic" not in args[1:]


def site_from_block(server: Directive, main: str, conf_dir: Path, inherited: tuple[str | None, str | None]) -> Site:
    names: list[str] = []
    ports: list[int] = []
    tls = False
    cert, key = inherited
    own_cert = own_key = None
    listened = False
    for d in children(server.block or []):
        if d.name == "server_name":
            names += server_names(d.args)
        elif d.name == "listen":
            if "quic" in d.args[1:]:
                continue  # HTTP/3 rides on a TLS listener that has its own `listen ... ssl`
            listened = True
            port = listen_port(d.args)
            if port is not None and port not in ports:
                ports.append(port)
            tls = tls or is_tls_listen(d.args)
        elif d.name == "ssl" and d.args[:1] == ["on"]:
            tls = True  # removed in nginx 1.25.1, still in older configurations
        elif d.name == "ssl_certificate" and d.args and own_cert is None:
            own_cert = d.args[0]
        elif d.name == "ssl_certificate_key" and d.args and own_key is None:
            own_key = d.args[0]
    if not listened:
        ports.append(DEFAULT_PORT)
    # A plain-HTTP block serves no certificate, whatever the http level says.
    cert, key = (own_cert or cert, own_key or key) if tls else (None, None)
    hostnames = tuple(dict.fromkeys(names))
    return Site(server="nginx", id=site_id("nginx", hostnames, tuple(ports)), hostnames=hostnames,
                ports=tuple(ports), tls=tls, config_file=server.file, line=server.line,
                certificate=resolve(cert, conf_dir) if cert else None,
                key=resolve(key, conf_dir) if key else None, main_config=main)


def resolve(path: str, conf_dir: Path) -> str:
    """A file path as nginx opens it: relative paths are relative to the main configuration's folder."""
    if path.startswith(("data:", "engine:", "$")) or os.path.isabs(path):
        return path
    return os.path.normpath(conf_dir / path)


def sites(main: str | os.PathLike[str]) -> list[Site]:
    """Every HTTP `server {}` block reachable from the main configuration file."""
    main = os.path.abspath(main)
    conf_dir = Path(main).parent
    found: list[Site] = []

    def walk(block: list[Directive], context: tuple[str, ...], inherited: tuple[str | None, str | None]) -> None:
        cert, key = inherited
        for d in children(block):  # http-level certificates apply to servers that set none
            if d.name == "ssl_certificate" and d.args and cert is inherited[0]:
                cert = d.args[0]
            elif d.name == "ssl_certificate_key" and d.args and key is inherited[1]:
                key = d.args[0]
        for d in children(block):
            if d.block is None:
                continue
            if d.name == "server":
                if not _NOT_HTTP.intersection(context):
                    found.append(site_from_block(d, main, conf_dir, (cert, key)))
            elif d.name not in ("events", "types", "map", "geo", "location", "if"):
                walk(d.block, (*context, d.name), (cert, key))

    walk(load(main, conf_dir), (), (None, None))
    return found


def find_config(binary: str = "nginx") -> tuple[str | None, str | None]:
    """(main configuration, prefix) of the installed nginx from `nginx -V`; (None, None) without nginx."""
    exe = shutil.which(binary) or (binary if os.path.isfile(binary) else None)
    if exe is None:
        for candidate in ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx"):
            if os.access(candidate, os.X_OK):
                exe = candidate
                break
    if exe is None:
        return None, None
    try:
        out = subprocess.run([exe, "-V"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None, None
    return parse_version_output(out.stdout + out.stderr)


def parse_version_output(text: str) -> tuple[str | None, str | None]:
    prefix_match = re.search(r"--prefix=(\S+)", text)
    conf_match = re.search(r"--conf-path=(\S+)", text)
    prefix = prefix_match.group(1) if prefix_match else "/usr/local/nginx"
    conf = conf_match.group(1) if conf_match else "conf/nginx.conf"
    if not os.path.isabs(conf):
        conf = os.path.join(prefix, conf)
    return conf, prefix


# --- editing -------------------------------------------------------------------------------------


def quote(value: str) -> str:
    if _BARE_VALUE.fullmatch(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def find_block(tree: list[Directive], line: int, name: str = "server") -> Directive | None:
    for d in tree:
        if d.block is None:
            continue
        if d.name == name and d.line == line:
            return d
        inner = find_block(d.block, line, name)
        if inner is not None:
            return inner
    return None


def _line_start(text: str, offset: int) -> int:
    return text.rfind("\n", 0, offset) + 1


def _indent_of(text: str, offset: int) -> str:
    start = _line_start(text, offset)
    return text[start:start + len(text[start:offset]) - len(text[start:offset].lstrip(" \t"))]


def removal_span(text: str, start: int, end: int) -> tuple[int, int]:
    """The bytes to delete for a directive: its whole line when nothing else is on it."""
    line_start = _line_start(text, start)
    if text[line_start:start].strip(" \t"):
        return start, end
    stop = end
    while stop < len(text) and text[stop] in " \t":
        stop += 1
    if stop < len(text) and text[stop] == "\r":
        stop += 1
    if stop >= len(text) or text[stop] == "\n":
        return line_start, min(stop + 1, len(text))
    return start, end


class EditRefused(Exception):
    """The site cannot be edited safely (no TLS listener, certificate set in a shared include...)."""


@dataclass
class Edit:
    text: str
    changed: bool
    notes: list[str] = field(default_factory=list)


def apply_edits(text: str, edits: list[tuple[int, int, str]]) -> str:
    for start, end, replacement in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        text = text[:start] + replacement + text[end:]
    return text


def set_certificate(text: str, file: str, line: int, fullchain: str, privkey: str,
                    conf_dir: Path, hostnames: tuple[str, ...] | None = None, *,
                    add_tls_port: int | None = None) -> Edit:
    """Point the `server` block at `file`:`line` at the given files; raise EditRefused when unsafe.

    `add_tls_port`: a block without a TLS listener gets `listen ... ssl` on that port (see tls_listener)."""
    tree = parse(text, file)
    server = find_block(tree, line)
    if server is None or server.block is None:
        raise EditRefused(f"no server block at {file}:{line} any more; list the sites again")
    block = server.block
    _expand(block, conf_dir, (os.path.abspath(file),))
    if hostnames is not None:
        names: list[str] = []
        for d in children(block):
            if d.name == "server_name":
                names += server_names(d.args)
        if tuple(dict.fromkeys(names)) != tuple(hostnames):
            raise EditRefused(f"the server block at {file}:{line} now serves {', '.join(names) or 'no name'}, "
                              f"not {', '.join(hostnames)}; list the sites again")
    tls = any((d.name == "listen" and is_tls_listen(d.args)) or (d.name == "ssl" and d.args[:1] == ["on"])
              for d in children(block))
    new_listens: list[str] = []
    if not tls:
        if add_tls_port is None:
            raise EditRefused("site has no TLS listener; add `listen 443 ssl` first")
        from certify_tui.deploy.sites.tls_listener import nginx_listens

        new_listens = nginx_listens([d.args for d in children(block) if d.name == "listen"], add_tls_port)
    for inc in (d for d in block if d.name == "include" and d.block is None):
        for d in children(inc.included):
            if d.name in ("ssl_certificate", "ssl_certificate_key"):
                raise EditRefused(f"{d.name} is set in {d.file}:{d.line}, included by {file}:{inc.line} and "
                                  "possibly shared with other sites; move it into the server block")
    certs = [d for d in block if d.name == "ssl_certificate"]
    keys = [d for d in block if d.name == "ssl_certificate_key"]
    want = {"ssl_certificate": fullchain, "ssl_certificate_key": privkey}
    if (not new_listens and len(certs) == 1 and len(keys) == 1 and _same(certs[0].args, fullchain, conf_dir)
            and _same(keys[0].args, privkey, conf_dir)):
        return Edit(text, False)
    edits: list[tuple[int, int, str]] = []
    notes: list[str] = []
    missing: list[str] = []
    for name, found in (("ssl_certificate", certs), ("ssl_certificate_key", keys)):
        if found:
            edits.append((found[0].name_end, found[0].end, f" {quote(want[name])};"))
            for extra in found[1:]:
                edits.append((*removal_span(text, extra.start, extra.end), ""))
                notes.append(f"removed the extra {name} {' '.join(extra.args)} at {file}:{extra.line}")
        else:
            missing.append(name)
    added = [("listen", args) for args in new_listens] + [(name, quote(want[name])) for name in missing]
    notes += [f"added listen {args} at {file}:{line}" for args in new_listens]
    if added:
        anchors = [d for d in block if d.name in ("listen", "server_name", "ssl_certificate",
                                                  "ssl_certificate_key")]
        if anchors:
            anchor = max(anchors, key=lambda d: d.end)
            at, indent = anchor.end, _indent_of(text, anchor.start)
        else:
            at = text.index("{", server.name_end) + 1
            indent = _indent_of(text, server.start) + "    "
        newline = "\r\n" if "\r\n" in text else "\n"
        edits.append((at, at, "".join(f"{newline}{indent}{name} {value};" for name, value in added)))
    return Edit(apply_edits(text, edits), True, notes)


def _same(args: list[str], path: str, conf_dir: Path) -> bool:
    if len(args) != 1:
        return False
    current = resolve(args[0], conf_dir)
    return os.path.normpath(current) == os.path.normpath(path)
