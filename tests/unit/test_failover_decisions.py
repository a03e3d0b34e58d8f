"""The failover decision table and rate limits, without a CA: what each kind of failure does to the next attempt.

Failures go through the request's own recording (request._save_failure), so the table tested is the one a real
request follows; the CA-facing side (two Pebbles, a rate-limiting proxy) is in tests/integration.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from acme import errors as acme_errors
from acme import messages

from certify_tui.ca.problems import failure_kind, translate
from certify_tui.errors import CAError, CertifyError, UsageError, ValidationFailed
from certify_tui.keys import generate_key, key_to_pem
from certify_tui.lifecycle import Core, failover
from certify_tui.lifecycle.certificates import get_certificate
from certify_tui.lifecycle.renew import decide, left_out
from certify_tui.lifecycle.request import _save_failure
from certify_tui.lifecycle.spec_changes import CertificateChanges
from certify_tui.store.models import Account

URL = "https://ca.invalid/dir"


def _account(email: str, directory: str) -> Account:
    return Account.create(email=email, directory_url=directory, status="valid",
                          account_key_pem=key_to_pem(generate_key()).decode(), allow_internal_names=True)


@pytest.fixture
def core(tmp_path: Path) -> Iterator[Core]:
    core = Core.open(str(tmp_path / "data"))
    _account("primary@example.org", "https://ca-one.invalid/dir")
    _account("second@example.org", "https://ca-two.invalid/dir")
    _account("third@example.org", "https://ca-three.invalid/dir")
    core.add_certificate(name="web", domains=["web.example.test"], account="primary@example.org",
                         fallback_accounts=["second@example.org", "third@example.org"])
    yield core
    core.close()


def _problem(code: str, detail: str = "detail") -> messages.Error:
    return messages.Error(typ=f"urn:ietf:params:acme:error:{code}", detail=detail)


def _unreachable() -> CertifyError:
    return translate(requests.exceptions.ConnectionError("refused"), url=URL)


def _http(status: int) -> CertifyError:
    response = requests.Response()
    response.status_code = status
    return translate(acme_errors.ClientError(response), url=URL)


def test_failover_kinds_of_ca_failures() -> None:
    assert failure_kind(_unreachable()) == "ca-side"
    assert failure_kind(translate(requests.exceptions.ReadTimeout("slow"), url=URL)) == "ca-side"
    assert failure_kind(_http(503)) == "ca-side"
    assert "failed with HTTP 503" in _http(503).message
    assert failure_kind(_http(404)) == "other"
    assert failure_kind(translate(_problem("serverInternal"))) == "ca-side"
    assert failure_kind(translate(_problem("rateLimited"), retry_after="60")) == "rate-limited"
    assert failure_kind(translate(_problem("unauthorized"))) == "validation"
    assert failure_kind(ValidationFailed("Validation failed: web.example.test: 404")) == "validation"
    assert failure_kind(UsageError("bad option")) == "other"


def _fail(name: str, error: CertifyError) -> None:
    cert = get_certificate(name)
    _save_failure(cert, error)


def test_failover_after_three_ca_side_failures_then_the_next_then_round(core: Core) -> None:
    positions = []
    for _ in range(9):
        _fail("web", _unreachable())
        positions.append(failover.attempt_account(get_certificate("web")).account.email)
    assert positions == ["primary@example.org"] * 2 + ["second@example.org"] * 3 + ["third@example.org"] * 3 + [
        "primary@example.org"]
    cert = get_certificate("web")
    assert cert.ca_failure_count == 9 and cert.failure_count == 9
    assert cert.renew_reason == "back to primary@example.org after the fallback accounts failed"
    # The failure that switched accounts made the next attempt due now, not after the backoff.
    for _ in range(3):
        _fail("web", _unreachable())
    cert = get_certificate("web")
    assert cert.next_attempt is not None and cert.next_attempt <= datetime.now(UTC)
    assert "failing over to second@example.org" in (cert.renew_reason or "")
    plan = core.preview("web")
    assert plan.account == "second@example.org" and plan.execution.account_id == failover.attempt_account(
        cert).account.id
    assert any("failing over to second@example.org" in w and "after 12 consecutive CA-side failures" in w
               for w in plan.warnings)


def test_failover_never_for_validation_failures(core: Core) -> None:
    for _ in range(2):
        _fail("web", _unreachable())
    for _ in range(5):
        _fail("web", ValidationFailed("Validation failed: web.example.test: the CA got a 404"))
    cert = get_certificate("web")
    assert cert.ca_failure_count == 0 and cert.failure_count == 7  # the streak is broken, failures still count
    assert failover.attempt_account(cert).position == 0
    assert core.preview("web").account == "primary@example.org"
    # A CA-side failure after that starts a new streak: two more are not enough.
    for _ in range(2):
        _fail("web", _http(502))
    assert failover.attempt_account(get_certificate("web")).position == 0


def test_failover_uses_the_global_default_list_when_the_certificate_has_none(core: Core) -> None:
    core.change_certificate("web", CertificateChanges(fallback_accounts=()))
    assert get_certificate("web").fallback_accounts == []
    for _ in range(3):
        _fail("web", _unreachable())
    assert failover.attempt_account(get_certificate("web")).position == 0  # no fallback: it stays
    core.update_settings({"fallback_accounts": "third@example.org", "failover_after": 2})
    assert core.settings()["fallback_accounts"] == "third@example.org"  # by email: a bundle moves it as it is
    third = Account.get(Account.email == "third@example.org")
    assert core.update_settings({"fallback_accounts": f"{third.id}, third@example.org"})[
        "fallback_accounts"] == "third@example.org"
    assert failover.attempt_account(get_certificate("web")).account.email == "third@example.org"
    with pytest.raises(UsageError, match="No active account 'nobody@example.org'") as caught:
        core.update_settings({"fallback_accounts": "nobody@example.org"})
    assert caught.value.field == "fallback_accounts"


def test_failover_accounts_are_checked(core: Core) -> None:
    with pytest.raises(UsageError, match="own account") as caught:
        core.change_certificate("web", CertificateChanges(fallback_accounts=("primary@example.org",)))
    assert caught.value.field == "fallback_accounts"
    with pytest.raises(UsageError, match="No active account") as caught:
        core.change_certificate("web", CertificateChanges.from_json({"fallback_accounts": ["ghost@example.org"]}))
    assert caught.value.field == "fallback_accounts"
    with pytest.raises(UsageError, match="list of accounts") as caught:
        CertificateChanges.from_json({"fallback_accounts": "second@example.org"})
    assert caught.value.field == "fallback_accounts"
    view = core.certificate_view(get_certificate("web"))
    assert view["fallback_accounts"] == ["second@example.org", "third@example.org"]
    assert view["ca_failure_count"] == 0 and view["rate_limited_until"] is None and view["issued_by"] is None


def test_rate_limit_waits_for_retry_after_without_counting_a_failure(core: Core, tmp_path: Path) -> None:
    before = datetime.now(UTC)
    _fail("web", translate(_problem("rateLimited", "too many certificates for this exact set of identifiers"),
                           retry_after="600"))
    cert = get_certificate("web")
    assert cert.failure_count == 0 and cert.ca_failure_count == 0
    assert cert.rate_limited_until is not None
    assert before + timedelta(seconds=599) <= cert.rate_limited_until <= datetime.now(UTC) + timedelta(seconds=601)
    assert cert.next_attempt == cert.rate_limited_until
    assert core.certificate_view(cert)["renews_at"] == cert.rate_limited_until.isoformat()  # what faces show
    assert [row.renews_at for row in core.certificate_rows()] == [cert.rate_limited_until]
    decision = decide(core.data, cert, datetime.now(UTC))
    assert not decision.due and decision.reason.startswith("rate limited until")
    assert [(o.name, o.action) for o in left_out(force=False)] == [("web", "rate-limited")]
    # Asking again before then is refused without contacting the CA, and says until when.
    limited = failover.still_limited(cert, cert.account, datetime.now(UTC))
    assert isinstance(limited, CAError) and failure_kind(limited) == "rate-limited"
    assert f"{cert.rate_limited_until:%Y-%m-%d %H:%M}" in limited.message
    assert any("Rate limited by the CA" in w for w in core.preview("web").warnings)
    # Once it has passed, the certificate is due again.
    assert decide(core.data, cert, cert.rate_limited_until + timedelta(seconds=1)).due


def test_rate_limit_of_the_account_holds_for_its_other_certificates(core: Core) -> None:
    core.add_certificate(name="other", domains=["other.example.test"], account="primary@example.org")
    _fail("web", translate(_problem("rateLimited", "too many new orders recently"), retry_after="300"))
    other = get_certificate("other")
    assert failover.account_limited_until(other.account, datetime.now(UTC)) is not None
    assert failover.still_limited(other, other.account, datetime.now(UTC)) is not None
    second = Account.get(Account.email == "second@example.org")
    assert failover.still_limited(other, second, datetime.now(UTC)) is None


def test_rate_limit_fails_over_only_when_waiting_would_pass_expiry(core: Core) -> None:
    cert = get_certificate("web")
    now = datetime.now(UTC)
    cert.not_before, cert.not_after = now - timedelta(days=80), now + timedelta(days=10)
    cert.save()
    _fail("web", translate(_problem("rateLimited", "too many certificates"), retry_after=str(7 * 86400)))
    cert = get_certificate("web")
    assert cert.rate_limited_until is not None and failover.attempt_account(cert).position == 0  # 7 d: wait
    cert.rate_limited_until = None
    cert.save()
    _fail("web", translate(_problem("rateLimited", "too many certificates"), retry_after=str(10 * 86400)))
    cert = get_certificate("web")
    assert cert.failure_count == 0 and cert.rate_limited_until is None
    assert failover.attempt_account(cert).account.email == "second@example.org"
    assert cert.next_attempt is not None and cert.next_attempt <= datetime.now(UTC)
    assert "failing over to second@example.org" in (cert.renew_reason or "")


def _cli(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "certify_tui", "--data-dir", str(data), *args],
                          capture_output=True, text=True, timeout=60)


def test_failover_accounts_from_the_cli(core: Core) -> None:
    data = Path(core.data.root)
    core.close()
    out = _cli(data, "cert", "set", "web", "--fallback-account", "third@example.org", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["fallback_accounts"] == ["third@example.org"]
    bad = _cli(data, "cert", "set", "web", "--fallback-account", "primary@example.org")
    assert bad.returncode == 2 and "own account" in bad.stderr and "Traceback" not in bad.stderr
    cleared = _cli(data, "cert", "set", "web", "--no-fallback-accounts", "--json")
    assert cleared.returncode == 0 and json.loads(cleared.stdout)["fallback_accounts"] == []
    setting = _cli(data, "settings", "set", "failover_after=5")
    assert setting.returncode == 0, setting.stderr
