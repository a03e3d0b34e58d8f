"""When renewal is due and when to retry after a failure: pure date arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from certify_tui.model import RenewalPolicy
from certify_tui.renewal.policy import FIRST_RETRY, MAX_RETRY, describe, renewal_due, retry_after_failure

NB = datetime(2030, 1, 1, tzinfo=UTC)
NA90 = NB + timedelta(days=90)
NA6 = NB + timedelta(days=6)
NOW = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)
P = RenewalPolicy.from_json  # the policy as the store reads it


def test_default_is_75_percent() -> None:
    assert renewal_due(NB, NA90) == NB + timedelta(days=67.5)
    assert renewal_due(NB, NA90, P({})) == NB + timedelta(days=67.5)
    assert describe(None) == "at 75% of the lifetime"


def test_percent_override() -> None:
    assert renewal_due(NB, NA90, P({"percent": 50})) == NB + timedelta(days=45)
    assert renewal_due(NB, NA90, P({"percent": "60"})) == NB + timedelta(days=54)
    assert describe(P({"percent": 50})) == "at 50% of the lifetime"


def test_percent_is_bounded() -> None:
    assert renewal_due(NB, NA90, P({"percent": 0})) == NB + timedelta(days=0.9)  # at least 1%
    assert renewal_due(NB, NA90, P({"percent": 100})) == NA90 - timedelta(days=9)  # clamp: lifetime / 10


def test_days_before_expiry() -> None:
    assert renewal_due(NB, NA90, P({"days_before": 30})) == NA90 - timedelta(days=30)
    assert describe(P({"days_before": 30})) == "30 days before expiry"


def test_days_after_issuance() -> None:
    assert renewal_due(NB, NA90, P({"days_after": 20})) == NB + timedelta(days=20)
    assert describe(P({"days_after": 20})) == "20 days after issuance"


def test_days_before_wins_over_percent() -> None:
    assert renewal_due(NB, NA90, P({"days_before": 30, "percent": 10})) == NA90 - timedelta(days=30)


@pytest.mark.parametrize("settings", [{"days_before": 1}, {"days_after": 89}, {"percent": 99}])
def test_never_later_than_a_tenth_before_expiry(settings: dict[str, float]) -> None:
    assert renewal_due(NB, NA90, P(settings)) == NA90 - timedelta(days=9)


def test_never_before_issuance() -> None:
    assert renewal_due(NB, NA90, P({"days_before": 365})) == NB


def test_six_day_certificate() -> None:
    assert renewal_due(NB, NA6) == NB + timedelta(days=4.5)
    # Fixed day counts made for 90-day certificates still leave time to renew a 6-day one.
    due = renewal_due(NB, NA6, P({"days_after": 60}))
    assert due == NA6 - timedelta(days=0.6)
    assert NB <= renewal_due(NB, NA6, P({"days_before": 30})) < NA6


def test_retry_after_failure_grows() -> None:
    waits = [retry_after_failure(n, NOW) - NOW for n in range(1, 6)]
    assert waits == [FIRST_RETRY * 2**i for i in range(5)]
    assert waits[0] == timedelta(minutes=5)
    assert retry_after_failure(0, NOW) - NOW == FIRST_RETRY


def test_retry_after_failure_capped_at_a_day() -> None:
    assert retry_after_failure(12, NOW) - NOW == MAX_RETRY == timedelta(days=1)
    assert retry_after_failure(30, NOW) - NOW == MAX_RETRY


def test_retry_after_failure_capped_by_lifetime() -> None:
    six_days = timedelta(days=6)
    assert retry_after_failure(20, NOW, six_days) - NOW == six_days / 10
    # A very short lifetime still waits the first retry, not less.
    assert retry_after_failure(20, NOW, timedelta(minutes=10)) - NOW == FIRST_RETRY


def test_retry_after_many_failures_stays_capped() -> None:
    # A certificate failing daily for about a month reaches this count.
    assert retry_after_failure(40, NOW) - NOW == MAX_RETRY
