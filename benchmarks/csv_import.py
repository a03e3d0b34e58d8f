"""CSV bulk import of N rows (default 1,000), against adding the same certificates one by one, in one run.

Each run gets a fresh data folder with one account and a stored DNS credential. The rows mix the configured
default validation, http-01 standalone and dns-01 through the credential (wildcards), tags, renewal percents,
key types and deployment modes. Timed: `certify-tui import csv` as the core runs it (read, validate every row,
one transaction), and as the baseline the plain add path (`Core.add_certificate`, what `cert add` and the API
call: one validation and one transaction per certificate). Both leave the same N certificates.

    .venv/bin/python benchmarks/csv_import.py [N]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from certify_tui.keys import generate_key, key_to_pem
from certify_tui.lifecycle import Core
from certify_tui.lifecycle.csv_import import read_rows, spec_from_row
from certify_tui.store.models import Account, ManagedCertificate

LIMIT_SECONDS = 5.0  # the bar for 1,000 rows on this machine


def csv_text(n: int) -> str:
    lines = ["name,domains,primary_domain,challenge,provider,credential,key_type,deploy,auto_renew,"
             "renew_percent,tags"]
    for i in range(n):
        kind = i % 3
        if kind == 0:  # the installation's default rule
            lines.append(f"site{i},site{i}.example.com;www.site{i}.example.com,,,,,ec256,files,yes,,web;"
                         f"team{i % 7}")
        elif kind == 1:
            lines.append(f"app{i},app{i}.example.net,app{i}.example.net,http-01,standalone,,rsa2048,none,no,"
                         f"{50 + i % 40},app")
        else:
            lines.append(f"wild{i},*.w{i}.example.org;w{i}.example.org,,dns-01,,dns-main,ec384,files,1,"
                         f"66.5,wildcard;dns")
    return "\n".join(lines) + "\n"


def fresh_core(root: Path, name: str) -> Core:
    core = Core.open(str(root / name))
    Account.create(email="bench@example.org", directory_url="https://ca.invalid/dir",
                   account_key_pem=key_to_pem(generate_key()).decode(), status="valid")
    core.add_credential("dns-main", "rfc2136", {"server": "127.0.0.1", "tsig_key_name": "bench.",
                                                "tsig_secret": "c2VjcmV0LWJlbmNo"})
    return core


def time_import(root: Path, text: str) -> float:
    core = fresh_core(root, "imported")
    try:
        start = time.perf_counter()
        result = core.import_csv(text)
        seconds = time.perf_counter() - start
        if not result.written or result.invalid or ManagedCertificate.select().count() != result.rows:
            raise SystemExit(f"the import did not store every row: {result.to_json()}")
        return seconds
    finally:
        core.close()


def time_one_by_one(root: Path, text: str) -> float:
    core = fresh_core(root, "added")
    try:
        start = time.perf_counter()
        rows = read_rows(text)
        for _, cells in rows:
            core.add_certificate(spec_from_row(cells))
        seconds = time.perf_counter() - start
        if ManagedCertificate.select().count() != len(rows):
            raise SystemExit("the baseline did not add every row")
        return seconds
    finally:
        core.close()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    text = csv_text(n)
    with tempfile.TemporaryDirectory() as tmp:
        imported = time_import(Path(tmp), text)
        baseline = time_one_by_one(Path(tmp), text)
    print(f"CSV import of {n} rows: {imported:.2f} s ({n / imported:,.0f} rows/s), validated and stored in one "
          f"transaction")
    print(f"baseline, the same {n} added one by one (Core.add_certificate): {baseline:.2f} s "
          f"({n / baseline:,.0f} rows/s)")
    print(f"ratio import / baseline: {imported / baseline:.2f}")
    if n == 1000:
        verdict = "meets" if imported < LIMIT_SECONDS else "MISSES"
        print(f"{verdict} the bar: 1,000 rows in under {LIMIT_SECONDS:.0f} s")


if __name__ == "__main__":
    main()
