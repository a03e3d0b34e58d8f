"""Lookups remembered for the length of one bulk operation (a CSV import validating 1,000 rows).

Outside `remembering_lookups()` nothing is remembered: every face reads the store afresh. Inside it, a lookup
wrapped in `remembered` (the account, a stored credential, the default rule) runs once per key; failures are
not remembered. Only for work that changes none of these meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

T = TypeVar("T")

_memo: ContextVar[dict[Hashable, Any] | None] = ContextVar("certify_tui_lookup_memo", default=None)


@contextmanager
def remembering_lookups() -> Iterator[None]:
    token = _memo.set({})
    try:
        yield
    finally:
        _memo.reset(token)


def remembered(key: Hashable, lookup: Callable[[], T]) -> T:
    """lookup(), or its result from earlier in the same `remembering_lookups()` block."""
    memo = _memo.get()
    if memo is None:
        return lookup()
    if key not in memo:
        memo[key] = lookup()
    value: T = memo[key]
    return value
