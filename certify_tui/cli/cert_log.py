"""`certify-tui cert log NAME [--follow] [--lines N]`: a certificate's request and deployment log."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

from certify_tui.cli.parser import Subcommands
from certify_tui.errors import safe_text
from certify_tui.lifecycle import Core

FOLLOW_INTERVAL = 0.5  # seconds between looks at the file while following


def register(actions: Subcommands) -> None:
    log = actions.add_parser("log", help="show a certificate's log (requests, deployments, tasks)")
    log.add_argument("name")
    log.add_argument("--lines", "-n", type=int, default=20, metavar="N", help="the last N lines (default 20, 0: all)")
    log.add_argument("--follow", "-f", action="store_true", help="keep printing new lines (Ctrl-C ends)")
    log.set_defaults(run=_log)


def _log(core: Core, args: argparse.Namespace) -> int:
    text = core.certificate_log(args.name)
    lines = text.splitlines()
    shown = lines if args.lines <= 0 else lines[-args.lines:]
    for line in shown:
        print(safe_text(line))
    if not args.follow:
        if not lines:
            print(f"No log yet for {args.name}: it is written by requests and deployments.", file=sys.stderr)
        return 0
    with contextlib.suppress(KeyboardInterrupt):  # how following ends: not an error
        _follow(core.certificate_log_path(args.name), len(text.encode("utf-8")))
    return 0


def _follow(path: Path, position: int) -> None:
    """Print what is appended to `path` from byte `position` on; start over if the file was replaced."""
    pending = b""
    while True:
        sys.stdout.flush()
        time.sleep(FOLLOW_INTERVAL)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            continue  # not written yet, or being replaced
        if size < position:
            position, pending = 0, b""  # truncated or a new file
        if size == position:
            continue
        with path.open("rb") as handle:
            handle.seek(position)
            chunk = handle.read()
        position += len(chunk)
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            print(safe_text(line.decode("utf-8", errors="replace")))
