"""Failures against a real Pebble: the live files never change, and the outcome is recorded clearly."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from integration.helpers import (
    add_account,
    add_standalone_cert,
    live_bytes,
    public_bytes,
    san_names,
    standalone,
    verify_issued,
)
from servers.common import free_port
from servers.pebble import PebbleNotFound, PebbleServer

from certify_tui.ca import order as acme_order
from certify_tui.certfiles import CertificateFiles
from certify_tui.challenges import http_listener
from certify_tui.challenges.http_standalone import StandaloneHttpProvider
from certify_tui.challenges.rules import make_rule
from certify_tui.errors import OperationError, StorageError, ValidationFailed
from certify_tui.events import Cancelled, ProgressEvent, RequestLog
from certify_tui.keys import generate_key, key_to_pem
from certify_tui.lifecycle import Core
from certify_tui.lifecycle.accounts import session_for

pytestmark = pytest.mark.pebble



def _issued(core: Core, pebble: PebbleServer, name: str, names: list[str], **kwargs: object) -> dict[str, str]:
    """A certificate with one good version; returns its live files."""
    add_account(core, pebble)
    add_standalone_cert(core, pebble, name, names, **kwargs)
    files = core.request(name).version.files
    verify_issued(files, names, pebble.root_pem())
    return files


def _point_standalone_at(core: Core, name: str, port: int) -> None:
    cert = core.get_certificate(name)
    cert.challenge_rules = [make_rule("http-01", "standalone", {"address": "127.0.0.1", "port": port})]
    cert.save()


def _must_revalidate(core: Core, pebble: PebbleServer, name: str) -> None:
    """Move the certificate to a fresh account, so the CA has no valid authorization to reuse.

    Pebble 2.10 reuses a valid authorization when `rand.Intn(100) > PEBBLE_AUTHZREUSE` is false, so
    even PEBBLE_AUTHZREUSE=0 skips validation about 1% of the time for the same account and name.
    """
    cert = core.get_certificate(name)
    cert.account = add_account(core, pebble)
    cert.save()


def _archived(data_dir: Path, name: str) -> list[str]:
    return sorted(p.name for p in (data_dir / "certificates" / name / "archive").iterdir())


def test_failed_validation_keeps_the_live_files(core: Core, pebble: PebbleServer, data_dir: Path) -> None:
    names = ["f1.example.test", "f2.example.test"]
    files = _issued(core, pebble, "fail", names)
    before = live_bytes(files)
    versions_before = _archived(data_dir, "fail")
    good = core.certificate_view(core.get_certificate("fail"))
    # Answer on a port the CA's validator never connects to: it finds nobody on its own port.
    _point_standalone_at(core, "fail", free_port())
    _must_revalidate(core, pebble, "fail")
    started = datetime.now(UTC)

    with pytest.raises(ValidationFailed) as info:
        core.request("fail")

    assert "connect" in str(info.value)
    assert live_bytes(files) == before
    assert _archived(data_dir, "fail") == versions_before
    verify_issued(files, names, pebble.root_pem())
    view = core.certificate_view(core.get_certificate("fail"))
    assert view["status"] == "failed"
    assert view["failure_count"] == 1
    error = view["last_error"]
    assert error and "\n" not in error and "\r" not in error
    assert any(n in error for n in names), error
    assert "could not connect" in error
    assert datetime.fromisoformat(view["next_attempt"]) > datetime.now(UTC)
    assert datetime.fromisoformat(view["next_attempt"]) <= datetime.now(UTC) + timedelta(days=1)
    assert datetime.fromisoformat(view["last_attempt"]) >= started - timedelta(seconds=1)
    # The last good certificate is still what is described.
    assert view["serial"] == good["serial"] and view["versions"] == 1 and view["files"] == good["files"]
    log = core.certificate_log("fail")
    assert "failed" in log and "PRIVATE KEY" not in log
    assert not http_listener.is_listening("127.0.0.1", pebble.http_port)

    # A second failure backs off further; a later success clears the record.
    with pytest.raises(ValidationFailed):
        core.request("fail")
    second = core.certificate_view(core.get_certificate("fail"))
    assert second["failure_count"] == 2
    assert datetime.fromisoformat(second["next_attempt"]) > datetime.fromisoformat(view["next_attempt"])
    _point_standalone_at(core, "fail", pebble.http_port)
    core.request("fail")
    healed = core.certificate_view(core.get_certificate("fail"))
    assert healed["status"] == "valid" and healed["failure_count"] == 0 and healed["last_error"] is None
    assert healed["versions"] == 2 and live_bytes(files) != before


def test_first_request_failing_leaves_no_files(core: Core, pebble: PebbleServer, data_dir: Path) -> None:
    add_account(core, pebble)
    core.add_certificate(name="never", domains=["never.example.test"],
                         **standalone(pebble, port=free_port()))
    with pytest.raises(ValidationFailed, match="never.example.test"):
        core.request("never")
    view = core.certificate_view(core.get_certificate("never"))
    assert view["status"] == "failed" and view["files"] is None and view["serial"] is None
    assert not (data_dir / "certificates" / "never" / "live").exists()


def test_install_failure_leaves_live_unchanged(core: Core, pebble: PebbleServer, data_dir: Path) -> None:
    files = _issued(core, pebble, "inst", ["inst.example.test"])
    before = live_bytes(files)
    versions_before = _archived(data_dir, "inst")
    store = CertificateFiles(data_dir / "certificates", "inst")
    other_key = key_to_pem(generate_key("ec256"))

    with pytest.raises(StorageError, match="does not match"):
        store.install(before["fullchain"], other_key)
    # A chain whose "intermediate" did not issue the leaf.
    with pytest.raises(StorageError, match="chain is broken"):
        store.install(before["cert"] + pebble.root_pem(), before["privkey"])
    with pytest.raises(StorageError, match="no PEM certificate"):
        store.install(b"garbage", before["privkey"])

    assert live_bytes(files) == before
    assert _archived(data_dir, "inst") == versions_before
    assert sorted(os.listdir(data_dir / "certificates" / "inst")) == ["archive", "live"]
    verify_issued(files, ["inst.example.test"], pebble.root_pem())


def test_cancel_during_validation(core: Core, pebble: PebbleServer, data_dir: Path) -> None:
    files = _issued(core, pebble, "cancel", ["c1.example.test", "c2.example.test"])
    before = live_bytes(files)
    versions_before = _archived(data_dir, "cancel")
    _must_revalidate(core, pebble, "cancel")
    cancel = threading.Event()
    events: list[ProgressEvent] = []

    def on_event(event: ProgressEvent) -> None:
        events.append(event)
        if event.step == "validation":
            cancel.set()

    with pytest.raises(Cancelled):
        core.request("cancel", on_event=on_event, cancel=cancel)

    steps = [e.step for e in events]
    assert "validation" in steps
    assert "store" not in steps and "done" not in steps
    assert live_bytes(files) == before
    assert _archived(data_dir, "cancel") == versions_before
    assert not http_listener.is_listening("127.0.0.1", pebble.http_port)  # answers withdrawn
    assert core.certificate_view(core.get_certificate("cancel"))["versions"] == 1


def test_cancel_before_store_replaces_nothing(core: Core, pebble: PebbleServer, data_dir: Path) -> None:
    files = _issued(core, pebble, "late", ["late.example.test"])
    before = live_bytes(files)
    cancel = threading.Event()

    def on_event(event: ProgressEvent) -> None:
        if event.step == "download" and event.ok is None:
            cancel.set()

    with contextlib.suppress(Cancelled):
        core.request("late", on_event=on_event, cancel=cancel)
    assert cancel.is_set()
    assert live_bytes(files) == before


def test_port_in_use(core: Core, pebble: PebbleServer, data_dir: Path) -> None:
    files = _issued(core, pebble, "busy", ["busy.example.test"])
    before = live_bytes(files)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        _point_standalone_at(core, "busy", port)
        _must_revalidate(core, pebble, "busy")

        with pytest.raises(OperationError, match="Cannot listen") as info:
            core.request("busy")

    assert f"127.0.0.1:{port}" in str(info.value)
    assert "\n" not in str(info.value)
    assert not http_listener.is_listening("127.0.0.1", port)
    assert live_bytes(files) == before
    view = core.certificate_view(core.get_certificate("busy"))
    assert view["status"] == "failed" and "Cannot listen" in view["last_error"]
    # Nothing was left behind: the next request on a free port works.
    _point_standalone_at(core, "busy", pebble.http_port)
    core.request("busy")
    assert core.certificate_view(core.get_certificate("busy"))["status"] == "valid"


def test_webroot_the_web_server_does_not_serve(core: Core, pebble: PebbleServer, tmp_path: Path) -> None:
    """Nobody serves the webroot: the error names the identifier and the folder is tidied up."""
    webroot = tmp_path / "www"
    webroot.mkdir()
    add_account(core, pebble)
    core.add_certificate(name="wr", domains=["wr.example.test"], challenge="http-01", provider="webroot",
                         options={"path": str(webroot)})
    with pytest.raises(ValidationFailed, match="wr.example.test"):
        core.request("wr")
    assert list(webroot.iterdir()) == []


# -- badNonce ---------------------------------------------------------------------------------------

# Pebble's default is 5%. 30% makes retries certain within a few requests while keeping eleven
# rejections in a row (the bound) practically impossible: 0.3**11 is about 2e-6 per request.
NONCE_REJECT_PERCENT = "30"


@pytest.fixture(scope="module")
def pebble_nonces() -> Iterator[PebbleServer]:
    try:
        server = PebbleServer(env={"PEBBLE_WFE_NONCEREJECT": NONCE_REJECT_PERCENT})
    except PebbleNotFound as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{exc}; CI must provide Pebble", pytrace=False)
        pytest.skip(str(exc))
    server.start()
    yield server
    server.stop()


def test_bad_nonces_are_retried(core: Core, pebble_nonces: PebbleServer, data_dir: Path,
                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="certify_tui.ca.network")
    pebble = pebble_nonces
    account = add_account(core, pebble)
    root = pebble.root_pem()
    for i in range(3):
        add_standalone_cert(core, pebble, f"nonce{i}", [f"n{i}.example.test"])
        result = core.request(f"nonce{i}")
        verify_issued(result.version.files, [f"n{i}.example.test"], root)
    assert any("badNonce, retrying" in r.getMessage() for r in caplog.records)

    # The counter itself, on a session built the way lifecycle/request.py builds one.
    session = session_for(core.find_account(account.email))
    assert session.net.bad_nonce_retries == 0
    provider = StandaloneHttpProvider({"address": "127.0.0.1", "port": pebble.http_port})
    for i in range(3):
        key = generate_key("ec256")
        issued = acme_order.issue(session, [f"direct{i}.example.test"], key, lambda _name: provider,
                                  log=RequestLog())
        leaf = x509.load_pem_x509_certificates(issued.fullchain_pem)[0]
        assert public_bytes(leaf) == public_bytes(key)
        assert san_names(leaf) == [f"direct{i}.example.test"]
    assert session.net.bad_nonce_retries > 0
