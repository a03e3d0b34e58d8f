"""certbot's renewal configuration files (`renewal/<lineage>.conf`), read by our own small parser.

They are written by configobj: `key = value` lines, `[section]` and `[[subsection]]` headers, `#` comments,
values quoted with ' or " (or tripled) when they hold a comma or a `#`, and a comma making a list
(`webroot_path = /var/www/html,` is a list of one). Only this subset is read; certbot's code is not imported
(it would tie us to its version and its plug-ins)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from certify_tui.errors import UsageError

ConfValue = str | list[str]

_HEADER = re.compile(r"^(\[+)\s*(.*?)\s*(\]+)\s*(?:#.*)?$")
_QUOTES = ('"""', "'''", '"', "'")


class CertbotConfError(UsageError):
    """A renewal configuration this parser cannot read (the message names the file and line)."""


@dataclass
class ConfSection:
    values: dict[str, ConfValue] = field(default_factory=dict)
    sections: dict[str, ConfSection] = field(default_factory=dict)

    def text(self, key: str, default: str | None = None) -> str | None:
        """A value as one string (a list of one is its item; an empty value is `default`)."""
        value = self.values.get(key)
        if isinstance(value, list):
            value = ",".join(value)
        return value if value else default

    def items(self, key: str) -> list[str]:
        """A value as a list (one string is a list of one)."""
        value = self.values.get(key)
        if value is None or value == "":
            return []
        return value if isinstance(value, list) else [value]

    def section(self, name: str) -> ConfSection:
        return self.sections.get(name) or ConfSection()


def read_conf(path: Path) -> ConfSection:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CertbotConfError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    except UnicodeDecodeError:
        raise CertbotConfError(f"{path} is not UTF-8 text.") from None
    return parse_conf(text, str(path))


def parse_conf(text: str, source: str = "<conf>") -> ConfSection:
    root = ConfSection()
    stack = [root]  # stack[d] is the open section at depth d
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        where = f"{source}, line {number}"
        header = _HEADER.match(stripped)
        if header:
            depth = len(header.group(1))
            if depth != len(header.group(3)) or depth > len(stack):
                raise CertbotConfError(f"{where}: a section header with unbalanced or skipped brackets.")
            name = _unquote(header.group(2))
            section = ConfSection()
            del stack[depth:]
            stack[-1].sections[name] = section
            stack.append(section)
            continue
        if stripped.startswith("["):
            raise CertbotConfError(f"{where}: a section header with unbalanced or skipped brackets.")
        key, sep, raw = stripped.partition("=")
        if not sep or not key.strip():
            raise CertbotConfError(f"{where}: expected 'key = value', a [section] or a # comment.")
        stack[-1].values[_unquote(key.strip())] = parse_value(raw, where)
    return root


def _unquote(text: str) -> str:
    for quote in _QUOTES:
        if len(text) >= 2 * len(quote) and text.startswith(quote) and text.endswith(quote):
            return text[len(quote):-len(quote)]
    return text


def parse_value(raw: str, where: str = "value") -> ConfValue:
    """One value: a string, or a list when a comma separates items (configobj's rules)."""
    items: list[str] = []
    is_list = False
    pos, end = 0, len(raw)
    while True:
        while pos < end and raw[pos].isspace():
            pos += 1
        if pos >= end or raw[pos] == "#":
            break
        quote = next((q for q in _QUOTES if raw.startswith(q, pos)), None)
        if quote:
            close = raw.find(quote, pos + len(quote))
            if close == -1:
                raise CertbotConfError(f"{where}: a quoted value is not closed (values over several lines "
                                       f"are not supported).")
            items.append(raw[pos + len(quote):close])
            pos = close + len(quote)
        else:
            stop = pos
            while stop < end and raw[stop] not in ",#":
                stop += 1
            items.append(raw[pos:stop].strip())
            pos = stop
        while pos < end and raw[pos].isspace():
            pos += 1
        if pos < end and raw[pos] == ",":
            is_list = True
            pos += 1
            continue
        if pos < end and raw[pos] != "#":
            raise CertbotConfError(f"{where}: unexpected text after a quoted value.")
        break
    if is_list:
        return [item for item in items if item != ""] if items != [""] else []
    return items[0] if items else ""
