"""Errors every face (CLI, TUI, API) turns into one readable line.

`UsageError` is the user's input being wrong (CLI exit code 2); `OperationError` is the
operation failing for a reason outside the input, such as a CA refusal (exit code 1).
"""

from __future__ import annotations


class CertifyError(Exception):
    """Base of every error meant to be shown to a person."""

    exit_code = 1

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail  # extra context shown with -v, never secrets

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
