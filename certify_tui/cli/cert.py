"""`certify-tui cert ...`"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from certify_tui.challenges import CHALLENGE_TYPES
from certify_tui.cli import cert_import, cert_log, cert_revocation, cert_revoke, cert_settings, cert_tasks
from certify_tui.cli.options import OPTION_HELP, option_pairs
from certify_tui.cli.output import days_left, print_fields, print_json, print_table
from certify_tui.cli.parser import Subcommands
from certify_tui.errors import safe_text
from certify_tui.events import ProgressEvent
from certify_tui.lifecycle import Core


def register(sub: Subcommands) -> None:
    cert = sub.add_parser("cert", help="managed certificates")
    actions = cert.add_subparsers(dest="action", metavar="ACTION", required=True)

    cert_settings.register(actions)
    cert_tasks.register(actions)
    cert_log.register(actions)
    cert_revocation.register(actions)
    cert_revoke.register(actions)
    cert_import.register(actions)

    lst = actions.add_parser("list", help="list managed certificates")
    lst.add_argument("--tag", dest="tags", action="append", default=[], metavar="TAG",
                     help="only those with this tag (repeat: with all of them)")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(run=_list)

    for verb, helptext, run in (("show", "show one certificate", _show),
                                ("preview", "show what a request would do", _preview)):
        p = actions.add_parser(verb, help=helptext)
        p.add_argument("name")
        p.add_argument("--json", action="store_true")
        p.set_defaults(run=run)

    req = actions.add_parser("request", help="order, validate, fetch and store the certificate now")
    req.add_argument("name")
    req.add_argument("--json", action="store_true")
    req.set_defaults(run=_request)

    test = actions.add_parser("test", help="check names, ports, reachability, CAA and DNS access (no CA order)")
    test.add_argument("name")
    test.add_argument("--json", action="store_true")
    test.set_defaults(run=_test)

    deploy = actions.add_parser("deploy", help="deploy the current certificate again, without ordering")
    deploy.add_argument("name")
    deploy.set_defaults(run=_deploy)

    rule = actions.add_parser("rule", help="add, replace or remove a validation rule (first match wins)")
    rule.add_argument("name")
    rule.add_argument("--pattern", default="*", help="names it applies to: '*', 'example.org', '*.example.com', "
                                                     "or a comma list (default '*', the catch-all rule)")
    rule.add_argument("--challenge", default="http-01", choices=CHALLENGE_TYPES)
    rule.add_argument("--provider", help="challenge provider (certify-tui providers lists them)")
    rule.add_argument("--option", "-o", action="append", metavar="KEY=VALUE",
                      help=f"provider option: {OPTION_HELP}")
    rule.add_argument("--credential", metavar="NAME", help="a stored credential for the provider (credential list)")
    rule.add_argument("--remove", action="store_true", help="remove the rule with this pattern")
    rule.set_defaults(run=_rule)

    rm = actions.add_parser("remove", help="stop managing a certificate and delete its files")
    rm.add_argument("name")
    rm.add_argument("--keep-files", action="store_true", help="leave the certificate's files on disk")
    rm.set_defaults(run=_remove)


def _list(core: Core, args: argparse.Namespace) -> int:
    views = [core.certificate_view(c) for c in core.list_certificates(tags=args.tags)]
    if args.json:
        print_json(views)
        return 0
    rows = []
    for v in views:
        others = len(v["identifiers"]) - 1
        domain = v["primary_identifier"] + (f" (+{others})" if others else "")
        rows.append((v["name"], domain, v["status"], days_left(v["not_after"]),
                     (v["renews_at"] or "-")[:16].replace("T", " "), v["problem"] or v["last_error"] or ""))
    print_table(("name", "domains", "status", "expires", "next renewal", "last error"), rows,
                empty=(f"No certificate has the tag{'s' if len(args.tags) > 1 else ''} {', '.join(args.tags)}."
                       if args.tags else "No certificates yet. Add one: certify-tui cert add NAME --domain example.com"))
    return 0


def _show(core: Core, args: argparse.Namespace) -> int:
    view = core.certificate_view(core.get_certificate(args.name))
    if args.json:
        print_json(view)
        return 0
    files = view["files"] or {}
    print_fields([
        ("Name", view["name"]), ("Identifiers", view["identifiers"]), ("Status", view["status"]),
        *([("Revoked", f"{view['revoked_at']} ({view['revocation_reason']})")] if view.get("revoked_at") else []),
        ("Account", f"{view['account']} ({view['ca']})"), ("Key type", view["key_type"]),
        ("Serial", view["serial"]), ("Issuer", view["issuer"]), ("Not before", view["not_before"]),
        ("Not after", view["not_after"]), ("Renews", view["renews_at"]),
        ("Deployment", view["deploy_status"] and f"{view['deploy_status']} {view['deploy_error'] or ''}".strip()),
        ("Failures", view["failure_count"]), ("Last error", view["last_error"]),
        *_failover_fields(view),
        *([("Problem", view["problem"])] if view["problem"] else []),
        *[(f"File {role}", path) for role, path in files.items()],
        ("Auto-renew", "yes" if view["auto_renew"] else "no"),
        ("Tags", view["tags"]),
        ("Renewal", _renewal_text(view["renewal"])),
        ("Deploy mode", view["deployment"]["mode"]),
        *([("Deploy site", view["deployment"]["site"])] if view["deployment"].get("site") else []),
        ("Tasks", "-" if not view["deployment"]["tasks"] else ""),
    ])
    for task in view["deployment"]["tasks"]:
        print(f"  {task['number']}. {safe_text(task['type'])}: {safe_text(task['title'])} "
              f"(runs on {task['trigger']})" + (f", credential {task['credential']}" if task.get("credential") else ""))
    return 0


def _failover_fields(view: dict[str, Any]) -> list[tuple[str, Any]]:
    """Only what applies: who issued it (when known), the fallbacks, a rate limit, a CA-side failure streak."""
    issued = view.get("issued_by")
    return [
        *([("Issued by", f"{issued['account']} ({issued['ca']})")] if issued else []),
        *([("Fallback accounts", view["fallback_accounts"])] if view.get("fallback_accounts") else []),
        *([("Rate limited until", view["rate_limited_until"])] if view.get("rate_limited_until") else []),
        *([("CA-side failures", view["ca_failure_count"])] if view.get("ca_failure_count") else []),
    ]


def _renewal_text(renewal: dict[str, Any]) -> str:
    kind, value = next(iter(renewal.items()))
    return {"percent": f"at {value}% of the lifetime", "days_before": f"{value} days before expiry",
            "days_after": f"{value} days after issuance"}.get(kind, f"{kind} {value}")


def _preview(core: Core, args: argparse.Namespace) -> int:
    plan = core.preview(args.name)
    if args.json:
        print_json(plan.to_dict())
    else:
        print(plan.render_text())
    return 0


def _request(core: Core, args: argparse.Namespace) -> int:
    def show(event: ProgressEvent) -> None:
        if args.verbose and not args.json:
            print(event.line(), file=sys.stderr)

    def ask(prompt: str) -> bool:
        # Only on a terminal: a script or cron job cannot answer, and the DNS check waits instead.
        print(prompt, file=sys.stderr)
        try:
            return input("Created? [y/N] ").strip().lower() in ("y", "yes")
        except EOFError:
            return False

    result = core.request(args.name, on_event=show, confirm=ask if sys.stdin.isatty() else None)
    if args.json:
        print_json(core.certificate_view(core.get_certificate(args.name)))
    else:
        v = result.version
        print(f"Issued {result.name}: serial {v.serial}, valid until {v.not_after:%Y-%m-%d %H:%M} UTC "
              f"({result.seconds:.2f} s). Files: {v.files['fullchain']}")
    if not result.deployed:
        # Issued but maybe not in use: say so (the exit status stays 0: the certificate is issued and valid;
        # `cert show` has the deployment status, `cert deploy` retries and fails with status 1).
        print(f"certify-tui: warning: the deployment failed: {safe_text(result.deploy_error or 'unknown reason')} "
              f"(retry: certify-tui cert deploy {result.name})", file=sys.stderr)
    return 0


def _test(core: Core, args: argparse.Namespace) -> int:
    checks = core.test_certificate(args.name)
    failed = [c for c in checks if c.ok is False]
    if args.json:
        print_json([c.to_dict() for c in checks])
    else:
        print_table(("", "check", "result"), [(c.symbol, c.name, c.message) for c in checks],
                    empty="Nothing to check.")
        if failed:
            print("\nTo fix:")
            for c in failed:
                print(f"  ✗ {c.name}: {c.remedy or c.message}")
        else:
            print(f"\nAll {len(checks)} checks passed or were skipped.")
    return 1 if failed else 0


def _deploy(core: Core, args: argparse.Namespace) -> int:
    def show(event: ProgressEvent) -> None:
        if args.verbose:
            print(event.line(), file=sys.stderr)

    error = core.deploy(args.name, on_event=show)
    if error:
        print(f"certify-tui: error: deployment failed: {safe_text(error)}", file=sys.stderr)
        return 1
    print(f"Deployed {args.name}.")
    return 0


def _rule(core: Core, args: argparse.Namespace) -> int:
    rules = core.set_challenge_rule(args.name, args.pattern, args.challenge, args.provider,
                                    option_pairs(args.option), remove=args.remove,
                                    credential=args.credential)
    for number, rule in enumerate(rules, 1):
        using = f" with credential {rule.credential}" if rule.credential else ""
        print(f"{number}. {rule.pattern:<24} {rule.challenge} via {rule.provider}{using}")
    return 0


def _remove(core: Core, args: argparse.Namespace) -> int:
    removed = core.remove_certificate(args.name, delete_files=not args.keep_files)
    print(f"Removed {removed.name}.")
    return 0
