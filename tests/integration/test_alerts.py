"""The alert policy end to end: a real Pebble, a real SMTP server (aiosmtpd), the real renewal worker and
`certify-tui renew` run as cron would (no terminal). One message per event per certificate, never per retry."""

from __future__ import annotations

import email
import email.policy
import json
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from aiosmtpd.controller import Controller
from integration.helpers import CLI, add_account, add_standalone_cert, open_core, unique
from servers.common import free_port
from servers.pebble import PebbleServer

from certify_tui.challenges.rules import make_rule
from certify_tui.lifecycle import Core
from certify_tui.model import RenewalPolicy
from certify_tui.renewal.worker import RenewalWorker
from certify_tui.service.api import ApiServer
from certify_tui.service.discovery import read_token
from certify_tui.store.models import ManagedCertificate


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd hook
        with self.lock:
            self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 Message accepted"

    def subjects(self) -> list[str]:
        with self.lock:
            return [str(m["Subject"]) for m in self.messages]

    def bodies(self) -> list[str]:
        with self.lock:
            parts = [m.get_body(preferencelist=("plain",)) for m in self.messages]
        assert all(part is not None for part in parts)
        return [str(part.get_content()) for part in parts if part is not None]


@pytest.fixture
def inbox() -> Iterator[tuple[_Inbox, int]]:
    collected = _Inbox()
    port = free_port()
    controller = Controller(collected, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield collected, port
    finally:
        controller.stop()


def _smtp_only(core: Core, port: int) -> None:
    """What a user who only set an SMTP server has: the default alert policy."""
    core.update_settings({"notify_urls": f"mailto://127.0.0.1:{port}?mode=insecure&from=certify@example.com"
                                         f"&to=ops@example.com"})


def _point_standalone_at(core: Core, name: str, port: int) -> None:
    cert = core.get_certificate(name)
    cert.challenge_rules = [make_rule("http-01", "standalone", {"address": "127.0.0.1", "port": port})]
    cert.save()


def _break(core: Core, pebble: PebbleServer, name: str) -> None:
    """Validation fails from now on: the answer is on a port the CA never connects to, and a fresh account has
    no authorization to reuse."""
    _point_standalone_at(core, name, free_port())
    cert = core.get_certificate(name)
    cert.account = add_account(core, pebble)
    cert.save()


def _time_passes(name: str) -> None:
    """The retry backoff is over (what waiting minutes would do)."""
    ManagedCertificate.update(next_attempt=datetime.now(UTC) - timedelta(seconds=1)).where(
        ManagedCertificate.name == name).execute()


def test_alerts_worker_sends_one_failure_alert_after_two_failures_and_one_on_recovery(
        core: Core, pebble: PebbleServer, inbox: tuple[_Inbox, int], data_dir: Path) -> None:
    messages, port = inbox
    name = unique("alertw")
    add_account(core, pebble)
    add_standalone_cert(core, pebble, name, [f"{name}.example.test"])
    core.request(name)
    _smtp_only(core, port)
    # This Pebble's certificates are short-lived enough for expiry warnings (the cron test covers them): here
    # only failures and recovery are counted.
    core.update_settings({"alert_expiry_days": "off"})
    cert = core.get_certificate(name)
    cert.renewal = RenewalPolicy("days_before", 90)  # due now: the worker renews it at its next check
    cert.save()
    _time_passes(name)
    _break(core, pebble, name)
    worker = RenewalWorker(core, where="service", maintenance=False)  # its checks, called as the scheduler would

    timeline: list[tuple[int, str, list[str]]] = []
    for attempt in range(1, 5):  # four failed checks in a row
        outcomes = worker.check_now()
        assert [(o.name, o.action) for o in outcomes] == [(name, "failed")]
        timeline.append((attempt, "failed", messages.subjects()))
        _time_passes(name)
    assert [len(subjects) for _, _, subjects in timeline] == [0, 1, 1, 1], timeline
    failure = messages.messages[0]
    assert f"renewal of {name} FAILED 2 times" in str(failure["Subject"])
    assert "could not connect" in messages.bodies()[0] and f"certify-tui cert log {name}" in messages.bodies()[0]

    # Meanwhile `status` and /api/summary show it in warning, with the last delivery.
    server = ApiServer(core, port=free_port()).start()
    try:
        summary = requests.get(f"{server.url}/api/summary", timeout=30,
                               headers={"Authorization": f"Bearer {read_token(data_dir)}"}).json()
        status = subprocess.run([str(CLI), "--data-dir", str(data_dir), "status"], capture_output=True, text=True,
                                timeout=60, stdin=subprocess.DEVNULL)
    finally:
        server.stop()
    assert {(w["name"], w["kind"]) for w in summary["warnings"]} >= {(name, "failing")}
    assert summary["counts"] == {"failed": 1}
    assert summary["last_run"]["by"] == "service" and summary["last_run"]["outcomes"] == {"failed": 1}
    assert summary["alerts"]["last_delivery"]["ok"] is True
    assert len(summary["alerts"]["channels"]) == 1 and "127.0.0.1" in summary["alerts"]["channels"][0]
    assert status.returncode == 0, status
    assert f"{name}: failing: failed 4 times in a row" in status.stdout
    assert "Last alert: " in status.stdout and ": delivered" in status.stdout

    _point_standalone_at(core, name, pebble.http_port)
    outcomes = worker.check_now()
    assert [(o.name, o.action) for o in outcomes] == [(name, "renewed")]
    assert len(messages.subjects()) == 2
    assert f"{name} recovered" in messages.subjects()[1]
    worker.check_now()  # nothing due, nothing more to say
    assert len(messages.subjects()) == 2
    assert core.get_certificate(name).alert_state.get("failure_alerted") is None


def _time_passes_in(data_dir: Path, name: str) -> None:
    for _core in open_core(data_dir):  # the database opened as another process would
        _time_passes(name)


def _cron(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CLI), "--data-dir", str(data_dir), "renew", *args], capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL)


def test_alerts_renew_from_cron_warns_of_a_short_lived_certificate_near_expiry(
        data_dir: Path, pebble: PebbleServer, inbox: tuple[_Inbox, int]) -> None:
    messages, port = inbox
    name = unique("alertc")
    for core in open_core(data_dir):
        add_account(core, pebble)
        add_standalone_cert(core, pebble, name, [f"{name}.example.test"], profile="shortlived")
        core.request(name)
        issued = core.get_certificate(name)
        assert issued.not_after - issued.not_before <= timedelta(days=6, minutes=1)  # Pebble's short profile
        _smtp_only(core, port)
        issued.renewal = RenewalPolicy("days_before", 6)  # overdue now, 6 days before its end
        issued.save()
        _time_passes(name)
        _break(core, pebble, name)

    # 1st cron run: the renewal fails once (no failure alert yet), and the certificate is within 7 days of its
    # end without a successful renewal: one warning covering the 14- and 7-day thresholds.
    run = _cron(data_dir)
    assert run.returncode == 1 and "could not connect" in run.stderr, run
    assert len(messages.subjects()) == 1, messages.subjects()
    assert f"{name} expires in 6 days" in messages.subjects()[0]
    assert f"certify-tui renew {name} --force" in messages.bodies()[0]

    # --no-notify: the run sends nothing, even though this is the 2nd failure.
    _time_passes_in(data_dir, name)
    run = _cron(data_dir, "--no-notify")
    assert run.returncode == 1
    assert len(messages.subjects()) == 1
    # The next notifying run catches up with the failure alert (2 in a row), once; no second expiry warning.
    _time_passes_in(data_dir, name)
    _cron(data_dir)
    _time_passes_in(data_dir, name)
    _cron(data_dir)
    assert len(messages.subjects()) == 2, messages.subjects()
    assert f"renewal of {name} FAILED 3 times" in messages.subjects()[1]

    status = subprocess.run([str(CLI), "--data-dir", str(data_dir), "status", "--json"], capture_output=True,
                            text=True, timeout=60, stdin=subprocess.DEVNULL)
    summary = json.loads(status.stdout)["summary"]
    kinds = {w["kind"] for w in summary["warnings"] if w["name"] == name}
    assert kinds == {"expiring", "failing"}, summary["warnings"]
    assert summary["last_run"]["by"] == "cron"

    for core in open_core(data_dir):
        _point_standalone_at(core, name, pebble.http_port)
        _time_passes(name)
    run = _cron(data_dir)
    assert run.returncode == 0, run
    assert len(messages.subjects()) == 3, messages.subjects()
    assert f"{name} recovered" in messages.subjects()[2]
    _cron(data_dir)  # nothing due: no message
    assert len(messages.subjects()) == 3


def test_alerts_daily_digest_is_sent_once_a_day_by_the_run(
        core: Core, pebble: PebbleServer, inbox: tuple[_Inbox, int]) -> None:
    from certify_tui.lifecycle.alerts_records import DIGEST_SENT_KEY, put_record

    messages, port = inbox
    add_account(core, pebble)
    good, bad = unique("digestok"), unique("digestko")
    add_standalone_cert(core, pebble, good, [f"{good}.example.test"])
    add_standalone_cert(core, pebble, bad, [f"{bad}.example.test"])
    core.request(good)
    _smtp_only(core, port)
    core.update_settings({"alert_digest": "daily", "alert_expiry_days": "off"})
    ManagedCertificate.update(status="failed", failure_count=3, last_error="the CA could not connect").where(
        ManagedCertificate.name == bad).execute()

    assert core.alert_sweep("service") == 2  # the failure alert for `bad`, and the first digest
    subjects, bodies = messages.subjects(), messages.bodies()
    assert any(f"renewal of {bad} FAILED 3 times" in s for s in subjects)
    digest = next(b for s, b in zip(subjects, bodies, strict=True) if "daily digest" in s)
    assert "Certificates: 2 (1 failed, 1 valid)." in digest
    assert f"- {bad}: failed 3 times in a row: the CA could not connect" in digest
    assert f"- {good}: " in digest.split("Soonest expiries:")[1]

    assert core.alert_sweep("service") == 0  # the next check the same day: nothing new
    assert len(messages.subjects()) == 2
    put_record(DIGEST_SENT_KEY, {"at": (datetime.now(UTC) - timedelta(days=1)).isoformat()})  # a day later
    assert core.alert_sweep("service") == 1
    assert "daily digest" in messages.subjects()[2]


def test_alerts_summary_names_each_kind_of_warning(core: Core, pebble: PebbleServer) -> None:
    add_account(core, pebble)
    now = datetime.now(UTC)
    names = {kind: unique(kind.replace("-", "")) for kind in
             ("healthy", "failing", "rate-limited", "revoked", "expiring", "expired", "deploy-failed")}
    for name in names.values():
        add_standalone_cert(core, pebble, name, [f"{name}.example.test"])
    m = ManagedCertificate
    fresh = {"status": "valid", "not_before": now - timedelta(days=1), "not_after": now + timedelta(days=89),
             "next_attempt": now + timedelta(days=60)}
    rows = {"healthy": fresh,
            "failing": {**fresh, "status": "failed", "failure_count": 2, "last_error": "the CA answered 503"},
            "rate-limited": {**fresh, "rate_limited_until": now + timedelta(hours=3)},
            "revoked": {**fresh, "status": "revoked", "revoked_at": now},
            "expiring": {"status": "failed", "failure_count": 1, "not_before": now - timedelta(days=85),
                         "not_after": now + timedelta(days=5)},
            "expired": {"status": "valid", "not_before": now - timedelta(days=91), "not_after": now - timedelta(days=1)},
            "deploy-failed": {**fresh, "deploy_error": "nginx -t failed"}}
    for kind, values in rows.items():
        m.update(**values).where(m.name == names[kind]).execute()

    summary = core.status_summary()
    found = {(w["name"], w["kind"]) for w in summary["warnings"]}
    assert found == {(names[k], k) for k in rows if k != "healthy"}, summary["warnings"]
    detail = {w["kind"]: w["detail"] for w in summary["warnings"]}
    assert detail["rate-limited"].startswith("rate limited until ")
    assert detail["failing"] == "failed 2 times in a row: the CA answered 503"
    assert summary["counts"] == {"failed": 2, "revoked": 1, "valid": 4}
    assert summary["total"] == 7
    assert [e["name"] for e in summary["soonest_expiries"]][:2] == [names["expired"], names["expiring"]]
    assert summary["next_renewals"][0]["at"] <= summary["next_renewals"][-1]["at"]


def test_alerts_failed_deployment_is_reported_once_per_issued_certificate(
        core: Core, pebble: PebbleServer, inbox: tuple[_Inbox, int], tmp_path: Path) -> None:
    from certify_tui.model import TaskConfig

    messages, port = inbox
    add_account(core, pebble)
    name = unique("alertd")
    add_standalone_cert(core, pebble, name, [f"{name}.example.test"])
    core.add_task(name, TaskConfig("command", {"command": "false"}))  # a reload command that fails
    _smtp_only(core, port)
    core.update_settings({"alert_expiry_days": "off"})
    cert = core.get_certificate(name)
    cert.renewal = RenewalPolicy("days_before", 90)  # due at every check
    cert.save()
    _time_passes(name)
    worker = RenewalWorker(core, where="service", maintenance=False)

    assert [o.action for o in worker.check_now()] == ["deploy-failed"]
    assert len(messages.subjects()) == 1 and f"deployment of {name} FAILED" in messages.subjects()[0]
    assert f"certify-tui cert deploy {name}" in messages.bodies()[0]
    core.alert_sweep("service")  # the sweep sees the same deployment failure: nothing more
    assert len(messages.subjects()) == 1

    _time_passes(name)  # the next certificate fails to deploy too: that is news again
    assert [o.action for o in worker.check_now()] == ["deploy-failed"]
    assert len(messages.subjects()) == 2
