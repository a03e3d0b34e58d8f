"""`certify-tui import certbot`: take over certbot's lineages with certbot's own accounts."""

from __future__ import annotations

import argparse

from certify_tui.cli.output import print_json
from certify_tui.cli.parser import EXIT_FAILED, EXIT_OK, Subcommands
from certify_tui.errors import safe_text
from certify_tui.lifecycle import Core
from certify_tui.lifecycle.import_certbot import DISABLE_CERTBOT, LineagePlan

_WHEN = {"before": "before each order", "success": "after a successful renewal", "always": "after every attempt"}


def register_import(sub: Subcommands) -> None:
    """Register `certify-tui import ...` for this source."""
    cb = sub.add_parser("certbot", help="certbot's lineages and accounts (/etc/letsencrypt): no new registration")
    cb.add_argument("--config-dir", metavar="DIR", help="certbot's configuration folder (default /etc/letsencrypt)")
    cb.add_argument("--dry-run", action="store_true", help="show what each lineage would become; change nothing")
    cb.add_argument("--ca-bundle", metavar="PEM", help="trust bundle for a private or test CA's HTTPS")
    cb.add_argument("--allow-internal-names", action="store_true",
                    help="allow names under no public suffix (private and test CAs)")
    cb.add_argument("--json", action="store_true")
    cb.set_defaults(run=_certbot)


def _certbot(core: Core, args: argparse.Namespace) -> int:
    result = core.import_certbot(args.config_dir, dry_run=args.dry_run, ca_bundle=args.ca_bundle,
                                 allow_internal_names=args.allow_internal_names)
    failed = any(p.action == "failed" for p in result.lineages)
    if args.json:
        print_json(result.to_dict())
        return EXIT_FAILED if failed else EXIT_OK
    if not result.lineages:
        print(f"No lineages in {result.config_dir}/renewal.")
        return EXIT_OK
    for plan in result.lineages:
        _print_plan(plan, dry_run=result.dry_run)
    counts: dict[str, int] = {}
    for plan in result.lineages:
        counts[plan.action] = counts.get(plan.action, 0) + 1
    print(", ".join(f"{n} {'to import' if action == 'import' else action}" for action, n in counts.items()) + ".")
    if not result.dry_run and counts.get("imported"):
        print()
        print("\n".join(DISABLE_CERTBOT))
    return EXIT_FAILED if failed else EXIT_OK


def _print_plan(plan: LineagePlan, *, dry_run: bool) -> None:
    action = "would import" if dry_run and plan.action == "import" else plan.action
    print(f"{safe_text(plan.lineage)}: {action}" + (f" ({safe_text(plan.message)})" if plan.message else ""))
    if plan.mapping is None or plan.account is None:
        print()
        return
    mapping = plan.mapping
    lines = [("names", ", ".join(plan.names)),
             ("key", f"{plan.key_type}, valid until {plan.not_after:%Y-%m-%d}" if plan.not_after else plan.key_type),
             ("account", f"certbot's {plan.account.id} at {plan.account.server}"
                         + (f" (already here: id {plan.existing_account})" if plan.existing_account
                            else " (same key and URL, no new registration)"))]
    for rule in mapping.rules:
        options = " ".join(f"{k}={v}" for k, v in rule.options.items())
        using = f" with credential {rule.credential}" if rule.credential else ""
        lines.append(("validation", f"{rule.pattern}: {rule.challenge} via {rule.provider} {options}{using}"))
    if mapping.credential:
        lines.append(("credential", f"{mapping.credential.name} ({mapping.credential.provider}) from "
                                    f"{mapping.credential.source}"))
    for task in mapping.tasks:
        lines.append(("task", f"{task.title}: runs {_WHEN.get(task.options['trigger'], task.options['trigger'])}"))
    if mapping.renewal:
        lines.append(("renewal", f"{mapping.renewal.value} days before expiry"))
    if not mapping.auto_renew:
        lines.append(("auto-renew", "off"))
    for item in mapping.not_mapped:
        lines.append(("not mapped", item))
    if plan.seconds is not None:
        lines.append(("took", f"{plan.seconds:.2f} s"))
    for label, text in lines:
        print(f"  {label + ':':<12} {safe_text(text)}")
    print()
