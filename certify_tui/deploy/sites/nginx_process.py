"""The configuration files of running nginx masters, read from /proc (Linux only).

An nginx started with `-c FILE` (containers, tests, several instances on one host) does not use the
file `nginx -V` names. Its master process sets its title to
`nginx: master process /usr/sbin/nginx -p /prefix/ -c /path/nginx.conf`, which /proc/PID/cmdline shows,
so discovery can read the file it really runs with. Elsewhere (no /proc) this finds nothing, silently.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

MASTER_TITLE = "nginx: master process "


def running_configs(proc_root: str | os.PathLike[str] = "/proc") -> list[tuple[str, str | None]]:
    """(main configuration, prefix or None) of every running nginx master, first seen first, no repeats.

    Only masters that name their file with `-c` (or `-c` relative to `-p`) count: one started without it
    uses the compiled-in file, which `nginx -V` already gives."""
    root = Path(proc_root)
    if str(proc_root) == "/proc" and not sys.platform.startswith("linux"):
        return []
    try:
        entries = sorted((e for e in os.listdir(root) if e.isdigit()), key=int)
    except OSError:
        return []
    found: dict[str, str | None] = {}
    for pid in entries:
        try:
            raw = (root / pid / "cmdline").read_bytes()
        except OSError:  # the process ended meanwhile, or is not ours to read
            continue
        parsed = parse_master_cmdline(raw)
        if parsed is not None and parsed[0] not in found:
            found[parsed[0]] = parsed[1]
    return list(found.items())


def parse_master_cmdline(raw: bytes) -> tuple[str, str | None] | None:
    """(absolute configuration file, prefix) from an nginx master's /proc cmdline, None for anything else.

    The title form is one string (nginx overwrote argv); a master that kept its argv (no title set) has
    NUL-separated arguments whose first ends in `nginx`."""
    text = raw.decode("utf-8", "surrogateescape")
    if text.startswith(MASTER_TITLE):
        args = text[len(MASTER_TITLE):].replace("\0", " ").split()
    else:
        args = [a for a in text.split("\0") if a]
        if not args or os.path.basename(args[0]) != "nginx":
            return None
    options = _options(args[1:])
    conf = options.get("-c")
    if not conf:
        return None
    prefix = options.get("-p")
    if not os.path.isabs(conf):
        if not prefix:
            return None  # relative to a compiled-in prefix we cannot know from here
        conf = os.path.join(prefix, conf)
    return os.path.normpath(conf), prefix


def _options(args: list[str]) -> dict[str, str]:
    """`-c FILE`, `-cFILE`, `-p DIR` as nginx reads them; other options ignored."""
    options: dict[str, str] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-c", "-p", "-g", "-e") and i + 1 < len(args):
            options[arg] = args[i + 1]
            i += 2
            continue
        if arg[:2] in ("-c", "-p") and len(arg) > 2:
            options[arg[:2]] = arg[2:]
        i += 1
    return options
