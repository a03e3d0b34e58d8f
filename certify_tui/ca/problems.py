"""ACME problem documents and transport failures, turned into one clear sentence each."""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import requests
from acme import errors as acme_errors
from acme import messages

from certify_tui.errors import CAError, CertifyError, OperationError, ValidationFailed
from certify_tui.polling import retry_after_seconds


def _who(problem: messages.Error, identifier: str | None) -> str:
    if problem.identifier is not None:
        return str(problem.identifier.value)
    return identifier or "the request"


def describe_problem(problem: messages.Error, identifier: str | None = None,
                     retry_after: str | None = None) -> str:
    code = problem.code or str(problem.typ).rsplit(":", 1)[-1]
    detail = (problem.detail or problem.title or problem.description or "no detail given").strip().rstrip(".")
    who = _who(problem, identifier)
    if code == "rateLimited":
        wait = retry_after_seconds(retry_after)
        when = ""
        if wait is not None:
            span = f"{wait:.0f} s" if wait < 120 else f"{wait / 60:.0f} min"
            when = f" Retry in {span}." if retry_after and retry_after.strip().isdigit() else (
                f" Retry after {retry_after} (in {span}).")
        return f"The CA's rate limit was reached: {detail}.{when}"
    if code == "rejectedIdentifier":
        return f"The CA will not issue for {who}: {detail}"
    if code == "unauthorized":
        if problem.identifier is None and identifier is None:
            return f"The CA refused the request as unauthorized: {detail}"
        return f"{who}: the CA could not confirm you control this name: {detail}"
    if code == "connection":
        return f"{who}: the CA could not connect to validate it: {detail}"
    if code == "dns":
        return f"{who}: the CA's DNS lookup failed: {detail}"
    if code == "caa":
        return f"{who}: a CAA record forbids this CA from issuing: {detail}"
    if code == "incorrectResponse":
        return f"{who}: the CA got a wrong challenge response: {detail}"
    if code == "tls":
        return f"{who}: TLS error during validation: {detail}"
    if code == "externalAccountRequired":
        return "This CA requires External Account Binding: pass --eab-kid and --eab-hmac-key from your CA account."
    if code == "accountDoesNotExist":
        return "The CA does not know this account (deactivated or from another CA): add the account again."
    if code == "alreadyRevoked":
        return f"The CA says this certificate is already revoked: {detail}."
    if code == "badRevocationReason":
        return f"The CA does not accept this revocation reason: {detail}."
    if code == "badNonce":
        return "The CA kept rejecting request nonces; try again later."
    if code == "compound" and problem.subproblems:
        return "; ".join(describe_problem(sub, identifier) for sub in problem.subproblems)
    text = f"{who}: {detail}" if identifier or problem.identifier else detail
    return f"The CA refused: {text}"


class CAUnreachable(OperationError):
    """The CA (or the way to it) did not answer: unreachable, reset, timed out. Another CA may well answer."""


SERVER_ERROR = "http-5xx"  # the problem_type given to a 5xx answer that carried no ACME problem document


def _status_of(exc: acme_errors.ClientError) -> int | None:
    response = exc.args[0] if exc.args else None
    if isinstance(response, tuple) and response:  # (response, deserialization error)
        response = response[0]
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def translate(exc: BaseException, *, url: str | None = None, identifier: str | None = None,
              retry_after: str | None = None) -> CertifyError:
    """Any exception raised while talking to a CA -> a CertifyError with a readable message."""
    if isinstance(exc, CertifyError):
        return exc
    if isinstance(exc, messages.Error):
        return CAError(describe_problem(exc, identifier, retry_after), problem_type=exc.code,
                       detail=str(exc), retry_after=retry_after)
    where = url or "its URL"
    if isinstance(exc, requests.exceptions.SSLError | ssl.SSLError) and _untrusted(exc):
        return OperationError(
            f"TLS verification of the CA at {where} failed; for a private or test CA give its "
            f"trust bundle with --ca-bundle.", detail=str(exc))
    if isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.ChunkedEncodingError
                  | ssl.SSLError | ConnectionError):
        # A reset or EOF in the middle of the handshake or the answer is the CA (or the path to it) going away,
        # not a trust problem: requests reports a handshake cut short as an SSLError all the same.
        return CAUnreachable(f"Cannot reach the CA at {where}: {_how_it_broke(exc)}.", detail=str(exc))
    if isinstance(exc, requests.exceptions.Timeout):
        return CAUnreachable(f"The CA at {url or 'its URL'} did not answer in time.", detail=str(exc))
    if isinstance(exc, acme_errors.ClientError):
        status = _status_of(exc)
        if status is not None and status >= 500:
            return CAError(f"The CA at {url or 'its URL'} failed with HTTP {status}: it may be down or overloaded.",
                           problem_type=SERVER_ERROR, detail=str(exc))
        return CAError(f"Unexpected answer from the CA at {url or 'its URL'}.", detail=str(exc))
    if isinstance(exc, acme_errors.Error):
        return CAError(f"ACME error: {exc}", detail=repr(exc))
    return OperationError(f"Unexpected error: {exc.__class__.__name__}: {exc}", detail=repr(exc))


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything it wraps (requests -> urllib3 -> ssl/socket), each once."""
    seen: set[int] = set()
    todo: list[object] = [exc]
    while todo:
        item = todo.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        todo.extend([item.__cause__, item.__context__, getattr(item, "reason", None), *item.args])


def _untrusted(exc: BaseException) -> bool:
    """True only when the CA's certificate was checked and rejected (unknown issuer, wrong name, expired)."""
    for cause in _causes(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return True
        # Some wrappers keep only the text of the verification error.
        if "CERTIFICATE_VERIFY_FAILED" in str(cause).upper().replace(" ", "_"):
            return True
    return False


def _how_it_broke(exc: BaseException) -> str:
    causes = list(_causes(exc))
    if any(isinstance(c, ConnectionResetError | ConnectionAbortedError | BrokenPipeError) for c in causes):
        return "the connection was reset"
    if any(isinstance(c, ssl.SSLEOFError | ssl.SSLZeroReturnError) for c in causes) or any(
            "EOF occurred" in str(c) for c in causes):
        return "the connection closed during the TLS handshake"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError) or any(
            "IncompleteRead" in c.__class__.__name__ or "RemoteDisconnected" in c.__class__.__name__ for c in causes):
        return "the connection closed in the middle of its answer"
    if any(isinstance(c, ssl.SSLError) for c in causes):
        return "the TLS handshake broke off"
    return "connection failed"


# What a failure says about the CA, for failover (lifecycle/failover.py): only the CA's own trouble counts, never a
# validation failure, which another CA would not fix.
CA_SIDE_PROBLEMS = frozenset({"serverInternal", SERVER_ERROR})
VALIDATION_PROBLEMS = frozenset({"unauthorized", "connection", "dns", "caa", "incorrectResponse", "tls",
                                 "rejectedIdentifier"})


def failure_kind(error: CertifyError) -> str:
    """"rate-limited", "ca-side" (unreachable, 5xx, serverInternal), "validation", or "other"."""
    problem = getattr(error, "problem_type", None)
    if problem == "rateLimited":
        return "rate-limited"
    if isinstance(error, CAUnreachable) or problem in CA_SIDE_PROBLEMS:
        return "ca-side"
    if isinstance(error, ValidationFailed) or problem in VALIDATION_PROBLEMS:
        return "validation"
    return "other"
