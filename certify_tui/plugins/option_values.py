"""`key=value` option pairs as people give them, with safe forms for secrets.

A value on a command line is visible in `ps` and shell history, so every option also takes
`key=@FILE` (the file's content, one trailing newline stripped), `key=env:VAR` (a variable's value), or a
bare `key`, which a face may ask for without echo (`ask`); with nobody to ask it is a clear error.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from certify_tui.errors import UsageError
from certify_tui.paths import os_error_reason

FILE_PREFIX = "@"
ENV_PREFIX = "env:"
AskValue = Callable[[str], str]  # asks a person for the value of the named option, without echo


def parse_option_pairs(pairs: list[str] | None, ask: AskValue | None = None) -> dict[str, str]:
    """`--option key=value` strings to a dict; a key given twice is an error (which one was meant?).

    Errors name the option, never its value (it may be a secret)."""
    options: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not key:
            raise UsageError(f"Option '{pair}' must look like key=value.")
        if key in options:
            raise UsageError(f"Option '{key}' is given twice: give it once.")
        if not sep:
            if ask is None:
                raise UsageError(f"Option '{key}' must look like key=value (or {key}=@FILE, {key}=env:VAR; "
                                 f"a bare '{key}' is asked for only on a terminal).")
            options[key] = ask(key)
        else:
            options[key] = resolve_value(key, value)
    return options


def resolve_value(key: str, value: str) -> str:
    """The value itself, or what `@FILE` / `env:VAR` points to."""
    if value.startswith(FILE_PREFIX) and len(value) > len(FILE_PREFIX):
        return _read_file(key, value[len(FILE_PREFIX):])
    if value.startswith(ENV_PREFIX) and len(value) > len(ENV_PREFIX):
        name = value[len(ENV_PREFIX):]
        found = os.environ.get(name)
        if found is None:
            raise UsageError(f"Option '{key}': the environment variable {name} is not set.")
        return found
    return value


def _read_file(key: str, path: str) -> str:
    try:
        text = Path(os.path.expanduser(path)).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"Option '{key}': the file {path} does not exist.") from None
    except UnicodeDecodeError:
        raise UsageError(f"Option '{key}': the file {path} is not UTF-8 text.") from None
    except OSError as exc:
        raise UsageError(f"Option '{key}': cannot read {path}: {os_error_reason(exc)}.") from None
    # One trailing newline (what `echo` and editors add), with a Windows CR: never part of a token.
    return text.removesuffix("\n").removesuffix("\r")
