"""`certify-tui settings notify ...`: where notifications go, without apprise syntax (email over SMTP, a
webhook), and `settings test-notification`.

The SMTP password is read from `--password @FILE` or `--password env:VAR`, or asked at a terminal
(`--password` alone), and stored as a credential (sealed): never taken as it is from the command line."""

from __future__ import annotations

import argparse
from typing import Any

from certify_tui.cli.options import asked_secret, pointed_secret
from certify_tui.cli.output import print_fields, print_json
from certify_tui.cli.parser import EXIT_FAILED
from certify_tui.lifecycle import Core
from certify_tui.lifecycle.notify_settings import CHANNEL_KINDS, DEFAULT_SMTP_CREDENTIAL
from certify_tui.plugins.option_values import ENV_PREFIX, FILE_PREFIX, resolve_value

_ASK = "?"  # --password given without a value: ask at the terminal


def register(actions: argparse._SubParsersAction[Any]) -> None:
    notify = actions.add_parser("notify", help="notification channels: email over SMTP, a webhook")
    channels = notify.add_subparsers(dest="channel", metavar="CHANNEL", required=True)

    show = channels.add_parser("show", help="the channels configured (no password or token shown)")
    show.add_argument("--json", action="store_true")
    show.set_defaults(run=_show)

    email = channels.add_parser("email", help="send notifications by email through an SMTP server")
    email.add_argument("--smtp-host", required=True, metavar="HOST")
    email.add_argument("--smtp-port", type=int, metavar="PORT", help="default: 587 STARTTLS, 465 TLS, 25 plain")
    security = email.add_mutually_exclusive_group()
    security.add_argument("--starttls", dest="security", action="store_const", const="starttls",
                          help="upgrade to TLS after connecting (the default)")
    security.add_argument("--tls", dest="security", action="store_const", const="tls",
                          help="TLS from the start (port 465)")
    security.add_argument("--plain", dest="security", action="store_const", const="plain",
                          help="no encryption (a local relay only)")
    email.add_argument("--user", metavar="NAME", help="SMTP login; stored with the password as a credential")
    email.add_argument("--password", nargs="?", const=_ASK, metavar="SOURCE",
                       help="@FILE or env:VAR, or nothing after it to be asked (never the password itself)")
    email.add_argument("--credential", metavar="NAME",
                       help=f"the credential holding the login (default {DEFAULT_SMTP_CREDENTIAL}); alone: an "
                            f"SMTP login stored before")
    email.add_argument("--from", dest="sender", metavar="ADDRESS", help="sender (default certify-tui@HOSTNAME)")
    email.add_argument("--to", action="append", metavar="ADDRESS",
                       help="recipient, repeatable (default: the ACME accounts' contact addresses)")
    email.add_argument("--json", action="store_true")
    email.set_defaults(run=_email, security="starttls")

    webhook = channels.add_parser("webhook", help="POST each notification as JSON to a URL")
    webhook.add_argument("url", metavar="URL", help="an https:// (or http://) URL; @FILE or env:VAR also work")
    webhook.add_argument("--json", action="store_true")
    webhook.set_defaults(run=_webhook)

    remove = channels.add_parser("remove", help="stop a channel (urls: the apprise URLs)")
    remove.add_argument("kind", choices=CHANNEL_KINDS)
    remove.add_argument("--json", action="store_true")
    remove.set_defaults(run=_remove)


def register_test(actions: argparse._SubParsersAction[Any]) -> None:
    test = actions.add_parser("test-notification", help="send a test message to every notification channel")
    test.add_argument("--json", action="store_true")
    test.set_defaults(run=_test_notification)


def password_from(source: str | None) -> str | None:
    """The password from @FILE / env:VAR, or typed at a terminal; never a literal from the command line."""
    if source is None:
        return None
    if source != _ASK:
        return pointed_secret(source, name="password", option="--password", ask_hint="or --password alone to be asked")
    return asked_secret("password", "--password", "SMTP password (not shown): ")


def _print_view(view: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(view)
        return
    email = view["email"]
    rows: list[tuple[str, Any]] = []
    if email:
        to = ", ".join(email["to"]) or "nobody (register an ACME account or give --to)"
        rows += [("email", f"{email['smtp_host']}:{email['smtp_port']} ({email['security']})"),
                 ("  login", email["credential"] or "none"), ("  from", email["from"]),
                 ("  to", to + (" (the accounts' contacts)" if email["to_is_default"] and email["to"] else ""))]
    else:
        rows.append(("email", "not set (certify-tui settings notify email --smtp-host HOST ...)"))
    rows.append(("webhook", view["webhook"] or "not set"))
    rows.append(("apprise URLs", view["urls"] or "none"))
    rows.append(("on success too", "yes" if view["notify_on_success"] else "no"))
    print_fields(rows)


def _show(core: Core, args: argparse.Namespace) -> int:
    _print_view(core.notify_channels(), args.json)
    return 0


def _email(core: Core, args: argparse.Namespace) -> int:
    view = core.set_email_channel(args.smtp_host, port=args.smtp_port, security=args.security, user=args.user,
                                  password=password_from(args.password), credential=args.credential,
                                  sender=args.sender, to=args.to)
    if args.json:
        print_json(view)
        return 0
    print("Saved. Check it with: certify-tui settings test-notification")
    _print_view(view, False)
    return 0


def _webhook(core: Core, args: argparse.Namespace) -> int:
    url = args.url if not args.url.startswith((FILE_PREFIX, ENV_PREFIX)) else resolve_value("url", args.url)
    view = core.set_webhook_channel(url)
    if args.json:
        print_json(view)
    else:
        print(f"Saved: notifications are POSTed to {view['webhook']}. Check it with: "
              f"certify-tui settings test-notification")
    return 0


def _remove(core: Core, args: argparse.Namespace) -> int:
    view = core.remove_notify_channel(args.kind)
    if args.json:
        print_json(view)
    else:
        kept = " (its SMTP login credential is kept: certify-tui credential list)" if args.kind in (
            "email", "all") else ""
        print(f"Removed {args.kind}{kept}. Channels left: {', '.join(view['channels']) or 'none'}.")
    return 0


def _test_notification(core: Core, args: argparse.Namespace) -> int:
    result = core.send_test_notification()
    if args.json:
        print_json(result.to_dict())
    else:
        print(result.message)
    return 0 if result.ok else EXIT_FAILED
