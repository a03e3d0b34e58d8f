"""`certify-tui export bundle FILE` and `certify-tui import bundle FILE`: a whole installation, encrypted.

The passphrase is asked for (twice on export) at a terminal, or read from `--passphrase @FILE` or
`--passphrase env:VAR`; never taken as it is from the command line (it would show in `ps` and the history)."""

from __future__ import annotations

import argparse

from certify_tui.cli.options import asked_secret, pointed_secret
from certify_tui.cli.output import print_json, print_table
from certify_tui.cli.parser import Subcommands
from certify_tui.errors import UsageError
from certify_tui.lifecycle import Core

_PASSPHRASE_HELP = "@FILE (the file's content) or env:VAR; without it, asked at the terminal"


def register_import(sub: Subcommands) -> None:
    """Register `certify-tui import bundle`."""
    bundle = sub.add_parser("bundle", help="an encrypted bundle made by `certify-tui export bundle`")
    bundle.add_argument("file", metavar="FILE")
    bundle.add_argument("--dry-run", action="store_true", help="show what would be new, changed or in conflict")
    bundle.add_argument("--replace", action="store_true",
                        help="also take the bundle's items that conflict with ones here (same name, other content)")
    bundle.add_argument("--passphrase", metavar="SOURCE", help=_PASSPHRASE_HELP)
    bundle.add_argument("--json", action="store_true")
    bundle.set_defaults(run=_import)


def register_export(sub: Subcommands) -> None:
    """Register `certify-tui export bundle`."""
    bundle = sub.add_parser("bundle", help="everything (accounts with keys, certificates with their files, "
                                           "credentials, tasks, settings) in one file encrypted with a passphrase")
    bundle.add_argument("file", metavar="FILE", help="the bundle to write (0600; replaced if it exists)")
    bundle.add_argument("--passphrase", metavar="SOURCE", help=_PASSPHRASE_HELP)
    bundle.add_argument("--json", action="store_true")
    bundle.set_defaults(run=_export)


def passphrase_from(source: str | None, *, confirm: bool) -> str:
    """The passphrase from `@FILE` / `env:VAR`, else typed at a terminal (twice when `confirm`)."""
    if source is not None:
        return pointed_secret(source, name="passphrase", option="--passphrase",
                              ask_hint="or leave the option out to be asked")
    typed = asked_secret("passphrase", "--passphrase", "Bundle passphrase (not shown): ")
    if confirm and asked_secret("passphrase", "--passphrase", "The same passphrase again: ") != typed:
        raise UsageError("The two passphrases differ: nothing was written.", field="passphrase")
    return typed


def _export(core: Core, args: argparse.Namespace) -> int:
    done = core.export_bundle(args.file, passphrase_from(args.passphrase, confirm=True))
    if args.json:
        print_json(done)
    else:
        print(f"Wrote {done['file']} ({done['bytes']:,} bytes, readable only by you): {done['accounts']} "
              f"account(s), {done['certificates']} certificate(s) ({done['certificate_files']} with files, "
              f"{done['tasks']} task(s)), {done['credentials']} credential(s), the settings. Keep the "
              f"passphrase apart from the file: together they give the account and private keys.")
    return 0


def _summary(counts: dict[str, int], replace: bool) -> str:
    conflicts = counts["conflict"]
    taken = "taken (--replace)" if replace else "skipped: --replace takes them"
    return (f"{counts['new']} new, {counts['changed']} changed, {conflicts} in conflict"
            + (f" ({taken})" if conflicts else "") + f", {counts['unchanged']} unchanged, "
            f"{counts['skipped']} not usable here.")


def _import(core: Core, args: argparse.Namespace) -> int:
    plan = core.plan_bundle_import(args.file, passphrase_from(args.passphrase, confirm=False),
                                   replace=args.replace)
    result = None if args.dry_run else core.import_bundle(plan)
    if args.json:
        print_json({**plan.to_dict(), "dry_run": args.dry_run, "imported": result})
        return 0
    print(f"Bundle {plan.file}, exported {plan.exported_at[:16].replace('T', ' ') or '?'} UTC"
          f"{' on ' + plan.host if plan.host else ''}:")
    rows = [(item.state + ("" if plan.applies(item) or item.state in ("unchanged", "skipped") else " (skipped)"),
             item.kind, item.name, item.detail) for item in plan.items if item.state != "unchanged"]
    print_table(("state", "kind", "name", "detail"), rows, empty="Everything in it is here already.")
    print(_summary(plan.counts(), plan.replace))
    if args.dry_run:
        print("Dry run: nothing was changed.")
    elif result is not None and not result["applied"]:
        print("Nothing to import.")
    elif result is not None:
        print(f"Imported {len(result['applied'])} item(s), {result['files']} with certificate files. "
              f"Renewals use the same accounts: no new registration.")
    return 0
