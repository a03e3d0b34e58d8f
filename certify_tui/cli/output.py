"""Printing for people (aligned tables) and for scripts (JSON)."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from certify_tui.errors import CertifyError, safe_text


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=False, default=str)
    sys.stdout.write("\n")


def error_json(error: CertifyError) -> dict[str, Any]:
    """An error for scripts: {"error": message}, and "field" (e.g. "rules[0]") when a setting is at fault."""
    data: dict[str, Any] = {"error": error.message}
    if error.field is not None:
        data["field"] = error.field
    return data


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], empty: str = "") -> None:
    if not rows:
        if empty:
            print(empty)
        return
    # Cells hold text from outside (CA messages, names from older databases): never terminal controls.
    cells = [[("" if c is None else safe_text(c)) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    print("  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def print_fields(pairs: Sequence[tuple[str, Any]]) -> None:
    width = max(len(k) for k, _ in pairs)
    for key, value in pairs:
        if isinstance(value, list | tuple):
            value = ", ".join(str(v) for v in value) or "-"
        print(f"{key + ':':<{width + 2}}{'-' if value in (None, '') else safe_text(value)}")


def days_left(iso: str | None) -> str:
    if not iso:
        return "-"
    from datetime import UTC, datetime

    delta = datetime.fromisoformat(iso) - datetime.now(UTC)
    return f"{iso[:10]} ({delta.days}d)"
