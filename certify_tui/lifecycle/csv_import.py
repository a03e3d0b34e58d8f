"""CSV bulk import: one certificate per row, every row validated as `cert add` validates before anything is written.

The header row names the columns (any order, any case): `name` and `domains` are required, the others optional
(COLUMNS). Lists inside a cell (`domains`, `tags`) are separated by ';'. An unknown column is an error naming
it, so a typo never drops a setting silently. Each row becomes a CertificateSpec through the same
CertificateChanges the CLI and the API build, then `build_certificate` checks it (names, account, the
validation rule and its stored credential, key type, deployment, renewal, tags). Nothing is written when a row
is invalid unless invalid rows are to be skipped; names already managed are conflicts, skipped unless
replacing. What is written is written in one transaction.
"""

from __future__ import annotations

import csv
import difflib
import io
import time
from dataclasses import dataclass, field
from typing import Any

import peewee

from certify_tui.errors import CertifyError, UsageError
from certify_tui.lifecycle.certificates import (
    CertificateSpec,
    build_certificate,
    get_certificate,
    renewal_policy,
)
from certify_tui.lifecycle.spec_changes import CertificateChanges, apply_changes
from certify_tui.store.lookup_memo import remembering_lookups
from certify_tui.store.models import ManagedCertificate

COLUMNS = ("name", "domains", "primary_domain", "account", "challenge", "provider", "credential", "key_type",
           "deploy", "site", "auto_renew", "renew_percent", "tags")
REQUIRED = ("name", "domains")
LIST_SEPARATOR = ";"
# The CertificateSpec field an error names -> the column(s) to fix.
_FIELD_COLUMNS = {"name": ("name",), "domains": ("domains", "primary_domain"), "account": ("account",),
                  "credential": ("credential",), "key_type": ("key_type",), "deployment_mode": ("deploy",),
                  "deployment_site": ("site",), "renewal": ("renew_percent",), "auto_renew": ("auto_renew",),
                  "tags": ("tags",)}
_RULE_COLUMNS = ("challenge", "provider", "credential")  # "rules[0]": whichever of these the row gives
_BATCH = 100  # rows per INSERT (well under SQLite's limit of bound values)
_TOO_MANY = "\0too-many-cells"  # a key no header can have (a column is one of COLUMNS)
_YES = {"yes", "y", "true", "1", "on"}
_NO = {"no", "n", "false", "0", "off"}


@dataclass(frozen=True)
class RowProblem:
    """Why one row is not imported: invalid (with the column to fix) or a conflict with a managed name."""

    line: int  # the row's first line in the file (counted from 1, the header's included)
    name: str  # the row's name cell ('' if empty)
    message: str
    column: str | None = None  # the column(s) to fix, e.g. "renew_percent" or "provider/credential"
    field: str | None = None  # the CertificateSpec field, as the other faces name it

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "name": self.name, "column": self.column, "field": self.field,
                "error": self.message}

    def line_text(self) -> str:
        where = f"line {self.line}" + (f" ({self.name})" if self.name else "")
        return f"{where}: " + (f"{self.column}: " if self.column else "") + self.message


@dataclass
class CsvImport:
    """What an import did, or (dry run) would do."""

    rows: int
    dry_run: bool
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    conflicts: list[RowProblem] = field(default_factory=list)  # names already managed, skipped
    invalid: list[RowProblem] = field(default_factory=list)
    written: bool = False  # False: nothing was stored (a dry run, invalid rows, or nothing to import)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"rows": self.rows, "dry_run": self.dry_run, "imported": self.written,
                "added": self.added, "replaced": self.replaced,
                "conflicts": [p.to_json() for p in self.conflicts], "invalid": [p.to_json() for p in self.invalid],
                "seconds": round(self.seconds, 3)}


def import_csv(text: str, *, dry_run: bool = False, skip_invalid: bool = False,
               replace: bool = False) -> CsvImport:
    """Validate every row of `text` (a CSV file's content), then store the valid ones in one transaction:
    unless a row is invalid and `skip_invalid` is not set, or `dry_run`. `replace`: a row whose name is
    already managed replaces that certificate's settings (its files, tasks and history stay)."""
    started = time.perf_counter()
    rows = read_rows(text)
    result = CsvImport(rows=len(rows), dry_run=dry_run)
    with remembering_lookups():  # the account, credentials and default rule: read once, not per row
        ready = _validate(rows, result, replace)
    if dry_run or not ready or (result.invalid and not skip_invalid):
        result.seconds = time.perf_counter() - started
        return result
    _store(ready)
    result.written = True
    result.seconds = time.perf_counter() - started
    return result


def _validate(rows: list[tuple[int, dict[str, str]]], result: CsvImport,
              replace: bool) -> list[tuple[ManagedCertificate, bool]]:
    """Each row checked as `cert add` checks it; problems and conflicts go to `result`. The valid rows' models
    (unsaved), each with whether it replaces a managed certificate."""
    managed = {cert.name.lower() for cert in ManagedCertificate.select(ManagedCertificate.name)}
    seen: dict[str, int] = {}  # name in lower case -> the line that has it
    ready: list[tuple[ManagedCertificate, bool]] = []
    for line, cells in rows:
        name = cells.get("name", "").strip()
        if name.lower() in seen:
            result.invalid.append(RowProblem(line, name, f"the name is also on line {seen[name.lower()]}: "
                                                         "names must be unique", "name", "name"))
            continue
        seen[name.lower()] = line
        exists = bool(name) and name.lower() in managed
        try:
            spec = spec_from_row(cells)
            existing = get_certificate(name) if exists else None
            if existing is not None:
                spec.name = existing.name  # 'WEB' in the file replaces 'web': it does not rename it
            cert = build_certificate(spec, existing=existing)
        except CertifyError as exc:
            result.invalid.append(RowProblem(line, name, exc.message, _column_of(exc.field, cells), exc.field))
            continue
        if exists and not replace:
            result.conflicts.append(RowProblem(line, name, f"a certificate named '{cert.name}' is already "
                                                           "managed: skipped (--replace to replace its settings)"))
            continue
        (result.replaced if exists else result.added).append(cert.name)
        ready.append((cert, exists))
    return ready


def _store(ready: list[tuple[ManagedCertificate, bool]]) -> None:
    """All or nothing: one transaction; a name another process added meanwhile undoes the whole import.
    New certificates go in by batches of rows (one INSERT each), replaced ones by their own UPDATE."""
    new = [cert.__data__ for cert, replaces in ready if not replaces]
    try:
        with ManagedCertificate._meta.database.atomic():
            for start in range(0, len(new), _BATCH):
                ManagedCertificate.insert_many(new[start:start + _BATCH]).execute()
            for cert, replaces in ready:
                if replaces:
                    cert.save()
    except peewee.IntegrityError:
        raise UsageError("A certificate with one of these names was added meanwhile: nothing was imported. "
                         "Run the import again to see which.") from None


def read_rows(text: str) -> list[tuple[int, dict[str, str]]]:
    """The data rows as (first line number, {column: cell}); blank lines are skipped. A header that is missing,
    names an unknown column or lacks a required one is a UsageError naming the column."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))  # a BOM: Excel's UTF-8 CSV
    records: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for cells in reader:
            if any(cell.strip() for cell in cells):
                records.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise UsageError(f"Line {start} is not valid CSV: {exc}.") from None
    if not records:
        raise UsageError(f"The file is empty: its first line must name the columns, at least {', '.join(REQUIRED)}.")
    columns = _check_header(*records[0])
    rows = []
    for line, cells in records[1:]:
        beyond = [c for c in cells[len(columns):] if c.strip()]
        row = dict(zip(columns, cells, strict=False))  # missing cells at the end: empty
        if beyond:  # kept as a problem of this row: an unquoted comma in a cell, most likely
            row[_TOO_MANY] = (f"{len(cells)} cells, the header names {len(columns)} columns "
                              f"({', '.join(repr(c) for c in beyond)} beyond the last): quote a cell with a comma")
        rows.append((line, row))
    return rows


def _check_header(line: int, header: list[str]) -> list[str]:
    columns = [cell.strip().lower() for cell in header]
    while columns and not columns[-1]:
        columns.pop()  # trailing commas, as spreadsheets write them: the rows' cells there must stay empty
    if "" in columns:
        raise UsageError(f"Column {columns.index('') + 1} has no name in the header (line {line}): name it or "
                         "remove the column.")
    unknown = [c for c in columns if c not in COLUMNS]
    if unknown:
        hints = []
        for column in unknown:
            close = difflib.get_close_matches(column, COLUMNS, n=1)
            hints.append(f"'{column}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
        raise UsageError(f"Unknown column{'s' if len(unknown) > 1 else ''} {', '.join(hints)} in the header (line {line});"
                         f" the columns are: {', '.join(COLUMNS)}.")
    twice = sorted({c for c in columns if columns.count(c) > 1})
    if twice:
        raise UsageError(f"The header names {', '.join(repr(c) for c in twice)} more than once.")
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise UsageError(f"The header has no {' or '.join(repr(c) for c in missing)} column: "
                         f"{', '.join(REQUIRED)} are required.")
    return columns


def spec_from_row(cells: dict[str, str]) -> CertificateSpec:
    """One row as the spec `cert add` would build from the same settings (every cell optional but name, domains)."""
    if _TOO_MANY in cells:  # a row read_rows could not split into the columns
        raise UsageError(cells[_TOO_MANY])

    def cell(column: str) -> str:
        return cells.get(column, "").strip()

    if not cell("name"):
        raise UsageError("The name is empty: give each certificate a short name.", field="name")
    domains = split_list(cell("domains"))
    primary = cell("primary_domain")
    if primary:  # first; added when the domains column lists only the other names
        domains = [primary, *(d for d in domains if d.rstrip(".").lower() != primary.rstrip(".").lower())]
    if not domains:
        raise UsageError("No domains: list the names to include, separated by ';'.", field="domains")
    start = CertificateSpec(name=cell("name"), domains=[], challenge=cell("challenge") or "http-01",
                            provider=cell("provider") or None, credential=cell("credential") or None)
    percent = cell("renew_percent").removesuffix("%").strip()
    return apply_changes(start, CertificateChanges(
        domains=tuple(domains), account=cell("account") or None, key_type=cell("key_type") or None,
        deployment_mode=cell("deploy") or None, deployment_site=cell("site") or None,
        renewal=renewal_policy("percent", percent) if percent else None,
        auto_renew=_yes_no(cell("auto_renew")), tags=tuple(split_list(cell("tags")))))


def split_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(LIST_SEPARATOR) if item.strip()]


def _yes_no(text: str) -> bool | None:
    if not text:
        return None
    if text.lower() in _YES:
        return True
    if text.lower() in _NO:
        return False
    raise UsageError(f"'{text}' is not yes or no (true/false, 1/0 also do).", field="auto_renew")


def _column_of(spec_field: str | None, cells: dict[str, str]) -> str | None:
    if spec_field is None:
        return None
    if spec_field.startswith("rules"):
        given = [c for c in _RULE_COLUMNS if cells.get(c, "").strip()]
        return "/".join(given or _RULE_COLUMNS[:1])
    columns = _FIELD_COLUMNS.get(spec_field)
    return "/".join(c for c in columns if c == columns[0] or cells.get(c, "").strip()) if columns else None
