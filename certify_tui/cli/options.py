"""Plug-in options from the command line: `-o key=value`, `key=@FILE`, `key=env:VAR`, or a bare `key`
asked for without echo when a person is at the terminal (never a value in `ps` or shell history)."""

from __future__ import annotations

import getpass
import sys

from certify_tui.errors import UsageError
from certify_tui.plugins import parse_option_pairs

OPTION_HELP = "KEY=VALUE; for secrets KEY=@FILE, KEY=env:VAR, or a bare KEY to be asked (not shown)"


def option_pairs(pairs: list[str] | None) -> dict[str, str]:
    """The options given, a bare key asked for on a terminal (a script gets a clear error instead)."""
    return parse_option_pairs(pairs, ask=_ask if sys.stdin.isatty() else None)


def _ask(key: str) -> str:
    try:
        return getpass.getpass(f"Value for '{key}' (not shown): ")
    except EOFError:
        raise UsageError(f"Option '{key}': no value was typed.") from None
