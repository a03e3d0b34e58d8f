"""Entry point: `certify-tui [--data-dir DIR] [--database URL] [COMMAND ...]`.

Without a command it opens the TUI. Errors print one line on stderr (details with -v):
exit 0 on success, 1 when the operation failed, 2 for bad usage or input. With --json, stdout
also gets {"error": message}, plus "field" naming the certificate setting when one is at fault.
"""

from __future__ import annotations

import argparse
import logging
import sys

from certify_tui import __version__
from certify_tui.cli import (
    account,
    cert,
    credential,
    db,
    providers,
    renew,
    service,
    settings,
    sites,
    status,
    transfer,
)
from certify_tui.cli.output import error_json, print_json
from certify_tui.cli.parser import EXIT_FAILED, Parser
from certify_tui.errors import CertifyError, safe_text


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="certify-tui", description="ACME certificates from the terminal.")
    parser.add_argument("--data-dir", metavar="DIR", help="data folder (else $CERTIFY_TUI_DATA_DIR, else the default)")
    parser.add_argument("--database", metavar="URL", help="database URL (default: SQLite in the data folder)")
    parser.add_argument("-v", "--verbose", action="store_true", help="show progress and error details")
    parser.add_argument("--version", action="version", version=f"certify-tui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    account.register(sub)
    cert.register(sub)
    credential.register(sub)
    renew.register(sub)
    service.register(sub)
    settings.register(sub)
    providers.register(sub)
    status.register(sub)
    sites.register(sub)
    db.register(sub)
    transfer.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.verbose:
        handler = logging.StreamHandler(sys.stderr)
        handler.setLevel(logging.WARNING)  # progress is printed by the command itself
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logging.getLogger("certify_tui").addHandler(handler)
    from certify_tui.lifecycle import Core

    try:
        core = Core.open(args.data_dir, args.database, connect=getattr(args, "needs_database", True))
        try:
            if args.command is None:
                from certify_tui.tui.app import run_tui

                return run_tui(core)
            return int(args.run(core, args))
        finally:
            core.close()
    except CertifyError as exc:
        print(f"certify-tui: error: {exc.message}", file=sys.stderr)  # escaped when the error was made
        if args.verbose and exc.detail:
            print(safe_text(exc.detail, keep_newlines=True), file=sys.stderr)
        if getattr(args, "json", False):  # scripts get the error as JSON too, with the setting it is about
            print_json(error_json(exc))
        return exc.exit_code
    except BrokenPipeError:
        # `certify-tui ... | head`: the reader left; not an error worth a message.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("certify-tui: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - never a traceback for a user; -v shows it
        from certify_tui.oserrors import explain
        from certify_tui.paths import DataDir
        from certify_tui.store.guard import known_database_error

        data = DataDir.resolve(args.data_dir)
        # damage found mid-command (past the quick check at open), a full disk, a read-only data folder
        known = known_database_error(exc) or explain(exc, data.database_path, data.root)
        if known is not None:
            print(f"certify-tui: error: {known.message}", file=sys.stderr)
            return known.exit_code
        print(f"certify-tui: error: unexpected {exc.__class__.__name__}: {safe_text(exc)}", file=sys.stderr)
        if args.verbose:
            import traceback

            traceback.print_exc()
        return EXIT_FAILED
