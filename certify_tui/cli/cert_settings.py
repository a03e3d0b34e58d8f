"""`certify-tui cert add` and `cert set`: a certificate's settings as options (only those given change).

The options become a CertificateChanges (lifecycle/spec_changes.py), which the core applies and validates the
same way for every face; `OPTION_FIELDS` names the CertificateSpec field each option sets.
"""

from __future__ import annotations

import argparse

from certify_tui.challenges import CHALLENGE_TYPES
from certify_tui.cli.options import OPTION_HELP, option_pairs
from certify_tui.cli.output import print_json
from certify_tui.cli.parser import Subcommands
from certify_tui.errors import UsageError
from certify_tui.keys import KEY_TYPES
from certify_tui.lifecycle import Core
from certify_tui.lifecycle.certificates import DEPLOYMENT_MODES, CertificateSpec
from certify_tui.lifecycle.spec_changes import CertificateChanges, apply_changes
from certify_tui.model import DEPLOYMENT_BINDINGS, RenewalKind, RenewalPolicy

# The CertificateSpec field each option of `cert set` changes (checked by tests/unit/test_cli_parity.py).
OPTION_FIELDS = {
    "--rename": "name", "--domain": "domains", "--add-domain": "domains", "--remove-domain": "domains",
    "--account": "account", "--key-type": "key_type", "--reuse-key": "reuse_key", "--new-key": "reuse_key",
    "--preferred-chain": "preferred_chain", "--profile": "profile", "--deploy": "deployment_mode",
    "--site": "deployment_site", "--deploy-binding": "deployment_binding", "--renew-percent": "renewal", "--renew-days-before": "renewal",
    "--renew-days-after": "renewal", "--auto-renew": "auto_renew", "--no-auto-renew": "auto_renew",
    "--tag": "tags", "--add-tag": "tags", "--remove-tag": "tags", "--no-tags": "tags",
    "--fallback-account": "fallback_accounts", "--no-fallback-accounts": "fallback_accounts",
}
_RENEWAL_OPTIONS: tuple[tuple[str, RenewalKind], ...] = (
    ("renew_percent", "percent"), ("renew_days_before", "days_before"), ("renew_days_after", "days_after"))


def register(actions: Subcommands) -> None:
    add = actions.add_parser("add", help="add a managed certificate (does not order it yet)")
    add.add_argument("name", help="a short name: letters, digits, '.', '_' and '-'")
    add.add_argument("--domain", "-d", dest="domains", action="append", required=True, metavar="D",
                     help="a name to include (repeat; the first is the primary)")
    add.add_argument("--challenge", default="http-01", choices=CHALLENGE_TYPES)
    add.add_argument("--provider", help="challenge provider (http-01: standalone, webroot)")
    add.add_argument("--option", "-o", action="append", metavar="KEY=VALUE",
                     help=f"provider option (standalone: address, port; webroot: path): {OPTION_HELP}")
    add.add_argument("--credential", metavar="NAME", help="a stored credential for the provider (credential list)")
    add.add_argument("--tag", dest="tags", action="append", metavar="TAG", help="a tag (repeat)")
    _setting_options(add)
    add.add_argument("--json", action="store_true")
    add.set_defaults(run=_add)

    change = actions.add_parser("set", help="change a certificate's settings (only the options given change)")
    change.add_argument("name")
    change.add_argument("--rename", metavar="NEW_NAME", help="a new name (only before it has files)")
    change.add_argument("--domain", "-d", dest="domains", action="append", metavar="D",
                        help="replace the names with these (repeat; the first is the primary)")
    change.add_argument("--add-domain", action="append", default=[], metavar="D", help="add a name (repeat)")
    change.add_argument("--remove-domain", action="append", default=[], metavar="D", help="remove a name (repeat)")
    tags = change.add_mutually_exclusive_group()
    tags.add_argument("--tag", dest="tags", action="append", metavar="TAG",
                      help="replace the tags with these (repeat)")
    tags.add_argument("--no-tags", dest="tags", action="store_const", const=[], help="remove every tag")
    change.add_argument("--add-tag", action="append", default=[], metavar="TAG", help="add a tag (repeat)")
    change.add_argument("--remove-tag", action="append", default=[], metavar="TAG", help="remove a tag (repeat)")
    _setting_options(change)
    change.add_argument("--json", action="store_true")
    change.set_defaults(run=_set)


def _setting_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--account", metavar="EMAIL_OR_ID", help="the account to use (needed when there are several)")
    parser.add_argument("--key-type", choices=list(KEY_TYPES), help="private key type (default ec256)")
    key = parser.add_mutually_exclusive_group()
    key.add_argument("--reuse-key", dest="reuse_key", action="store_const", const=True,
                     help="keep the same private key across renewals")
    key.add_argument("--new-key", dest="reuse_key", action="store_const", const=False,
                     help="a new private key at each renewal (the default)")
    parser.add_argument("--preferred-chain", metavar="ISSUER_CN", help="prefer the chain up to this issuer ('' none)")
    parser.add_argument("--profile", help="ACME profile to ask the CA for, if it lists profiles ('' none)")
    parser.add_argument("--deploy", choices=list(DEPLOYMENT_MODES),
                        help="auto: every matching nginx/Apache site; single: one site (--site); files: live "
                             "files only; none: archive only")
    parser.add_argument("--site", metavar="SITE", help="the site for --deploy single (certify-tui sites lists them)")
    parser.add_argument("--deploy-binding", choices=DEPLOYMENT_BINDINGS,
                        help="auto/single: 'update' changes only sites that already have TLS (the default); "
                             "'add-or-update' also gives a matching HTTP-only site a TLS listener")
    renew = parser.add_mutually_exclusive_group()
    renew.add_argument("--renew-percent", type=float, metavar="N", help="renew at N percent of the lifetime (1-99)")
    renew.add_argument("--renew-days-before", type=float, metavar="N", help="renew N days before expiry")
    renew.add_argument("--renew-days-after", type=float, metavar="N", help="renew N days after issuance")
    auto = parser.add_mutually_exclusive_group()
    auto.add_argument("--auto-renew", dest="auto_renew", action="store_const", const=True,
                      help="renew automatically (the default)")
    auto.add_argument("--no-auto-renew", dest="auto_renew", action="store_const", const=False,
                      help="do not renew automatically")
    fallback = parser.add_mutually_exclusive_group()
    fallback.add_argument("--fallback-account", dest="fallback_accounts", action="append", metavar="EMAIL_OR_ID",
                          help="an account at another CA to fail over to after repeated CA-side failures "
                               "(repeat, in order; replaces the list; default: the fallback_accounts setting)")
    fallback.add_argument("--no-fallback-accounts", dest="fallback_accounts", action="store_const", const=[],
                          help="no fallback accounts of its own (the fallback_accounts setting applies)")


def changes_from(args: argparse.Namespace) -> CertificateChanges:
    """The settings options given, as the core's typed change."""
    renewal = next((RenewalPolicy(kind, getattr(args, dest)) for dest, kind in _RENEWAL_OPTIONS
                    if getattr(args, dest) is not None), None)
    return CertificateChanges(
        name=getattr(args, "rename", None), domains=tuple(args.domains) if args.domains else None,
        add_domains=tuple(getattr(args, "add_domain", ())), remove_domains=tuple(getattr(args, "remove_domain", ())),
        account=args.account, key_type=args.key_type, reuse_key=args.reuse_key,
        preferred_chain=args.preferred_chain, profile=args.profile, deployment_mode=args.deploy,
        deployment_site=args.site, deployment_binding=args.deploy_binding, renewal=renewal,
        auto_renew=args.auto_renew, tags=None if args.tags is None else tuple(args.tags),
        add_tags=tuple(getattr(args, "add_tag", ())), remove_tags=tuple(getattr(args, "remove_tag", ())),
        fallback_accounts=None if args.fallback_accounts is None else tuple(args.fallback_accounts))


def _add(core: Core, args: argparse.Namespace) -> int:
    start = CertificateSpec(name=args.name, domains=[], challenge=args.challenge, provider=args.provider,
                            options=option_pairs(args.option), credential=args.credential)
    cert = core.add_certificate(apply_changes(start, changes_from(args)))
    if args.json:
        print_json(core.certificate_view(cert))
    else:
        print(f"Added {cert.name} for {', '.join(cert.identifiers)}. Next: certify-tui cert preview {cert.name}, "
              f"then certify-tui cert request {cert.name}.")
    return 0


def _set(core: Core, args: argparse.Namespace) -> int:
    changes = changes_from(args)
    if changes == CertificateChanges():
        raise UsageError("Nothing to change: give at least one option (certify-tui cert set --help lists them).")
    cert = core.change_certificate(args.name, changes)
    if args.json:
        print_json(core.certificate_view(cert))
    else:
        print(f"Saved {cert.name}. See what the next request would do: certify-tui cert preview {cert.name}.")
    return 0
