"""`certify-tui providers [CHALLENGE] [--json]`: every challenge provider and the options it declares."""

from __future__ import annotations

import argparse
import sys

from certify_tui.challenges import CHALLENGE_TYPES, PROVIDERS, ChallengeProvider, skipped_providers
from certify_tui.cli.output import print_json, print_table
from certify_tui.cli.parser import Subcommands
from certify_tui.errors import UsageError, safe_text
from certify_tui.lifecycle import Core


def register(sub: Subcommands) -> None:
    providers = sub.add_parser("providers", help="list challenge providers and their options")
    providers.add_argument("challenge", nargs="?", choices=CHALLENGE_TYPES, help="only this challenge type")
    providers.add_argument("--provider", help="show one provider's options in full")
    providers.add_argument("--json", action="store_true")
    providers.set_defaults(run=_providers)


def _providers(core: Core, args: argparse.Namespace) -> int:
    by_type = core.challenge_providers()
    chosen = [args.challenge] if args.challenge else list(by_type)
    if args.provider:
        for challenge in chosen:
            for cls in by_type[challenge]:
                if cls.id == args.provider:
                    return _show_one(challenge, cls, args.json)
        known = ", ".join(sorted({cls.id for challenge in chosen for cls in by_type[challenge]}))
        raise UsageError(f"No provider '{args.provider}' for {', '.join(chosen)} (known: {known}).")
    rows, data = [], []
    for challenge in chosen:
        for cls in by_type[challenge]:
            keys = [p.key + ("*" if p.required else "") for p in cls.params]
            rows.append((challenge, cls.id, cls.title, ", ".join(keys)))
            data.append({"challenge": challenge, "id": cls.id, "title": cls.title,
                         "params": [p.key for p in cls.params]})
    if args.json:
        print_json(data)
    else:
        print_table(("challenge", "provider", "title", "options (* required)"), rows)
        print(f"\n{len(rows)} providers. Details: certify-tui providers CHALLENGE --provider ID")
    _warn_skipped()
    return 0


def _warn_skipped() -> None:
    """Installed provider plug-ins that could not be loaded: said here, where someone looks for them."""
    for skipped in skipped_providers():
        print(f"certify-tui: warning: {safe_text(str(skipped))}", file=sys.stderr)


def _show_one(challenge: str, cls: type[ChallengeProvider], as_json: bool) -> int:
    params = cls.describe_params()
    if as_json:
        print_json({"challenge": challenge, "id": cls.id, "title": cls.title, "description": cls.description,
                    "params": params})
        return 0
    print(f"{cls.id} ({challenge}): {cls.title}")
    if not PROVIDERS.is_own(cls):
        print(f"A plug-in from the package {PROVIDERS.package_of(cls)}.")
    if cls.description:
        print(cls.description)
    for p in params:
        flags = ", ".join(f for f, on in (("required", p["required"]), ("secret", p["secret"])) if on)
        default = f" default {p['default']!r}" if p["default"] not in (None, "") else ""
        print(f"  --option {p['key']}=...  {p['label']} [{p['type']}{', ' + flags if flags else ''}]{default}")
        if p["help"]:
            print(f"      {p['help']}")
    return 0
