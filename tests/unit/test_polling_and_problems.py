"""Poll scheduling (with a fake clock) and the wording of ACME problems and transport failures."""

from __future__ import annotations

import time
from email.utils import formatdate

import pytest
import requests
from acme import errors as acme_errors
from acme import messages

from certify_tui import polling
from certify_tui.ca.problems import describe_problem, translate
from certify_tui.errors import CAError, OperationError, UsageError
from certify_tui.polling import FIRST_DELAY, GROWTH, MAX_DELAY, Poller, retry_after_seconds


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


def _poller(timeout: float = 300.0) -> tuple[Poller, FakeClock]:
    clock = FakeClock()
    return Poller("the test", timeout, clock=clock, sleep=clock.sleep), clock


# -- Poller ------------------------------------------------------------------------------------------


def test_schedule_constants_are_sane() -> None:
    # The schedule is tuned (it was 50 ms x1.5); what matters: a quick start, real growth, a 5 s cap.
    assert 0 < FIRST_DELAY <= 0.05
    assert 1.2 <= GROWTH <= 2.0
    assert MAX_DELAY == 5.0


def test_delays_start_small_grow_and_cap() -> None:
    poller, _ = _poller()
    delays = [poller.next_delay() for _ in range(40)]
    assert delays[0] == pytest.approx(FIRST_DELAY)
    assert delays[1] == pytest.approx(FIRST_DELAY * GROWTH)
    for a, b in zip(delays, delays[1:], strict=False):
        assert b == pytest.approx(min(a * GROWTH, MAX_DELAY))
    assert max(delays) == pytest.approx(MAX_DELAY)
    assert delays[-1] == pytest.approx(5.0)
    assert sum(delays[:5]) < 1.0  # a quick CA is polled quickly


def test_wait_sleeps_the_schedule() -> None:
    poller, clock = _poller()
    for _ in range(4):
        poller.wait()
    assert clock.sleeps == pytest.approx([FIRST_DELAY * GROWTH**i for i in range(4)])


def test_retry_after_seconds_is_honoured() -> None:
    poller, clock = _poller()
    poller.wait("3")
    assert clock.sleeps == [3.0]
    poller.wait()  # own schedule continues (grown once)
    assert clock.sleeps[-1] == pytest.approx(FIRST_DELAY * GROWTH)
    poller.wait("0")  # never busy-loop
    assert clock.sleeps[-1] == pytest.approx(FIRST_DELAY)


def test_retry_after_http_date_is_honoured() -> None:
    poller, _ = _poller()
    delay = poller.next_delay(formatdate(time.time() + 120, usegmt=True))
    assert 115 <= delay <= 121


def test_retry_after_seconds_parsing() -> None:
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("") is None
    assert retry_after_seconds(" 7 ") == 7.0
    assert retry_after_seconds("not a date") is None
    assert retry_after_seconds(formatdate(time.time() - 3600, usegmt=True)) == 0.0
    assert 55 <= retry_after_seconds(formatdate(time.time() + 60, usegmt=True)) <= 61  # type: ignore[operator]


def test_wait_never_sleeps_past_deadline() -> None:
    poller, clock = _poller(timeout=10)
    poller.wait("3600")
    assert clock.sleeps == [10.0]


def test_times_out_with_ca_error() -> None:
    poller, clock = _poller(timeout=30)
    with pytest.raises(CAError, match=r"Timed out after 30 s waiting for the test"):
        for _ in range(1000):
            poller.wait()
    assert clock.now >= 1000.0 + 30
    assert sum(clock.sleeps) == pytest.approx(30.0)
    assert max(clock.sleeps) <= polling.MAX_DELAY


# -- describe_problem --------------------------------------------------------------------------------


def _err(code: str, detail: str = "", **kwargs: object) -> messages.Error:
    return messages.Error(typ=f"urn:ietf:params:acme:error:{code}", detail=detail, **kwargs)


def _ident(name: str) -> messages.Identifier:
    return messages.Identifier(typ=messages.IDENTIFIER_FQDN, value=name)


def test_rate_limited_with_retry_after() -> None:
    text = describe_problem(_err("rateLimited", "too many certificates for example.com"), retry_after="600")
    assert text.startswith("The CA's rate limit was reached: too many certificates for example.com.")
    assert "Retry in 10 min." in text


def test_rate_limited_with_http_date() -> None:
    when = formatdate(time.time() + 3600, usegmt=True)
    text = describe_problem(_err("rateLimited", "slow down"), retry_after=when)
    assert f"Retry after {when}" in text
    assert "(in 60 min)" in text or "(in 59 min)" in text


def test_rate_limited_without_retry_after() -> None:
    assert describe_problem(_err("rateLimited", "slow down")) == "The CA's rate limit was reached: slow down."


def test_rejected_identifier() -> None:
    text = describe_problem(_err("rejectedIdentifier", "policy forbids"), identifier="bad.example.com")
    assert text == "The CA will not issue for bad.example.com: policy forbids"


def test_unauthorized_without_identifier() -> None:
    assert describe_problem(_err("unauthorized", "account key mismatch")) == (
        "The CA refused the request as unauthorized: account key mismatch")


def test_unauthorized_with_identifier() -> None:
    expected = "a.example.com: the CA could not confirm you control this name: 404"
    assert describe_problem(_err("unauthorized", "404"), identifier="a.example.com") == expected
    # The problem's own identifier wins over the caller's.
    assert describe_problem(_err("unauthorized", "404", identifier=_ident("a.example.com")),
                            identifier="other.example.com") == expected


@pytest.mark.parametrize(
    ("code", "phrase"),
    [
        ("connection", "the CA could not connect to validate it"),
        ("dns", "the CA's DNS lookup failed"),
        ("caa", "a CAA record forbids this CA from issuing"),
        ("incorrectResponse", "the CA got a wrong challenge response"),
        ("tls", "TLS error during validation"),
    ],
)
def test_validation_problems_name_the_identifier(code: str, phrase: str) -> None:
    text = describe_problem(_err(code, "the detail", identifier=_ident("v.example.com")))
    assert text == f"v.example.com: {phrase}: the detail"


def test_compound_lists_each_subproblem() -> None:
    problem = _err("compound", "several problems", subproblems=[
        _err("dns", "NXDOMAIN", identifier=_ident("a.example.com")),
        _err("caa", "CAA forbids", identifier=_ident("b.example.com")),
    ])
    text = describe_problem(problem)
    parts = text.split("; ")
    assert parts == ["a.example.com: the CA's DNS lookup failed: NXDOMAIN",
                     "b.example.com: a CAA record forbids this CA from issuing: CAA forbids"]


def test_other_problems() -> None:
    assert "External Account Binding" in describe_problem(_err("externalAccountRequired"))
    assert describe_problem(_err("serverInternal", "boom")) == "The CA refused: boom"
    assert describe_problem(_err("malformed", "bad csr"), identifier="x.example.com") == (
        "The CA refused: x.example.com: bad csr")
    # No detail: falls back to the problem type's standard description.
    assert describe_problem(_err("serverInternal")) == "The CA refused: The server experienced an internal error"


# -- translate ---------------------------------------------------------------------------------------

URL = "https://ca.example/dir"


def test_translate_connection_error() -> None:
    err = translate(requests.exceptions.ConnectionError("refused"), url=URL)
    assert isinstance(err, OperationError) and err.exit_code == 1
    assert err.message == f"Cannot reach the CA at {URL}: connection failed."
    assert "refused" in (err.detail or "")


def test_translate_ssl_error() -> None:
    err = translate(requests.exceptions.SSLError("CERTIFICATE_VERIFY_FAILED"), url=URL)
    assert isinstance(err, OperationError)
    assert err.message.startswith(f"TLS verification of the CA at {URL} failed")
    assert "--ca-bundle" in err.message


@pytest.mark.parametrize("exc", [requests.exceptions.Timeout("t"), requests.exceptions.ReadTimeout("t")])
def test_translate_timeout(exc: Exception) -> None:
    err = translate(exc, url=URL)
    assert isinstance(err, OperationError)
    assert err.message == f"The CA at {URL} did not answer in time."


def test_translate_problem_document() -> None:
    err = translate(_err("rateLimited", "slow"), url=URL, retry_after="120")
    assert isinstance(err, CAError)
    assert err.problem_type == "rateLimited"
    assert err.retry_after == "120"
    assert "rate limit" in err.message


def test_translate_passes_certify_errors_and_wraps_others() -> None:
    mine = UsageError("already clear")
    assert translate(mine) is mine
    assert isinstance(translate(acme_errors.ClientError("x"), url=URL), CAError)
    other = translate(ZeroDivisionError("division by zero"))
    assert isinstance(other, OperationError)
    assert other.message == "Unexpected error: ZeroDivisionError: division by zero"
