"""`certify-tui renew [NAME ...] [--force] [--dry-run]`: one pass of the renewal worker, for cron or by hand."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict

from certify_tui.cli.output import print_json, print_table
from certify_tui.lifecycle import Core


def register(sub: argparse._SubParsersAction) -> None:
    renew = sub.add_parser("renew", help="renew due certificates (or the named ones) now and exit")
    renew.add_argument("names", nargs="*", metavar="NAME", help="certificates to consider (default: every due one)")
    renew.add_argument("--force", action="store_true", help="renew even if not due")
    renew.add_argument("--dry-run", action="store_true", help="say what would be renewed; change nothing")
    renew.add_argument("--json", action="store_true")
    renew.set_defaults(run=_renew)


def _renew(core: Core, args: argparse.Namespace) -> int:
    outcomes = core.renew(args.names or None, force=args.force, dry_run=args.dry_run)
    if args.json:
        print_json([{**asdict(o), "ok": o.ok} for o in outcomes])
    elif not outcomes:
        print("Nothing is due for renewal.")
    else:
        print_table(("name", "result", "detail"), [(o.name, o.action, o.message) for o in outcomes])
    for outcome in outcomes:
        if not outcome.ok:  # cron mails stderr: each failure as one line there too
            print(f"certify-tui: error: {outcome.name}: {outcome.message}", file=sys.stderr)
    return 0 if all(o.ok for o in outcomes) else 1
