"""`certify-tui account ...`"""

from __future__ import annotations

import argparse

from certify_tui.ca.presets import PRESETS
from certify_tui.cli.output import print_json, print_table
from certify_tui.cli.parser import Subcommands
from certify_tui.keys import KEY_TYPES
from certify_tui.lifecycle import Core


def register(sub: Subcommands) -> None:
    account = sub.add_parser("account", help="ACME accounts")
    actions = account.add_subparsers(dest="action", metavar="ACTION", required=True)

    add = actions.add_parser("add", help="register an account with a CA")
    add.add_argument("--email", required=True, help="contact address for expiry and policy notices")
    add.add_argument("--ca", required=True, metavar="NAME_OR_URL",
                     help=f"a preset ({', '.join(PRESETS)}) or an ACME directory URL")
    add.add_argument("--ca-bundle", metavar="PEM", help="trust bundle for a private or test CA's HTTPS")
    add.add_argument("--eab-kid", metavar="ID", help="External Account Binding key id (ZeroSSL, Google, ...)")
    add.add_argument("--eab-hmac-key", metavar="KEY", help="External Account Binding HMAC key (base64url)")
    add.add_argument("--key-type", default="ec256", choices=list(KEY_TYPES), help="account key type")
    add.add_argument("--allow-internal-names", action="store_true",
                     help="allow names under no public suffix (private and test CAs)")
    add.add_argument("--agree-tos", action="store_true", help="agree to the CA's terms of service")
    add.set_defaults(run=_add)

    lst = actions.add_parser("list", help="list accounts")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(run=_list)

    change = actions.add_parser("set", help="change an account's contact address at its CA")
    change.add_argument("account", metavar="EMAIL_OR_ID")
    change.add_argument("--email", required=True, help="the new contact address")
    change.add_argument("--json", action="store_true")
    change.set_defaults(run=_set)

    rollover = actions.add_parser("key-rollover", help="replace the account key at its CA (RFC 8555 key change)")
    rollover.add_argument("account", metavar="EMAIL_OR_ID")
    rollover.add_argument("--json", action="store_true")
    rollover.set_defaults(run=_key_rollover)

    deactivate = actions.add_parser("deactivate", help="deactivate an account at its CA (cannot be undone)")
    deactivate.add_argument("account", metavar="EMAIL_OR_ID")
    deactivate.add_argument("--json", action="store_true")
    deactivate.set_defaults(run=_deactivate)


def _set(core: Core, args: argparse.Namespace) -> int:
    account = core.change_account_email(args.account, args.email)
    if args.json:
        print_json(core.account_view(account))
    else:
        print(f"Account {account.id}: contact is now {account.email} at {account.ca_name or account.directory_url}.")
    return 0


def _key_rollover(core: Core, args: argparse.Namespace) -> int:
    account = core.roll_over_account_key(args.account)
    if args.json:
        print_json(core.account_view(account))
    else:
        print(f"Account {account.id} ({account.email}) now signs with a new {account.key_type} key; "
              f"the CA no longer accepts the old one.")
    return 0


def _add(core: Core, args: argparse.Namespace) -> int:
    account = core.add_account(
        email=args.email, ca=args.ca, agree_tos=args.agree_tos, ca_bundle=args.ca_bundle,
        eab_kid=args.eab_kid, eab_hmac_key=args.eab_hmac_key, key_type=args.key_type,
        allow_internal_names=args.allow_internal_names)
    if getattr(args, "json", False):
        print_json(core.account_view(account))
    else:
        print(f"Registered {account.email} at {account.ca_name or account.directory_url} (account id {account.id}).")
    return 0


def _list(core: Core, args: argparse.Namespace) -> int:
    views = [core.account_view(a) for a in core.list_accounts()]
    if args.json:
        print_json(views)
        return 0
    rows = [(v["id"], v["email"], v["ca"], v["key_type"], v["status"]) for v in views]
    print_table(("id", "email", "ca", "key", "status"), rows,
                empty="No accounts yet. Add one: certify-tui account add --email you@example.com "
                      "--ca letsencrypt --agree-tos")
    return 0


def _deactivate(core: Core, args: argparse.Namespace) -> int:
    account = core.deactivate_account(args.account)
    if args.json:
        print_json(core.account_view(account))
    else:
        print(f"Deactivated {account.email} at {account.ca_name or account.directory_url}.")
    return 0
