"""`certify-tui credential ...`: stored provider credentials that rules name with --credential."""

from __future__ import annotations

import argparse

from certify_tui.challenges import CHALLENGE_TYPES
from certify_tui.cli.options import option_pairs
from certify_tui.cli.output import print_fields, print_json, print_table
from certify_tui.cli.parser import EXIT_FAILED, Subcommands
from certify_tui.deploy.tasks.credentials import TASK_KIND
from certify_tui.lifecycle import Core, credentials

_OPTION_HELP = "a provider parameter (`certify-tui providers dns-01 ID` lists them); secrets: key=@FILE, " \
               "key=env:VAR or key= alone to be asked"


def register(sub: Subcommands) -> None:
    credential = sub.add_parser("credential", help="stored provider credentials (secrets encrypted)")
    actions = credential.add_subparsers(dest="action", metavar="ACTION", required=True)

    add = actions.add_parser("add", help="store a provider's parameters under a name")
    add.add_argument("name")
    kind = add.add_mutually_exclusive_group(required=True)
    kind.add_argument("--provider", metavar="ID", help="for a challenge provider (with --challenge)")
    kind.add_argument("--task", metavar="TYPE", help="for a deployment task type (cert task types lists them)")
    add.add_argument("--challenge", default="dns-01", choices=list(CHALLENGE_TYPES))
    add.add_argument("--option", "-o", action="append", metavar="KEY=VALUE", help=_OPTION_HELP)
    add.add_argument("--json", action="store_true")
    add.set_defaults(run=_add)

    lst = actions.add_parser("list", help="list the stored credentials")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(run=_list)

    show = actions.add_parser("show", help="one credential, secrets masked, and the certificates using it")
    show.add_argument("name")
    show.add_argument("--json", action="store_true")
    show.set_defaults(run=_show)

    change = actions.add_parser("set", help="change values (every certificate using it follows)")
    change.add_argument("name")
    change.add_argument("--option", "-o", action="append", metavar="KEY=VALUE", required=True,
                        help=_OPTION_HELP + "; key= with nothing after removes an optional one")
    change.add_argument("--json", action="store_true")
    change.set_defaults(run=_set)

    remove = actions.add_parser("remove", help="delete a credential no certificate uses")
    remove.add_argument("name")
    remove.set_defaults(run=_remove)

    test = actions.add_parser("test", help="the provider's own check with these values")
    test.add_argument("name")
    test.add_argument("--domain", "-d", action="append", metavar="NAME",
                      help="a domain to test under (default: the names of the certificates using it)")
    test.add_argument("--json", action="store_true")
    test.set_defaults(run=_test)


def _print_view(view: dict[str, object], as_json: bool) -> None:
    if as_json:
        print_json(view)
        return
    values = view["values"] if isinstance(view["values"], dict) else {}
    secrets = view["secrets"] if isinstance(view["secrets"], dict) else {}
    used = view["used_by"] if isinstance(view["used_by"], list) else []
    print_fields([("name", view["name"]), ("provider", f"{view['challenge']} {view['provider']}"),
                  *[(key, value) for key, value in {**values, **secrets}.items()],
                  ("used by", ", ".join(used) or "no certificate")])


def _add(core: Core, args: argparse.Namespace) -> int:
    if args.task:
        added = credentials.add_credential(args.name, args.task, option_pairs(args.option), TASK_KIND)
    else:
        added = credentials.add_credential(args.name, args.provider, option_pairs(args.option), args.challenge)
    if args.json:
        print_json(credentials.show_credential(added.name))
    elif args.task:
        print(f"Stored the credential {added.name} (the {added.provider} task); use it with: "
              f"certify-tui cert task add CERT --type {added.provider} --credential {added.name}")
    else:
        print(f"Stored the credential {added.name} ({added.challenge} {added.provider}); "
              f"use it with: certify-tui cert rule CERT --challenge {added.challenge} --credential {added.name}")
    return 0


def _list(core: Core, args: argparse.Namespace) -> int:
    views = credentials.list_credentials()
    if args.json:
        print_json(views)
        return 0
    rows = [(v["name"], v["challenge"], v["provider"], ", ".join(v["used_by"]) or "-") for v in views]
    print_table(("name", "challenge", "provider", "used by"), rows,
                empty="No stored credentials. Add one: certify-tui credential add NAME --provider ID -o key=...")
    return 0


def _show(core: Core, args: argparse.Namespace) -> int:
    _print_view(credentials.show_credential(args.name), args.json)
    return 0


def _set(core: Core, args: argparse.Namespace) -> int:
    changed = credentials.set_credential(args.name, option_pairs(args.option))
    if args.json:
        print_json(credentials.show_credential(changed.name))
    else:
        users = credentials.certificates_using(changed.name)
        print(f"Changed the credential {changed.name}" + (f" (used by {', '.join(users)})." if users else "."))
    return 0


def _remove(core: Core, args: argparse.Namespace) -> int:
    print(f"Removed the credential {credentials.remove_credential(args.name)}.")
    return 0


def _test(core: Core, args: argparse.Namespace) -> int:
    checks = credentials.probe_credential(args.name, args.domain)
    failed = any(check.ok is False for check in checks)
    if args.json:
        print_json({"ok": not failed, "checks": [check.to_dict() for check in checks]})
    else:
        for check in checks:
            print(f"{check.symbol} {check.name}: {check.message}")
            if check.ok is False and check.remedy:
                print(f"  {check.remedy}")
    return EXIT_FAILED if failed else 0
