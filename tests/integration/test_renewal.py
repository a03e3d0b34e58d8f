"""Renewal against a real Pebble: ARI windows and `replaces`, profiles, due selection, backoff,
resuming an interrupted order, and nonce rejection."""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers import add_account, add_standalone_cert, live_bytes, unique, verify_issued
from servers.common import free_port
from servers.pebble import PebbleNotFound, PebbleServer

from certify_tui.challenges.rules import make_rule
from certify_tui.errors import UsageError
from certify_tui.events import ProgressEvent
from certify_tui.lifecycle import Core
from certify_tui.lifecycle.renew import due_names
from certify_tui.store.models import ManagedCertificate

PAST = ("2020-01-01T00:00:00Z", "2020-01-02T00:00:00Z")
FUTURE = ("2099-01-01T00:00:00Z", "2099-01-02T00:00:00Z")


@pytest.fixture
def core(data_dir: Path):
    core = Core.open(str(data_dir))
    yield core
    core.close()


def issue(core: Core, pebble, names: list[str] | None = None, **kwargs) -> str:
    add_account(core, pebble)
    name = unique("r")
    add_standalone_cert(core, pebble, name, names or [f"{name}.example.test"], **kwargs)
    core.request(name)
    return name


def cert_pem(core: Core, name: str) -> bytes:
    return Path(core.certificate_view(core.get_certificate(name))["files"]["cert"]).read_bytes()


def log_text(core: Core, name: str) -> str:
    return core.certificate_log(name)


def test_after_issuance_the_next_check_looks_at_ari(core: Core, pebble) -> None:
    name = issue(core, pebble)
    cert = core.get_certificate(name)
    assert cert.next_attempt <= datetime.now(UTC)  # due for a look, not for renewal
    assert name in due_names()
    outcome, = core.renew()
    assert outcome.action == "not-due", outcome
    cert = core.get_certificate(name)
    assert cert.ari_window_start is not None and cert.ari_window_start <= cert.ari_renew_at <= cert.ari_window_end
    assert cert.next_attempt > datetime.now(UTC)
    assert name not in due_names()


def test_ari_window_in_the_past_renews_with_replaces(core: Core, pebble) -> None:
    name = issue(core, pebble)
    before = core.certificate_view(core.get_certificate(name))
    pebble.set_renewal_info(cert_pem(core, name), *PAST)
    dry, = core.renew(dry_run=True)
    assert dry.action == "would-renew" and "ARI" in dry.message
    assert core.certificate_view(core.get_certificate(name))["serial"] == before["serial"]  # dry run changed nothing
    outcome, = core.renew()
    assert outcome.action == "renewed", outcome
    after = core.certificate_view(core.get_certificate(name))
    assert after["serial"] != before["serial"] and after["versions"] == 2
    assert "replacing the current certificate (ARI)" in log_text(core, name)
    verify_issued(after["files"], after["identifiers"], pebble.root_pem())


def test_ari_window_in_the_future_is_not_due(core: Core, pebble) -> None:
    name = issue(core, pebble)
    pebble.set_renewal_info(cert_pem(core, name), *FUTURE)
    outcome, = core.renew()
    assert outcome.action == "not-due"
    cert = core.get_certificate(name)
    # The policy (75% of the lifetime) comes before the CA's far-future window.
    assert cert.next_attempt <= cert.not_before + (cert.not_after - cert.not_before) * 0.76


def test_replaces_refused_falls_back_to_a_plain_order(core: Core, pebble) -> None:
    name = issue(core, pebble)
    first = cert_pem(core, name)
    core.renew([name], force=True)  # this order replaces `first`
    # Point the live certificate back at the already-replaced one: the CA refuses a second `replaces`.
    files = core.certificate_view(core.get_certificate(name))["files"]
    live_cert = Path(files["cert"]).resolve()
    saved = live_cert.read_bytes()
    live_cert.write_bytes(first)
    outcome, = core.renew([name], force=True)
    assert outcome.action == "renewed", outcome.message
    assert "ordering without it" in log_text(core, name)
    assert saved != first


def test_profile_shortlived_gives_a_six_day_certificate(core: Core, pebble) -> None:
    name = issue(core, pebble, profile="shortlived")
    cert = core.get_certificate(name)
    lifetime = cert.not_after - cert.not_before
    assert timedelta(days=5) < lifetime <= timedelta(days=6, hours=1)
    due = cert.not_before + lifetime * 0.75
    view = core.certificate_view(cert)
    assert abs(datetime.fromisoformat(view["renews_at"]) - due) < timedelta(hours=13)  # never after 75%


def test_unknown_profile_is_a_clear_error(core: Core, pebble) -> None:
    add_account(core, pebble)
    name = unique("p")
    add_standalone_cert(core, pebble, name, [f"{name}.example.test"], profile="no-such-profile")
    with pytest.raises(UsageError, match="no profile 'no-such-profile'.*shortlived"):
        core.request(name)


def test_failure_backs_off_and_stays_visible(core: Core, pebble) -> None:
    add_account(core, pebble)
    name = unique("f")
    core.add_certificate(name=name, domains=[f"{name}.example.test"],
                         options={"address": "127.0.0.1", "port": pebble.http_port + 1 if pebble.http_port < 65000
                                  else pebble.http_port - 1})
    waits = []
    for _ in range(3):
        outcome, = core.renew([name], force=True)
        assert outcome.action == "failed" and name.split("f")[0] in outcome.message or outcome.message
        cert = core.get_certificate(name)
        waits.append(cert.next_attempt - cert.last_attempt)
        assert cert.status == "failed" and cert.last_error
    assert waits[0] < waits[1] < waits[2]
    assert waits[0] >= timedelta(minutes=4)


@pytest.mark.parametrize("crash_at", ["finalize", "download"])
def test_interrupted_order_is_resumed_not_reordered(core: Core, pebble, crash_at: str) -> None:
    add_account(core, pebble)
    name = unique("k")
    add_standalone_cert(core, pebble, name, [f"{name}.example.test"])

    class Crash(Exception):
        pass

    def crash(event: ProgressEvent) -> None:
        if event.step == crash_at and event.ok is None:
            raise Crash()  # as if the process died here: the order is ready (finalize) or valid (download)

    with pytest.raises(Exception):  # noqa: B017 - any unexpected error; the point is what is left behind
        core.request(name, on_event=crash)
    cert = core.get_certificate(name)
    order_url = cert.pending_order_url
    assert order_url, "the order must be remembered before challenges are answered"
    assert (core.data.certificate_dir(name) / "pending-privkey.pem").exists()
    core.request(name)
    text = log_text(core, name)
    assert "resuming the unfinished order" in text
    assert text.count("order created") == 1  # exactly one order was ever placed
    cert = core.get_certificate(name)
    assert cert.pending_order_url is None and cert.status == "valid"
    assert not (core.data.certificate_dir(name) / "pending-privkey.pem").exists()
    view = core.certificate_view(cert)
    verify_issued(view["files"], view["identifiers"], pebble.root_pem())


def test_resumed_order_that_fails_where_the_stopped_run_answered_gets_one_new_order(core: Core, pebble) -> None:
    """A run answered a challenge and died; the CA then looked while nothing served the answer. The next
    run, resuming that order, must order again instead of failing (and backing off) for its own crash.

    Deterministic: a tarpit on the CA's HTTP port holds the CA's validation connection, so the order is
    still pending when the next run resumes it; the test then resets that connection, as a dead listener
    would, after the next run has read the order."""
    add_account(core, pebble)
    name = unique("stale")
    add_standalone_cert(core, pebble, name, [f"{name}.example.test"])
    cert = core.get_certificate(name)
    rules = cert.challenge_rules
    # The first run listens elsewhere: the CA's connection lands on the tarpit instead.
    cert.challenge_rules = [make_rule("http-01", "standalone", {"address": "127.0.0.1", "port": free_port()})]
    cert.save()
    tarpit = socket.create_server(("127.0.0.1", pebble.http_port), reuse_port=False)
    held: list[socket.socket] = []

    class Crash(Exception):
        pass

    def die_after_answering(event: ProgressEvent) -> None:
        if event.step == "validation" and "answered" in event.message:
            tarpit.settimeout(10)
            held.append(tarpit.accept()[0])  # the CA is now validating, and waits on us
            # Pebble validates from several perspectives at once (3 connections): hold every one of them,
            # or the one left in the backlog is refused when the tarpit closes and the order turns invalid.
            tarpit.settimeout(1.0)
            with contextlib.suppress(TimeoutError):
                while True:
                    held.append(tarpit.accept()[0])
            raise Crash()

    try:
        with pytest.raises(Exception, match="Crash"):  # noqa: B017 - wrapped as an unexpected error
            core.request(name, on_event=die_after_answering)
        assert held, "the CA's validation connection must be held by the tarpit"
        tarpit.close()  # the port is free for the next run; the CA's connection stays held
        cert = core.get_certificate(name)
        cert.challenge_rules = rules
        cert.save()

        def drop_the_held_connection(event: ProgressEvent) -> None:
            if event.step == "validation" and "already answered" in event.message:
                while held:  # a reset: what the CA sees when the listener it reached has died
                    conn = held.pop()
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    conn.close()

        result = core.request(name, on_event=drop_the_held_connection)
    finally:
        tarpit.close()
        for conn in held:
            conn.close()
    text = log_text(core, name)
    assert "resuming the unfinished order (pending)" in text
    assert "the resumed order failed where the stopped run had answered" in text
    assert text.count("order created") == 2  # the crashed run's order, and exactly one new one
    assert core.get_certificate(name).status == "valid" and core.get_certificate(name).failure_count == 0
    verify_issued(result.version.files, [f"{name}.example.test"], pebble.root_pem())


def test_parallel_pool_renews_many(core: Core, pebble) -> None:
    add_account(core, pebble)
    names = []
    for _ in range(8):
        name = unique("pool")
        add_standalone_cert(core, pebble, name, [f"{name}.example.test"])
        names.append(name)
    outcomes = core.renew(names, force=True, pool_size=4)
    assert [o.action for o in outcomes] == ["renewed"] * 8, [o.message for o in outcomes]
    assert len({o.serial for o in outcomes}) == 8


def test_lease_blocks_a_second_renewer(core: Core, pebble) -> None:
    name = issue(core, pebble)
    started, release = threading.Event(), threading.Event()
    results = {}

    def slow(event: ProgressEvent) -> None:
        if event.step == "start":
            started.set()
            release.wait(10)

    thread = threading.Thread(target=lambda: results.setdefault("first", core.request(name, on_event=slow)))
    thread.start()
    assert started.wait(10)
    outcome, = core.renew([name], force=True)
    assert outcome.action == "busy" and "being renewed" in outcome.message
    release.set()
    thread.join(20)
    assert results["first"].version.serial
    assert ManagedCertificate.get(ManagedCertificate.name == name).lease_owner is None


@pytest.fixture(scope="module")
def nonce_pebble():
    try:
        server = PebbleServer(env={"PEBBLE_WFE_NONCEREJECT": "20"})
    except PebbleNotFound as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    with server.start():
        yield server


def test_every_renewal_succeeds_at_20_percent_nonce_rejection(data_dir: Path, nonce_pebble) -> None:
    core = Core.open(str(data_dir))
    try:
        add_account(core, nonce_pebble)
        names = []
        for _ in range(10):
            name = unique("n")
            add_standalone_cert(core, nonce_pebble, name, [f"{name}.example.test"])
            names.append(name)
        outcomes = core.renew(names, force=True, pool_size=4)
        assert all(o.action == "renewed" for o in outcomes), [o.message for o in outcomes if not o.ok]
        before = {n: live_bytes(core.certificate_view(core.get_certificate(n))["files"]) for n in names}
        outcomes = core.renew(names, force=True, pool_size=4)
        assert all(o.action == "renewed" for o in outcomes), [o.message for o in outcomes if not o.ok]
        assert all(live_bytes(core.certificate_view(core.get_certificate(n))["files"]) != before[n] for n in names)
    finally:
        core.close()
