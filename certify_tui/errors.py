"""Errors every face (CLI, TUI, API) turns into one readable line.

`UsageError` is the user's input being wrong (CLI exit code 2); `OperationError` is the
operation failing for a reason outside the input, such as a CA refusal (exit code 1).
"""

from __future__ import annotations

import re

# C0 controls, DEL, C1 controls, and the invisible characters that reorder or hide text (bidi overrides
# and isolates, zero-width marks, line/paragraph separators, BOM): none belongs in a one-line message, and
# ESC or CSI would reach the terminal as an escape sequence.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def safe_text(text: object, *, keep_newlines: bool = False) -> str:
    """`text` with control and invisible formatting characters written as escapes (\\n, \\x1b, \\u202e),
    so untrusted input shown to a person stays on one line and cannot drive the terminal.
    `keep_newlines` keeps line breaks, for multi-line details."""
    if keep_newlines:
        return "\n".join(safe_text(line) for line in str(text).split("\n"))
    return _UNSAFE.sub(_escaped, str(text))


class CertifyError(Exception):
    """Base of every error meant to be shown to a person."""

    exit_code = 1

    def __init__(self, message: str, *, detail: str | None = None, field: str | None = None) -> None:
        # Escaped once here, so every face (CLI, TUI, API) and the log show untrusted input inertly.
        message = safe_text(message)
        super().__init__(message)
        self.message = message
        self.detail = detail  # extra context shown with -v, never secrets
        # The input the error is about, named after a CertificateSpec field ("domains", "rules[2]"), so
        # a face can point at where it is fixed (the TUI editor: a step); None when it is about no input.
        self.field = field

    def __str__(self) -> str:
        return self.message


class UsageError(CertifyError):
    """Bad input: an invalid domain, an unknown option, a missing argument."""

    exit_code = 2


class NotFoundError(UsageError):
    """A named account or certificate does not exist."""


class OperationError(CertifyError):
    """The operation was valid but failed: CA error, validation failure, I/O."""

    exit_code = 1


class CAError(OperationError):
    """The ACME server refused or failed a request."""

    def __init__(self, message: str, *, problem_type: str | None = None, detail: str | None = None,
                 retry_after: str | None = None) -> None:
        super().__init__(message, detail=detail)
        self.problem_type = problem_type
        self.retry_after = retry_after


class ValidationFailed(CAError):
    """The CA could not validate one or more identifiers."""


class StorageError(OperationError):
    """Files or the database could not be written; nothing was replaced."""


class Transient(OperationError):
    """Busy for a moment (a shared resource changing hands): retried at the next check, no failure counted."""
