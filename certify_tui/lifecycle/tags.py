"""Tags: free labels on a certificate, for filtering (`cert list --tag`) and bulk work (CSV import/export).

A tag is 1-64 letters, digits and '.', '_', '-', ':', '/', starting with a letter or digit: no spaces,
no ';' (the CSV list separator), nothing a spreadsheet would read as a formula. Stored sorted, once each.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from certify_tui.errors import UsageError

MAX_TAGS = 50
_TAG = re.compile(r"[^\W_][\w.:/-]{0,63}")


def check_tags(tags: Iterable[str]) -> list[str]:
    """The tags validated, sorted and without duplicates (compared without regard to case: the first
    spelling given is kept); an invalid one is a UsageError naming the field `tags`."""
    kept: dict[str, str] = {}
    for raw in tags:
        tag = raw.strip()
        if not _TAG.fullmatch(tag):
            raise UsageError(f"'{tag}' is not a valid tag: use 1-64 letters, digits, '.', '_', '-', ':' or '/', "
                             "starting with a letter or digit.", field="tags")
        kept.setdefault(tag.lower(), tag)
    if len(kept) > MAX_TAGS:
        raise UsageError(f"A certificate has at most {MAX_TAGS} tags, not {len(kept)}.", field="tags")
    return sorted(kept.values(), key=str.lower)


def has_tags(stored: Iterable[str] | None, wanted: Iterable[str]) -> bool:
    """True when every wanted tag is among the stored ones (case-insensitive)."""
    have = {tag.lower() for tag in stored or ()}
    return all(tag.strip().lower() in have for tag in wanted)


def changed_tags(current: Iterable[str], *, replace: Iterable[str] | None = None, add: Iterable[str] = (),
                 remove: Iterable[str] = ()) -> list[str]:
    """The tags after a change: replaced by `replace` (if given), then `add` added and `remove` removed.
    Removing a tag the certificate does not have is an error (a typo would otherwise pass silently)."""
    tags = list(current if replace is None else replace) + list(add)
    for tag in remove:
        wanted = tag.strip().lower()
        if not any(t.strip().lower() == wanted for t in tags):
            raise UsageError(f"'{tag.strip()}' is not one of this certificate's tags "
                             f"({', '.join(tags) or 'it has none'}).", field="tags")
        tags = [t for t in tags if t.strip().lower() != wanted]
    return check_tags(tags)
