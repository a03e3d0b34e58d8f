"""`certify-tui import csv FILE` and `certify-tui export csv [FILE]`: certificates in bulk, one per row.

The columns and the rules are the core's (lifecycle/csv_import.py); this reads and writes the files and prints
what happened: per row, the file's line number and the column to fix.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from certify_tui.cli.output import print_json
from certify_tui.cli.parser import EXIT_OK, EXIT_USAGE, Subcommands
from certify_tui.errors import UsageError, safe_text
from certify_tui.lifecycle import Core
from certify_tui.lifecycle.csv_import import COLUMNS, REQUIRED, CsvImport
from certify_tui.paths import os_error_reason

_SHOWN_NAMES = 10  # names listed after "Added N:"; the rest are counted


def register_import(sub: Subcommands) -> None:
    p = sub.add_parser("csv", help="certificates from a CSV file, one per row (validated before anything is "
                                   "written)",
                       description=f"The first line names the columns: {', '.join(REQUIRED)} (required), "
                                   f"{', '.join(c for c in COLUMNS if c not in REQUIRED)}. Lists (domains, "
                                   "tags) are separated by ';'. Nothing is imported if a row is invalid, unless "
                                   "--skip-invalid.")
    p.add_argument("file", metavar="FILE", help="the CSV file ('-': standard input), UTF-8")
    p.add_argument("--dry-run", action="store_true", help="check every row and say what would be imported")
    p.add_argument("--skip-invalid", action="store_true", help="import the valid rows even if others are not")
    p.add_argument("--replace", action="store_true",
                   help="a row whose name is already managed replaces its settings (else it is skipped)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_import)


def register_export(sub: Subcommands) -> None:
    p = sub.add_parser("csv", help="the certificates as a CSV file that `import csv` reads")
    p.add_argument("file", metavar="FILE", nargs="?", default="-", help="where to write (default: standard output)")
    p.add_argument("--tag", dest="tags", action="append", default=[], metavar="TAG",
                   help="only the certificates with this tag (repeat: with all of them)")
    p.add_argument("--json", action="store_true", help="with FILE: say what was written as JSON")
    p.set_defaults(run=_export)


def _read(file: str) -> str:
    try:
        if file == "-":
            return sys.stdin.read()
        return Path(file).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{file} is not UTF-8 text: save it as 'CSV UTF-8'.") from None
    except OSError as exc:
        raise UsageError(f"Cannot read {file}: {os_error_reason(exc)}.") from None


def _import(core: Core, args: argparse.Namespace) -> int:
    result = core.import_csv(_read(args.file), dry_run=args.dry_run, skip_invalid=args.skip_invalid,
                             replace=args.replace)
    refused = bool(result.invalid) and not args.skip_invalid
    error = (f"{len(result.invalid)} of {result.rows} rows are invalid: nothing was imported. Fix them, or give "
             "--skip-invalid to import the others." if refused else None)
    if args.json:
        print_json({**result.to_json(), **({"error": error} if error else {})})
    else:
        _print_result(result, refused)
    if error:
        print(f"certify-tui: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def _print_result(result: CsvImport, refused: bool) -> None:
    for problem in result.invalid:
        print(f"invalid  {safe_text(problem.line_text())}")
    for problem in result.conflicts:
        print(f"exists   {safe_text(problem.line_text())}")
    for verb, names in (("add", result.added), ("replace", result.replaced)):
        if names:
            shown = ", ".join(names[:_SHOWN_NAMES]) + (f" and {len(names) - _SHOWN_NAMES} more"
                                                       if len(names) > _SHOWN_NAMES else "")
            done = ("Added" if verb == "add" else "Replaced") if result.written else f"Would {verb}"
            print(f"{done} {len(names)}{' once the invalid rows are fixed' if refused else ''}: "
                  f"{safe_text(shown)}")
    skipped = len(result.conflicts) + (len(result.invalid) if not refused else 0)
    summary = f"{result.rows} rows checked in {result.seconds:.2f} s"
    if result.written:
        print(f"{summary}; imported {len(result.added) + len(result.replaced)}, skipped {skipped}.")
    elif result.dry_run and not refused:
        print(f"{summary}; dry run: nothing was written (run again without --dry-run to import).")
    elif not refused:
        print(f"{summary}; nothing to import.")


def _export(core: Core, args: argparse.Namespace) -> int:
    export = core.export_csv(args.tags)
    for note in export.notes:
        print(f"certify-tui: note: {safe_text(note)}", file=sys.stderr)
    if args.file == "-":
        sys.stdout.write(export.text)
        return EXIT_OK
    try:
        with open(args.file, "w", encoding="utf-8", newline="") as handle:
            handle.write(export.text)
    except OSError as exc:
        raise UsageError(f"Cannot write {args.file}: {os_error_reason(exc)}.") from None
    if args.json:
        print_json({"file": args.file, "count": export.count, "notes": export.notes})
    else:
        print(f"Exported {export.count} certificate{'s' if export.count != 1 else ''} to {safe_text(args.file)}.")
    return EXIT_OK
