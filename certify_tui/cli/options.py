"""Plug-in options from the command line: `-o key=value`, `key=@FILE`, `key=env:VAR`, or a bare `key`
asked for without echo when a person is at the terminal (never a value in `ps` or shell history)."""

from __future__ import annotations

import getpass
import sys

from certify_tui.errors import UsageError
from certify_tui.plugins import parse_option_pairs
from certify_tui.plugins.option_values import ENV_PREFIX, FILE_PREFIX, resolve_value

OPTION_HELP = "KEY=VALUE; for secrets KEY=@FILE, KEY=env:VAR, or a bare KEY to be asked (not shown)"


def option_pairs(pairs: list[str] | None) -> dict[str, str]:
    """The options given, a bare key asked for on a terminal (a script gets a clear error instead)."""
    return parse_option_pairs(pairs, ask=_ask if sys.stdin.isatty() else None)


def _ask(key: str) -> str:
    try:
        return getpass.getpass(f"Value for '{key}' (not shown): ")
    except EOFError:
        raise UsageError(f"Option '{key}': no value was typed.") from None


def pointed_secret(source: str, *, name: str, option: str, ask_hint: str) -> str:
    """A secret given as `@FILE` or `env:VAR`; a literal (it would show in `ps` and the shell history) is refused
    with a UsageError naming the ways in (`ask_hint`: how to be asked instead)."""
    if not source.startswith((FILE_PREFIX, ENV_PREFIX)) or source in (FILE_PREFIX, ENV_PREFIX):
        raise UsageError(f"Give the {name} as {option} @FILE or {option} env:VAR ({ask_hint}): never as it is on "
                         f"the command line.", field=name)
    return resolve_value(name, source)


def asked_secret(name: str, option: str, prompt: str) -> str:
    """A secret typed at the terminal (not shown); a script without one gets the options to use instead."""
    if not sys.stdin.isatty():
        raise UsageError(f"No {name}: give {option} @FILE or {option} env:VAR (no terminal to ask at).", field=name)
    try:
        return getpass.getpass(prompt)
    except EOFError:
        raise UsageError(f"No {name} was typed.", field=name) from None
