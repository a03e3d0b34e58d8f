"""safe_text: untrusted text shown to a person stays one inert line."""

from __future__ import annotations

import pytest

from certify_tui.errors import OperationError, UsageError, safe_text


@pytest.mark.parametrize(("raw", "shown"), [
    ("plain text, ünïcode ✓", "plain text, ünïcode ✓"),
    ("two\nlines", "two\\nlines"),
    ("cr\rtab\t", "cr\\rtab\\t"),
    ("esc\x1b[2J", "esc\\x1b[2J"),
    ("nul\x00del\x7f", "nul\\x00del\\x7f"),
    ("csi\x9b31m", "csi\\x9b31m"),
    ("bidi\u202eevil\u2066", "bidi\\u202eevil\\u2066"),
    ("zero\u200bwidth\ufeff", "zero\\u200bwidth\\ufeff"),
    ("line\u2028sep", "line\\u2028sep"),
])
def test_escapes_controls_and_invisible_formatting(raw: str, shown: str) -> None:
    assert safe_text(raw) == shown


def test_idempotent_and_keeps_backslashes() -> None:
    once = safe_text("a\\nb\x1b")
    assert once == "a\\nb\\x1b"
    assert safe_text(once) == once


def test_keep_newlines_for_details() -> None:
    assert safe_text("line 1\nline\x1b 2", keep_newlines=True) == "line 1\nline\\x1b 2"


def test_error_messages_are_escaped_when_made() -> None:
    assert UsageError("No certificate named 'a\nb'.").message == "No certificate named 'a\\nb'."
    assert str(OperationError("CA said \x1b]0;pwned\x07")) == "CA said \\x1b]0;pwned\\x07"
