"""`certify-tui cert import NAME (--cert FILE --key FILE [--chain FILE] | --pfx FILE)`: a certificate issued
elsewhere becomes a managed one. A PFX password comes from `--password @FILE`, `--password env:VAR` or a
prompt (never the password itself on the command line, where ps and shell history see it)."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from certify_tui.challenges import CHALLENGE_TYPES
from certify_tui.cli.options import OPTION_HELP, option_pairs
from certify_tui.cli.output import print_json
from certify_tui.cli.parser import Subcommands
from certify_tui.errors import UsageError
from certify_tui.lifecycle import Core
from certify_tui.lifecycle.cert_import import CertificateBundle, PasswordNeeded, from_pem, from_pfx
from certify_tui.paths import os_error_reason
from certify_tui.plugins.option_values import resolve_value


def register(actions: Subcommands) -> None:
    imp = actions.add_parser("import", help="manage a certificate issued elsewhere (PEM files or a PFX)")
    imp.add_argument("name", help="a short name: letters, digits, '.', '_' and '-'")
    imp.add_argument("--cert", metavar="FILE", help="the certificate (PEM; may hold its chain too)")
    imp.add_argument("--key", metavar="FILE", help="its private key (PEM, not encrypted)")
    imp.add_argument("--chain", metavar="FILE", help="the intermediate certificates (PEM), if not in --cert")
    imp.add_argument("--pfx", metavar="FILE", help="a PKCS#12 bundle (.pfx/.p12) with the key and chain")
    imp.add_argument("--password", metavar="@FILE|env:VAR",
                     help="the PFX password from a file or an environment variable (asked on a terminal "
                          "when left out)")
    imp.add_argument("--account", metavar="EMAIL_OR_ID", help="the account renewals use (needed when there are "
                                                               "several)")
    imp.add_argument("--challenge", default="http-01", choices=CHALLENGE_TYPES, help="how renewals validate")
    imp.add_argument("--provider", help="challenge provider (default: the configured default rule)")
    imp.add_argument("--option", "-o", action="append", metavar="KEY=VALUE", help=f"provider option: {OPTION_HELP}")
    imp.add_argument("--credential", metavar="NAME", help="a stored credential for the provider")
    imp.add_argument("--json", action="store_true")
    imp.set_defaults(run=_import)


def _import(core: Core, args: argparse.Namespace) -> int:
    bundle = _read_bundle(args)
    cert = core.import_certificate(args.name, bundle, account=args.account, challenge=args.challenge,
                                   provider=args.provider, options=option_pairs(args.option),
                                   credential=args.credential)
    view = core.certificate_view(cert)
    if args.json:
        print_json({**view, "expired": bundle.expired, "dropped_certificates": bundle.dropped})
        return 0
    print(f"Imported {cert.name}: {', '.join(view['identifiers'])} ({bundle.key_type}), serial {view['serial']}, "
          f"valid until {bundle.not_after:%Y-%m-%d %H:%M} UTC. Files: {(view['files'] or {}).get('fullchain')}")
    if bundle.expired:
        print(f"certify-tui: warning: {cert.name} expired on {bundle.not_after:%Y-%m-%d}: it is due for renewal "
              f"now (certify-tui renew {cert.name})", file=sys.stderr)
    if bundle.dropped:
        print(f"certify-tui: warning: {bundle.dropped} certificate(s) given are not in its chain and were left out",
              file=sys.stderr)
    print(f"Renewed over ACME when due by {view['account']} ({view['ca']}); deploy it now with "
          f"certify-tui cert deploy {cert.name} once a site or task is set.")
    return 0


def _read_bundle(args: argparse.Namespace) -> CertificateBundle:
    pem_given = args.cert or args.key or args.chain
    if args.pfx and pem_given:
        raise UsageError("Give either --pfx, or --cert and --key (with --chain): not both.")
    if args.pfx:
        data = _read(args.pfx, "--pfx")
        password = _password(args.password) if args.password else None
        try:
            return from_pfx(data, password)
        except PasswordNeeded:
            if args.password or not sys.stdin.isatty():
                raise
        return from_pfx(data, _ask())
    if args.password:
        raise UsageError("--password is for a PFX (--pfx).", field="password")
    if not (args.cert and args.key):
        raise UsageError("Give --cert FILE and --key FILE (and --chain FILE if the chain is apart), or --pfx FILE.")
    return from_pem(_read(args.cert, "--cert"), _read(args.key, "--key"),
                    _read(args.chain, "--chain") if args.chain else b"")


def _read(path: str, option: str) -> bytes:
    try:
        return Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise UsageError(f"{option}: cannot read {path}: {os_error_reason(exc)}.",
                         field=option.removeprefix("--")) from None


def _password(given: str) -> str:
    if not given.startswith(("@", "env:")):
        raise UsageError("--password takes @FILE or env:VAR, never the password itself (ps and shell history "
                         "would show it); leave it out to be asked.", field="password")
    return resolve_value("password", given)


def _ask() -> str:
    try:
        return getpass.getpass("PFX password (not shown): ")
    except EOFError:
        raise UsageError("No PFX password was typed.", field="password") from None

