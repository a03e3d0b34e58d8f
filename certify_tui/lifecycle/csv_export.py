"""CSV export: the certificates in the columns `import csv` reads, so a file round-trips (csv_import.py).

A CSV row holds one validation rule without options and a renewal percent; what a certificate has beyond that
(several rules, a rule's own options, tasks, a days-based renewal...) is not in the file and is listed in the
export's notes, so nobody takes the file for a complete copy (the encrypted bundle is that).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field

from certify_tui.lifecycle.csv_import import COLUMNS, LIST_SEPARATOR
from certify_tui.model import ChallengeRule
from certify_tui.store.models import Account, ManagedCertificate


@dataclass
class CsvExport:
    text: str
    count: int
    notes: list[str] = field(default_factory=list)  # "NAME: what is not in the file"


def export_csv(certs: Sequence[ManagedCertificate], default_rule: ChallengeRule | None = None) -> CsvExport:
    """`default_rule`: the rule new certificates start with; a certificate validated by just that rule gets
    empty challenge/provider/credential cells, which an import turns into its installation's default."""
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    notes = []
    for cert in certs:
        row, left_out = _row(cert, default_rule)
        writer.writerow(row)
        if left_out:
            notes.append(f"{cert.name}: not in the file: {'; '.join(left_out)}")
    return CsvExport(out.getvalue(), len(certs), notes)


def _row(cert: ManagedCertificate, default_rule: ChallengeRule | None) -> tuple[dict[str, str], list[str]]:
    left_out: list[str] = []
    rules: list[ChallengeRule] = list(cert.challenge_rules)
    rule = next((r for r in rules if r.pattern == "*"), rules[0] if rules else None)
    if rules == [default_rule]:
        rule = None  # the default: left to the importing installation's
    if len(rules) > 1:
        left_out.append(f"{len(rules) - 1} more validation rule(s) ({', '.join(r.pattern for r in rules if r is not rule)})")
    if rule is not None and rule.options:
        left_out.append(f"the validation options {', '.join(sorted(rule.options))}")
    renewal = cert.renewal
    if renewal.kind != "percent":
        left_out.append(f"renewal {renewal.kind.replace('_', ' ')} {renewal.value}")
    deployment = cert.deployment
    if deployment.tasks:
        left_out.append(f"{len(deployment.tasks)} deployment task(s)")
    if deployment.binding != "update":
        left_out.append(f"deployment binding {deployment.binding}")
    for setting, value in (("reuse key", cert.reuse_key), ("preferred chain", cert.preferred_chain),
                           ("profile", cert.profile)):
        if value:
            left_out.append(f"{setting} {value if value is not True else 'on'}")
    account: Account = cert.account
    row = {
        "name": cert.name, "domains": LIST_SEPARATOR.join(cert.identifiers),
        "primary_domain": cert.primary_identifier, "account": account.email or str(account.id),
        "challenge": rule.challenge if rule else "", "provider": (rule.provider or "") if rule else "",
        "credential": (rule.credential or "") if rule else "", "key_type": cert.key_type,
        "deploy": deployment.mode, "site": deployment.site or "", "auto_renew": "yes" if cert.auto_renew else "no",
        "renew_percent": str(renewal.value) if renewal.kind == "percent" else "",
        "tags": LIST_SEPARATOR.join(cert.tags or []),
    }
    return row, left_out
