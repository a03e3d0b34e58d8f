"""`certify-tui settings ...`: renewal defaults, notifications (settings_notify.py) and the default validation rule."""

from __future__ import annotations

import argparse
from typing import Any

from certify_tui.challenges import CHALLENGE_TYPES
from certify_tui.cli import settings_notify
from certify_tui.cli.options import OPTION_HELP, option_pairs
from certify_tui.cli.output import print_fields, print_json
from certify_tui.cli.parser import Subcommands
from certify_tui.lifecycle import Core
from certify_tui.plugins import SECRET_MASK


def register(sub: Subcommands) -> None:
    settings = sub.add_parser("settings", help="application settings")
    actions = settings.add_subparsers(dest="action", metavar="ACTION", required=True)

    show = actions.add_parser("show", help="show every setting (secrets masked)")
    show.add_argument("--json", action="store_true")
    show.set_defaults(run=_show)

    change = actions.add_parser("set", help="change settings: KEY=VALUE ...")
    change.add_argument("pairs", nargs="+", metavar="KEY=VALUE", help=OPTION_HELP)
    change.set_defaults(run=_set)

    rule = actions.add_parser("default-rule", help="the validation rule new certificates start with")
    rule.add_argument("--challenge", default="http-01", choices=CHALLENGE_TYPES)
    rule.add_argument("--provider", help="challenge provider (http-01: standalone, webroot)")
    rule.add_argument("--option", "-o", action="append", metavar="KEY=VALUE",
                      help=f"provider option: {OPTION_HELP}")
    rule.set_defaults(run=_default_rule)

    settings_notify.register(actions)
    settings_notify.register_test(actions)


def _masked(core: Core) -> dict[str, Any]:
    secret = {p.key for p in core.settings_params() if p.secret}
    return {k: (SECRET_MASK if k in secret and v else v) for k, v in core.settings().items()}


def _show(core: Core, args: argparse.Namespace) -> int:
    values = _masked(core)
    rule = core.default_rule()
    if args.json:
        print_json({"settings": values, "default_rule": rule.to_json(), "worker": core.worker_status()})
        return 0
    labels = {p.key: p.label for p in core.settings_params()}
    print_fields([(f"{labels.get(k, k)} ({k})", v) for k, v in values.items()]
                 + [("Default rule", f"{rule.challenge} / {rule.provider} {rule.options}")])
    return 0


def _set(core: Core, args: argparse.Namespace) -> int:
    core.update_settings(option_pairs(args.pairs))
    print("Saved.")
    return 0


def _default_rule(core: Core, args: argparse.Namespace) -> int:
    rule = core.set_default_rule(args.challenge, args.provider, option_pairs(args.option))
    print(f"New certificates start with {rule.challenge} via {rule.provider} {rule.options}.")
    return 0

