"""Issuing real certificates from Pebble through `Core`: files, keys, chains, modes, versions, events."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from integration.helpers import (
    LIVE_ROLES,
    add_account,
    add_standalone_cert,
    leaf_of,
    mode_of,
    public_bytes,
    san_names,
    verify_issued,
)
from servers.pebble import PebbleServer

from certify_tui.challenges import http_listener
from certify_tui.events import ProgressEvent
from certify_tui.lifecycle import Core

pytestmark = pytest.mark.pebble


def test_two_names_standalone(core: Core, pebble: PebbleServer, data_dir: Path) -> None:
    add_account(core, pebble)
    names = ["a.example.test", "b.example.test"]
    add_standalone_cert(core, pebble, "two", names)

    result = core.request("two")

    view = core.certificate_view(core.get_certificate("two"))
    assert view["status"] == "valid"
    assert view["files"] == result.version.files
    leaf = verify_issued(view["files"], names, pebble.root_pem(), data_dir=data_dir)
    assert view["serial"] == format(leaf.serial_number, "x").rjust(len(view["serial"]), "0")
    assert int(view["serial"], 16) == leaf.serial_number
    assert datetime.fromisoformat(view["not_after"]) == leaf.not_valid_after_utc
    assert datetime.fromisoformat(view["not_before"]) == leaf.not_valid_before_utc
    assert view["versions"] == 1
    assert view["failure_count"] == 0 and view["last_error"] is None
    assert view["identifiers"] == names and view["primary_identifier"] == "a.example.test"
    assert mode_of(data_dir / "certify.db") == 0o600
    # The listener lives only for the order.
    assert not http_listener.is_listening("127.0.0.1", pebble.http_port)


@pytest.mark.parametrize(("key_type", "kind", "size"), [
    ("ec256", ec.EllipticCurvePublicKey, 256),
    ("ec384", ec.EllipticCurvePublicKey, 384),
    ("rsa2048", rsa.RSAPublicKey, 2048),
    ("rsa3072", rsa.RSAPublicKey, 3072),
    ("rsa4096", rsa.RSAPublicKey, 4096),
])
def test_key_types(core: Core, pebble: PebbleServer, data_dir: Path, key_type: str, kind: type,
                   size: int) -> None:
    add_account(core, pebble)
    add_standalone_cert(core, pebble, f"k-{key_type}", ["keys.example.test"], key_type=key_type)

    result = core.request(f"k-{key_type}")

    leaf = verify_issued(result.version.files, ["keys.example.test"], pebble.root_pem(), data_dir=data_dir)
    public = leaf.public_key()
    assert isinstance(public, kind)
    assert public.key_size == size
    assert core.certificate_view(core.get_certificate(f"k-{key_type}"))["key_type"] == key_type


def test_idn_name_stored_as_a_label(core: Core, pebble: PebbleServer, data_dir: Path) -> None:
    add_account(core, pebble)
    cert = add_standalone_cert(core, pebble, "idn", ["bücher.example.test"])
    assert cert.identifiers == ["xn--bcher-kva.example.test"]
    assert cert.primary_identifier == "xn--bcher-kva.example.test"

    result = core.request("idn")

    leaf = verify_issued(result.version.files, ["xn--bcher-kva.example.test"], pebble.root_pem(),
                         data_dir=data_dir)
    assert san_names(leaf) == ["xn--bcher-kva.example.test"]
    assert core.certificate_view(core.get_certificate("idn"))["identifiers"] == ["xn--bcher-kva.example.test"]


def _wait_http(proc: subprocess.Popen[bytes], port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"http.server exited with {proc.returncode}: {proc.stderr.read()!r}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.05)
    raise AssertionError(f"http.server did not answer on port {port}")


@pytest.mark.parametrize("site_has_other_files", [False, True], ids=["empty", "other-files"])
def test_webroot_with_a_real_web_server(core: Core, pebble: PebbleServer, data_dir: Path, tmp_path: Path,
                                        site_has_other_files: bool) -> None:
    webroot = tmp_path / "www"
    webroot.mkdir()
    (webroot / "index.html").write_text("hello\n")
    challenge_dir = webroot / ".well-known" / "acme-challenge"
    if site_has_other_files:
        challenge_dir.mkdir(parents=True)
        (challenge_dir / "keep-me").write_text("not ours\n")
    add_account(core, pebble)
    names = ["w1.example.test", "w2.example.test"]
    core.add_certificate(name="web", domains=names, challenge="http-01", provider="webroot",
                         options={"path": str(webroot)})
    events: list[ProgressEvent] = []

    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(pebble.http_port), "--bind", "127.0.0.1",
         "--directory", str(webroot)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_http(server, pebble.http_port)
        result = core.request("web", on_event=events.append)
    finally:
        server.terminate()
        _, access_log = server.communicate(timeout=10)

    verify_issued(result.version.files, names, pebble.root_pem(), data_dir=data_dir)
    written = [Path(e.message.removeprefix("wrote ")) for e in events
               if e.step == "info" and e.message.startswith("wrote ")]
    assert len(written) == 2
    assert {p.parent for p in written} == {challenge_dir}
    for token_file in written:
        assert not token_file.exists()
        # The web server really served it to the CA's validator.
        assert f"GET /.well-known/acme-challenge/{token_file.name} HTTP/1.1\" 200".encode() in access_log
    if site_has_other_files:
        assert sorted(p.name for p in challenge_dir.iterdir()) == ["keep-me"]
    else:
        assert not (webroot / ".well-known").exists()
    assert (webroot / "index.html").read_text() == "hello\n"


def test_second_request_adds_a_version_and_switches_live(core: Core, pebble: PebbleServer,
                                                         data_dir: Path) -> None:
    add_account(core, pebble)
    add_standalone_cert(core, pebble, "again", ["again.example.test"])
    root = pebble.root_pem()

    first = core.request("again")
    first_leaf = verify_issued(first.version.files, ["again.example.test"], root, data_dir=data_dir)
    first_key = Path(first.version.files["privkey"]).read_bytes()
    second = core.request("again")
    second_leaf = verify_issued(second.version.files, ["again.example.test"], root, data_dir=data_dir)

    assert (first.version.version, second.version.version) == (1, 2)
    assert first_leaf.serial_number != second_leaf.serial_number
    assert first.version.serial != second.version.serial
    # reuse_key is off: a fresh key each time.
    assert Path(second.version.files["privkey"]).read_bytes() != first_key
    assert public_bytes(first_leaf) != public_bytes(second_leaf)
    # The archive keeps both versions, intact; live points at the second.
    archive = data_dir / "certificates" / "again" / "archive"
    versions = sorted(p.name for p in archive.iterdir())
    assert len(versions) == 2
    assert versions[0].startswith("0001-") and versions[1].startswith("0002-")
    old = x509.load_pem_x509_certificate((first.version.directory / "cert.pem").read_bytes())
    assert old.serial_number == first_leaf.serial_number
    assert (first.version.directory / "privkey.pem").read_bytes() == first_key
    live = data_dir / "certificates" / "again" / "live"
    assert live.resolve() == second.version.directory.resolve()
    assert leaf_of(second.version.files).serial_number == second_leaf.serial_number
    view = core.certificate_view(core.get_certificate("again"))
    assert view["versions"] == 2
    assert int(view["serial"], 16) == second_leaf.serial_number


def test_reuse_key_keeps_the_public_key(core: Core, pebble: PebbleServer, data_dir: Path) -> None:
    add_account(core, pebble)
    add_standalone_cert(core, pebble, "reuse", ["reuse.example.test"], reuse_key=True, key_type="ec384")
    root = pebble.root_pem()

    first = core.request("reuse")
    first_leaf = verify_issued(first.version.files, ["reuse.example.test"], root, data_dir=data_dir)
    assert core.preview("reuse").reuse_key is True
    second = core.request("reuse")
    second_leaf = verify_issued(second.version.files, ["reuse.example.test"], root, data_dir=data_dir)

    assert first_leaf.serial_number != second_leaf.serial_number
    assert public_bytes(first_leaf) == public_bytes(second_leaf)
    assert (first.version.directory / "privkey.pem").read_bytes() == \
        (second.version.directory / "privkey.pem").read_bytes()


def test_preview_describes_the_request(core: Core, pebble: PebbleServer, data_dir: Path) -> None:
    account = add_account(core, pebble)
    names = ["p1.example.test", "p2.example.test"]
    add_standalone_cert(core, pebble, "prev", names)

    plan = core.preview("prev")

    assert plan.certificate == "prev"
    assert plan.account == account.email
    assert plan.directory_url == pebble.directory_url
    assert plan.identifiers == names and plan.primary == names[0]
    assert [v.identifier for v in plan.validations] == names
    for step in plan.validations:
        assert step.challenge == "http-01"
        assert step.provider == "standalone"
        assert str(pebble.http_port) in step.how
        assert step.options == {"address": "127.0.0.1", "port": pebble.http_port}
    live = data_dir / "certificates" / "prev" / "live"
    files = {f.role: f for f in plan.files}
    assert sorted(files) == sorted(LIVE_ROLES)
    for role in LIVE_ROLES:
        assert files[role].path == str(live / f"{role}.pem")
        assert files[role].mode == ("0600" if role == "privkey" else "0644")
    assert plan.reuse_key is False
    assert plan.next_renewal is None  # not issued yet
    as_json = json.loads(json.dumps(plan.to_dict()))
    assert as_json["identifiers"] == names
    assert as_json["validations"][0]["provider"] == "standalone"
    # Preview is read-only: no certificate files, no order placed.
    assert not (data_dir / "certificates" / "prev").exists()

    core.request("prev")
    after = core.preview("prev")
    assert after.next_renewal is not None
    json.dumps(after.to_dict())


EXPECTED_STEPS = ["order", "validation", "finalize", "download", "store", "done"]


def test_progress_events_and_log(core: Core, pebble: PebbleServer, data_dir: Path) -> None:
    add_account(core, pebble)
    names = ["e1.example.test", "e2.example.test"]
    add_standalone_cert(core, pebble, "events", names)
    events: list[ProgressEvent] = []

    core.request("events", on_event=events.append)

    steps = [e.step for e in events]
    firsts = [steps.index(s) for s in EXPECTED_STEPS]
    assert firsts == sorted(firsts), steps
    assert steps[-1] == "done" and events[-1].ok is True
    assert "failed" not in steps
    validated = {e.identifier for e in events if e.step == "validation" and e.ok is True}
    assert validated == set(names)
    assert [e.at for e in events] == sorted(e.at for e in events)

    log_path = data_dir / "logs" / "certificates" / "events.log"
    text = log_path.read_text(encoding="utf-8")
    assert text == core.certificate_log("events")
    lines = text.splitlines()
    assert len(lines) == len(events)
    for step in EXPECTED_STEPS:
        assert any(line.split()[1] == step for line in lines), step
    assert "PRIVATE KEY" not in text
    assert "PRIVATE KEY" not in (data_dir / "logs" / "certify-tui.log").read_text(encoding="utf-8")


def test_two_requests_in_parallel_share_the_listener(core: Core, pebble: PebbleServer,
                                                     data_dir: Path) -> None:
    add_account(core, pebble)
    specs = {"par1": ["p1a.example.test", "p1b.example.test"], "par2": ["p2a.example.test"]}
    for name, names in specs.items():
        add_standalone_cert(core, pebble, name, names)
    barrier = threading.Barrier(len(specs))
    results: dict[str, object] = {}
    listening_during: list[bool] = []

    def run(name: str) -> None:
        def on_event(event: ProgressEvent) -> None:
            if event.step == "validation" and event.ok is None:
                listening_during.append(http_listener.is_listening("127.0.0.1", pebble.http_port))
        try:
            barrier.wait(timeout=30)
            results[name] = core.request(name, on_event=on_event)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            results[name] = exc

    threads = [threading.Thread(target=run, args=(name,)) for name in specs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads)

    root = pebble.root_pem()
    for name, names in specs.items():
        result = results[name]
        assert not isinstance(result, BaseException), f"{name}: {result!r}"
        verify_issued(result.version.files, names, root, data_dir=data_dir)  # type: ignore[attr-defined]
        assert core.certificate_view(core.get_certificate(name))["status"] == "valid"
    assert listening_during and all(listening_during)
    assert not http_listener.is_listening("127.0.0.1", pebble.http_port)
