"""`certify-tui renew [NAME ...] [--force] [--dry-run] [--yes] [--no-notify]`: one pass of the renewal worker, for
cron or by hand; it sends the alerts the run calls for, as the service does."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict

from certify_tui.cli.output import print_json, print_table
from certify_tui.cli.parser import Subcommands
from certify_tui.lifecycle import Core
from certify_tui.renewal.leases import process_started

CONFIRM_ABOVE = 10  # a forced run over more certificates than this asks first on a terminal
# A cron run asks OCSP/CRL first (each certificate at most once a day), so a certificate its CA revoked is
# replaced in the same run; bounded so that renewals never wait long on a slow responder.
REVOCATION_BUDGET_SECONDS = 60


def register(sub: Subcommands) -> None:
    renew = sub.add_parser("renew", help="renew due certificates (or the named ones) now and exit")
    renew.add_argument("names", nargs="*", metavar="NAME",
                       help="certificates to consider (default: every due one; with --force, every auto-renewed one)")
    renew.add_argument("--force", action="store_true", help="renew even if not due")
    renew.add_argument("--dry-run", action="store_true", help="say what would be renewed; change nothing")
    renew.add_argument("-y", "--yes", action="store_true",
                       help=f"do not ask before forcing more than {CONFIRM_ABOVE} renewals on a terminal")
    renew.add_argument("--no-revocation-check", dest="revocation_check", action="store_false",
                       help="skip the daily OCSP/CRL check a full run does first (a revoked certificate is renewed)")
    renew.add_argument("--notify", action=argparse.BooleanOptionalAction, default=None,
                       help="send the alerts the run calls for (failures, recoveries, expiry warnings, the digest) "
                            "to the configured channels; default: on when a channel is configured")
    renew.add_argument("--json", action="store_true")
    renew.set_defaults(run=_renew)


def _renew(core: Core, args: argparse.Namespace) -> int:
    started = process_started()
    if args.force and not args.names and not args.dry_run and not args.yes and sys.stdin.isatty():
        count = sum(1 for row in core.certificate_rows() if row.auto_renew)
        if count > CONFIRM_ABOVE:
            try:
                answer = input(f"Renew all {count} auto-renewed certificates now, due or not? "
                               f"Each is a new order at its CA. [y/N] ")
            except EOFError:
                answer = ""
            if answer.strip().lower() not in ("y", "yes"):
                print("Nothing renewed.")
                return 1
    if args.revocation_check and not args.names and not args.dry_run:
        _check_revocations(core)
    notify = args.notify is not False and not args.dry_run
    if args.notify and not core.alert_channels():
        print("certify-tui: --notify: no notification channel is configured, nothing will be sent "
              "(certify-tui settings notify email --smtp-host H --to ADDRESS, or settings notify webhook URL).",
              file=sys.stderr)
    outcomes = core.renew(args.names or None, force=args.force, dry_run=args.dry_run, started=started,
                          report_skipped=True, on_outcome=core.alert_outcome if notify else None)
    if not args.dry_run:
        core.alert_sweep("cron" if not sys.stdin.isatty() else "renew", outcomes, send=notify)
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


def _check_revocations(core: Core) -> None:
    """Mark what a CA revoked, so this run renews it. A responder that does not answer is logged by the check
    and asked again next run: it is not this run's failure."""
    run = core.check_revocations(budget_seconds=REVOCATION_BUDGET_SECONDS)
    for check in run.checks:
        if check.result == "revoked":
            print(f"certify-tui: {check.name} was revoked by its CA ({check.reason or 'no reason given'}): "
                  f"renewing it now.", file=sys.stderr)
