"""`certify-tui cert revoke NAME`: revoke the current certificate at its CA, after a confirmation."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from certify_tui.cli.output import print_json
from certify_tui.errors import UsageError, safe_text
from certify_tui.events import ProgressEvent
from certify_tui.lifecycle import Core
from certify_tui.lifecycle.revoke import REVOKE_REASONS


def register(actions: Any) -> None:
    revoke = actions.add_parser(
        "revoke", help="revoke the current certificate at its CA (status becomes revoked)",
        description="Revoke the current certificate at its CA. Signed by the account key; for keyCompromise "
                    "by the certificate's own key. With --renew a replacement is ordered and deployed first, "
                    "and the old certificate is revoked only once the new one is in place.")
    revoke.add_argument("name")
    revoke.add_argument("--reason", default="unspecified", choices=list(REVOKE_REASONS),
                        help="why (RFC 5280); default unspecified")
    revoke.add_argument("--renew", action="store_true",
                        help="order and deploy a replacement first, then revoke the old certificate")
    revoke.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    revoke.add_argument("--json", action="store_true")
    revoke.set_defaults(run=_revoke)


def _revoke(core: Core, args: argparse.Namespace) -> int:
    reason = args.reason
    name, serial = core.revocation_target(args.name, reason)  # its errors before any question
    if not args.yes and not _confirmed(name, serial, reason, args.renew):
        print("Nothing was revoked.", file=sys.stderr)
        return 1

    def show(event: ProgressEvent) -> None:
        if args.verbose and not args.json:
            print(event.line(), file=sys.stderr)

    result = core.revoke(name, reason=reason, renew=args.renew, on_event=show)
    if args.json:
        print_json({**result.to_dict(), "certificate": core.certificate_view(core.get_certificate(name))})
    elif result.replacement_serial:
        print(f"Revoked {result.name}'s previous certificate {result.serial} ({result.reason}, signed by the "
              f"{result.signed_by}); {result.replacement_serial} is in place.")
    else:
        print(f"Revoked {result.name}: serial {result.serial} ({result.reason}, signed by the {result.signed_by}). "
              f"Request it to replace it: certify-tui cert request {result.name}")
    return 0


def _confirmed(name: str, serial: str, reason: str, renew: bool) -> bool:
    """Ask on a terminal; a script must say --yes (a revocation cannot be undone)."""
    what = f"'{safe_text(name)}' (serial {serial})"
    if not sys.stdin.isatty():
        raise UsageError(f"Not revoking {what} without confirmation: run it again with --yes.")
    then = ", after a replacement is deployed" if renew else ""
    try:
        answer = input(f"Revoke {what} with reason {reason}{then}? This cannot be undone. [y/N] ")
    except EOFError:
        answer = ""
    return answer.strip().lower() in ("y", "yes")
