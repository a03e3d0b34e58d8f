"""`certify-tui db check | backup | restore`: look after the database itself (SQLite; PostgreSQL is checked only)."""

from __future__ import annotations

import argparse
import os
import sys

from certify_tui import secrets_box
from certify_tui.cli.output import print_fields, print_json, print_table
from certify_tui.cli.parser import Subcommands
from certify_tui.errors import UsageError
from certify_tui.lifecycle import Core
from certify_tui.store.backup import DatabaseSummary


def register(sub: Subcommands) -> None:
    db = sub.add_parser("db", help="check, back up or restore the database")
    # These work on a damaged or missing database: main opens the data folder without opening the database.
    db.set_defaults(needs_database=False)
    dbsub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)

    check = dbsub.add_parser("check", help="integrity, schema version, counts and what the backups hold")
    check.add_argument("--json", action="store_true", help="machine-readable output")
    check.set_defaults(run=_check, needs_database=False)

    backup = dbsub.add_parser("backup", help="online backup (default: certify.db.bak in the data folder)")
    backup.add_argument("--to", metavar="FILE", help="write the backup to this new file instead")
    backup.set_defaults(run=_backup, needs_database=False)

    restore = dbsub.add_parser("restore", help="put a backup back (default: the newest good one)")
    restore.add_argument("--from", dest="source", metavar="FILE", help="the backup to restore")
    restore.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    restore.set_defaults(run=_restore, needs_database=False)


def _describe(summary: DatabaseSummary) -> str:
    if summary.integrity == "missing":
        return f"{summary.path} (missing)"
    state = summary.integrity if not summary.problems else f"{summary.integrity}: {summary.problems[0]}"
    when = summary.modified.strftime("%Y-%m-%d %H:%M:%S UTC") if summary.modified else "-"
    held = f", {summary.contents()}, schema {summary.schema_version}" if summary.ok else ""
    return f"{summary.path} (written {when}, {state}{held})"


def _check(core: Core, args: argparse.Namespace) -> int:
    report = core.check_database()
    if args.json:
        print_json(report.as_dict())
    else:
        live = report.database
        where = (f"{live.path} (SQLite, {live.size if live.exists else 'no'} bytes)" if live is not None
                 else f"{report.url} (PostgreSQL)")
        integrity = "not checked" if live is None else (
            live.integrity + (f": {'; '.join(live.problems[:3])}" if live.problems else ""))
        print_fields([
            ("database", where),
            ("integrity", integrity),
            ("schema", f"{report.schema_version if report.schema_version is not None else '-'} "
                       f"(this certify-tui: {report.latest_schema})"),
            ("accounts", report.accounts),
            ("certificates", f"{report.certificates if report.certificates is not None else '-'} "
                             f"({report.certificate_folders} folder(s) in {core.data.certificates})"),
        ])
        if report.note:
            print(report.note)
        print()
        print_table(["backup", "written (UTC)", "integrity", "accounts", "certificates", "schema"],
                    [[b.path.name, b.modified.strftime("%Y-%m-%d %H:%M:%S") if b.modified else "-",
                      b.integrity, b.accounts, b.certificates, b.schema_version] for b in report.backups],
                    empty=f"No backups in {core.data.root}.")
    if not report.ok and not report.fresh:
        live = report.database
        what = f"{live.path} is {live.integrity}" if live is not None else f"{report.url} has no schema"
        print(f"certify-tui: error: The database {what}; restore a backup with `certify-tui db restore`.",
              file=sys.stderr)
        return 1
    return 0


def _key_note() -> str:
    if os.environ.get(secrets_box.ENV_SECRET_KEY):
        return f"Its secrets are encrypted with ${secrets_box.ENV_SECRET_KEY}: keep that key with the backups."
    return (f"Its secrets are encrypted with {secrets_box.key_file() or secrets_box.KEY_FILE_NAME}: keep a copy of "
            f"that key apart from the backups (without it, their secrets cannot be read).")


def _backup(core: Core, args: argparse.Namespace) -> int:
    done = core.backup_database(args.to)
    line = f"Backed up to {done.path} ({done.summary.size} bytes, {done.summary.contents()})"
    if done.previous is not None:
        line += f"; previous kept as {done.previous.name}"
    if done.last_good is not None:
        line += f"; the fuller previous backup is also kept as {done.last_good.name}"
    print(line + ".")
    print(_key_note())
    return 0


def _restore(core: Core, args: argparse.Namespace) -> int:
    plan = core.restore_plan(args.source)
    print(f"Restore:  {_describe(plan.source)}")
    print(f"Replaces: {_describe(plan.current)}"
          + (f", kept aside as {plan.database.name}.damaged-<time>" if plan.current.exists else ""))
    for fuller in plan.fuller:
        print(f"Note: {fuller.path} holds more ({fuller.contents()}); restore it with --from {fuller.path}")
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError(f"Not restoring without confirmation: run it again with --yes to restore "
                             f"{plan.source.path}.")
        answer = input("Restore it? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            print("Nothing was changed.")
            return 1
    result = core.restore_database(plan)
    kept = f"; the previous file is kept as {result.aside}" if result.aside else ""
    print(f"Restored {result.database} from {result.source} ({result.restored.contents()}){kept}.")
    print(_key_note())
    return 0
