"""The alert decision table: which message a certificate's state calls for, once per episode, never per retry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from certify_tui.errors import UsageError
from certify_tui.lifecycle.alerts_policy import AlertPolicy, CertState, decide, parse_days

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
POLICY = AlertPolicy()


def _cert(**changes: Any) -> CertState:
    base: dict[str, Any] = {"name": "web", "status": "valid", "not_after": NOW + timedelta(days=60),
                            "renewal_due": NOW + timedelta(days=30), "date_issued": NOW - timedelta(days=30)}
    return CertState(**{**base, **changes})


def _failing(count: int) -> CertState:
    return _cert(status="failed", failure_count=count, last_error="could not connect to the CA",
                 next_attempt=NOW + timedelta(minutes=10))


def _run(states: list[CertState], policy: AlertPolicy = POLICY, renewed_last: bool = False,
         ) -> tuple[list[str], dict[str, Any]]:
    """Feed successive states as the worker would see them; the kinds sent and the final memory."""
    sent: list[str] = []
    memory: dict[str, Any] = {}
    for i, state in enumerate(states):
        decision = decide(state, memory, policy, NOW, renewed=renewed_last and i == len(states) - 1)
        sent += [a.kind for a in decision.alerts]
        memory = decision.state
    return sent, memory


def test_alerts_policy_one_failure_alert_at_the_threshold_then_one_recovery() -> None:
    # Retries 1..5 each looked at twice (outcome, then the sweep): one alert at 2, none after, one recovery.
    states = [s for n in range(1, 6) for s in (_failing(n), _failing(n))] + [_cert(), _cert()]
    sent, memory = _run(states)
    assert sent == ["failure", "recovery"]
    assert "failure_alerted" not in memory


def test_alerts_policy_failure_threshold_is_a_setting() -> None:
    assert _run([_failing(1), _failing(2)], AlertPolicy(failures=3))[0] == []
    assert _run([_failing(1), _failing(2), _failing(3)], AlertPolicy(failures=3))[0] == ["failure"]
    assert _run([_failing(1)], AlertPolicy(failures=1))[0] == ["failure"]


def test_alerts_policy_no_recovery_message_without_a_failure_alert() -> None:
    assert _run([_failing(1), _cert()])[0] == []


def test_alerts_policy_failure_alert_says_what_to_do() -> None:
    alert = decide(_failing(2), {}, POLICY, NOW).alerts[0]
    assert "2 times" in alert.title and "could not connect to the CA" in alert.body
    assert "certify-tui cert log web" in alert.body and "certify-tui renew web --force" in alert.body


def test_alerts_policy_expiry_warnings_each_threshold_once() -> None:
    not_after = NOW + timedelta(days=20)
    overdue = {"not_after": not_after, "renewal_due": NOW - timedelta(days=1)}
    policy = POLICY
    memory: dict[str, Any] = {}
    sent: list[tuple[str, list[int]]] = []
    # The clock moves towards expiry: 20 days left, 13, 13 again (next check), 6.5, 2, 0.5, expired.
    for left in (20, 13, 13, 6.5, 2, 0.5, -1):
        now = not_after - timedelta(days=left)
        decision = decide(_cert(**overdue), memory, policy, now)
        memory = decision.state
        sent += [(a.kind, list(memory["expiry_warned"])) for a in decision.alerts]
    assert sent == [("expiry", [14]), ("expiry", [14, 7]), ("expiry", [14, 7, 3]), ("expiry", [14, 7, 3, 1])]


def test_alerts_policy_expiry_warning_crossing_several_thresholds_is_one_message() -> None:
    decision = decide(_cert(not_after=NOW + timedelta(days=2), renewal_due=NOW - timedelta(days=3)), {}, POLICY, NOW)
    assert [a.kind for a in decision.alerts] == ["expiry"]
    assert decision.state["expiry_warned"] == [14, 7, 3]
    assert "expires in 2 days" in decision.alerts[0].title
    assert "certify-tui renew web --force" in decision.alerts[0].body


def test_alerts_policy_no_expiry_warning_while_renewal_is_not_yet_due() -> None:
    # A short-lived certificate is always "within 14 days": it is news only once its renewal is overdue.
    on_schedule = _cert(not_after=NOW + timedelta(days=5), renewal_due=NOW + timedelta(days=1))
    assert decide(on_schedule, {}, POLICY, NOW).alerts == []


def test_alerts_policy_a_new_certificate_starts_a_new_expiry_episode() -> None:
    first = _cert(not_after=NOW + timedelta(days=5), renewal_due=NOW - timedelta(days=1))
    memory = decide(first, {}, POLICY, NOW).state
    assert memory["expiry_warned"] == [14, 7]
    renewed_until = NOW + timedelta(days=90)
    memory = decide(_cert(not_after=renewed_until, renewal_due=NOW + timedelta(days=60)), memory, POLICY, NOW).state
    assert decide(_cert(), {}, POLICY, NOW).state == {}
    assert memory == {}  # nothing to remember about a certificate renewing on schedule


def test_alerts_policy_expiry_days_off_and_expired_wording() -> None:
    expired = _cert(not_after=NOW - timedelta(hours=1), renewal_due=NOW - timedelta(days=5))
    assert decide(expired, {}, AlertPolicy(expiry_days=()), NOW).alerts == []
    alert = decide(expired, {}, POLICY, NOW).alerts[0]
    assert "EXPIRED" in alert.title


def test_alerts_policy_deployment_failure_once_per_issued_certificate() -> None:
    broken = _cert(deploy_error="nginx -t failed")
    sent, memory = _run([broken, broken, broken])
    assert sent == ["deploy"]
    again = _cert(deploy_error="nginx -t failed", date_issued=NOW)  # the next certificate fails to deploy too
    assert [a.kind for a in decide(again, memory, POLICY, NOW).alerts] == ["deploy"]
    assert decide(broken, memory, AlertPolicy(deploy=False), NOW).alerts == []
    assert "deploy_alerted" not in decide(_cert(), memory, POLICY, NOW).state


def test_alerts_policy_success_only_when_asked_and_only_for_a_renewal() -> None:
    assert _run([_cert()], renewed_last=True)[0] == []
    assert _run([_cert()], AlertPolicy(success=True), renewed_last=True)[0] == ["success"]
    assert _run([_cert()], AlertPolicy(success=True))[0] == []  # a sweep is not a renewal
    # A recovery is the success message: not both.
    assert _run([_failing(2), _cert()], AlertPolicy(success=True), renewed_last=True)[0] == ["failure", "recovery"]


def test_alerts_policy_parse_days() -> None:
    assert parse_days("14,7,3,1") == (14, 7, 3, 1)
    assert parse_days("1 30;7") == (30, 7, 1)
    assert parse_days("off") == () and parse_days("") == ()
    for bad in ("0", "x", "400", "-3"):
        with pytest.raises(UsageError) as info:
            parse_days(bad)
        assert info.value.field == "alert_expiry_days"


def test_alerts_policy_a_just_due_renewal_gets_a_grace_period_unless_it_failed() -> None:
    six_days = {"not_after": NOW + timedelta(days=5), "lifetime": timedelta(days=6)}
    just_due = _cert(**six_days, renewal_due=NOW - timedelta(hours=1))
    assert decide(just_due, {}, POLICY, NOW).alerts == []  # the worker renews it at its next check
    failed_once = _cert(**six_days, renewal_due=NOW - timedelta(hours=1), status="failed", failure_count=1)
    assert [a.kind for a in decide(failed_once, {}, POLICY, NOW).alerts] == ["expiry"]
    # Not attempted for longer than a twentieth of its lifetime (7.2 hours of 6 days): overdue without a failure.
    neglected = _cert(**six_days, renewal_due=NOW - timedelta(hours=8))
    assert [a.kind for a in decide(neglected, {}, POLICY, NOW).alerts] == ["expiry"]
