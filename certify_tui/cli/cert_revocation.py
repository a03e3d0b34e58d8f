"""`certify-tui cert check-revocation [NAME ...] [--force] [--json]`: the daily OCSP/CRL check, now."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict

from certify_tui.cli.output import print_json, print_table
from certify_tui.cli.parser import Subcommands
from certify_tui.lifecycle import Core


def register(actions: Subcommands) -> None:
    check = actions.add_parser("check-revocation",
                               help="ask OCSP responders / CRLs now whether a CA revoked certificates (revoked "
                                    "ones are marked, renewed at once and notified)")
    check.add_argument("names", nargs="*", metavar="NAME",
                       help="certificates to check (default: every issued one not checked in the last day)")
    check.add_argument("--force", action="store_true", help="check even those checked in the last day")
    check.add_argument("--json", action="store_true")
    check.set_defaults(run=_check)


def _check(core: Core, args: argparse.Namespace) -> int:
    run = core.check_revocations(args.names or None, force=args.force)
    if args.json:
        print_json({"checks": [{**asdict(c), "ok": c.ok} for c in run.checks], "left": run.left,
                    "crl_fetches": run.crl_fetches, "ok": all(c.ok for c in run.checks)})
    elif not run.checks:
        print("Nothing was checked: no issued certificate names an OCSP responder or a CRL, or each was checked "
              "in the last day (--force checks again).")
    else:
        print_table(("name", "result", "detail"), [(c.name, c.result, c.message) for c in run.checks])
        print(run.summary())
    for check in run.checks:
        if not check.ok:  # cron mails stderr: each failure as one line there too
            print(f"certify-tui: error: {check.name}: {check.message}", file=sys.stderr)
    return 0 if all(c.ok for c in run.checks) else 1
