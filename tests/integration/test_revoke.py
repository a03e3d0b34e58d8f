"""Revocation against a real Pebble: `cert revoke` (account key, the certificate's own key for keyCompromise,
after a replacement with --renew) and `POST /api/certificates/{name}/revoke`. Pebble's management interface
(/cert-status-by-serial/) is the witness that the CA revoked exactly the certificate asked for."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from integration.helpers import CLI, add_account, add_standalone_cert, open_core, unique
from servers.pebble import PebbleServer

from certify_tui.ca.client import AcmeSession
from certify_tui.keys import load_key
from certify_tui.lifecycle import Core
from certify_tui.lifecycle.spec_changes import CertificateChanges
from certify_tui.service.api import ApiServer
from certify_tui.service.discovery import read_token

pytestmark = pytest.mark.pebble


def ca_status(pebble: PebbleServer, serial: str) -> dict[str, Any]:
    """What Pebble's management interface says of one serial (Status Valid/Revoked, Reason)."""
    r = requests.get(f"{pebble.management_url}/cert-status-by-serial/{int(serial, 16):x}",
                     verify=pebble.https_ca_bundle, timeout=10)
    r.raise_for_status()
    answer: dict[str, Any] = r.json()
    return answer


def cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CERTIFY_TUI_DATA_DIR"}
    return subprocess.run([str(CLI), "--data-dir", str(data_dir), *args], capture_output=True, text=True,
                          env=env, timeout=120, stdin=subprocess.DEVNULL)


def cli_on_terminal(data_dir: Path, answer: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI with a terminal as its input (so it asks), given `answer` as if typed."""
    env = {k: v for k, v in os.environ.items() if k != "CERTIFY_TUI_DATA_DIR"}
    controller, terminal = pty.openpty()
    try:
        proc = subprocess.Popen([str(CLI), "--data-dir", str(data_dir), *args], stdin=terminal,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        os.write(controller, answer.encode())
        out, err = proc.communicate(timeout=120)
    finally:
        os.close(terminal)
        os.close(controller)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def issued(data_dir: Path, pebble: PebbleServer, prefix: str) -> tuple[str, str]:
    """(name, serial) of a certificate freshly issued by Pebble in `data_dir`."""
    with open_core_once(data_dir) as core:
        add_account(core, pebble)
        name = unique(prefix)
        add_standalone_cert(core, pebble, name, [f"{name}.example.test"])
        return name, core.request(name).version.serial


@contextlib.contextmanager
def open_core_once(data_dir: Path) -> Iterator[Core]:
    """A Core on `data_dir`, closed afterwards (the CLI then opens the same folder)."""
    yield from open_core(data_dir)


def test_cert_revoke_asks_then_revokes_at_the_ca(data_dir: Path, pebble: PebbleServer) -> None:
    name, serial = issued(data_dir, pebble, "rv")
    assert ca_status(pebble, serial)["Status"] == "Valid"

    unasked = cli(data_dir, "cert", "revoke", name, "--reason", "superseded")
    assert unasked.returncode == 2
    assert unasked.stderr.count("\n") == 1 and "--yes" in unasked.stderr and serial in unasked.stderr
    assert ca_status(pebble, serial)["Status"] == "Valid"  # nothing was sent

    declined = cli_on_terminal(data_dir, "n\n", "cert", "revoke", name, "--reason", "superseded")
    assert declined.returncode == 1 and "Nothing was revoked" in declined.stderr
    assert f"Revoke '{name}' (serial {serial}) with reason superseded?" in declined.stdout
    assert ca_status(pebble, serial)["Status"] == "Valid"

    bad = cli(data_dir, "cert", "revoke", name, "--reason", "sleepy", "--yes")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr

    unknown = cli(data_dir, "cert", "revoke", "nothing-here", "--yes")
    assert unknown.returncode == 2 and unknown.stderr.count("\n") == 1
    with open_core_once(data_dir) as core:
        add_standalone_cert(core, pebble, f"{name}-new", [f"new.{name}.example.test"])
    never_issued = cli(data_dir, "cert", "revoke", f"{name}-new", "--yes")
    assert never_issued.returncode == 1 and "no issued certificate to revoke" in never_issued.stderr

    done = cli(data_dir, "cert", "revoke", name, "--reason", "superseded", "--yes", "--json")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["serial"] == serial and answer["signed_by"] == "account key"
    assert answer["certificate"]["status"] == "revoked"
    assert answer["certificate"]["revocation_reason"] == "superseded"
    status = ca_status(pebble, serial)
    assert status["Status"] == "Revoked" and status["Reason"] == 4

    show = cli(data_dir, "cert", "show", name)
    assert show.returncode == 0
    assert any(line.split()[:2] == ["Status:", "revoked"] for line in show.stdout.splitlines()), show.stdout
    assert "(superseded)" in show.stdout

    again = cli(data_dir, "cert", "revoke", name, "--yes")
    assert again.returncode == 1
    assert again.stderr.count("\n") == 1 and "already revoked" in again.stderr
    with open_core_once(data_dir) as core:
        cert = core.get_certificate(name)
        assert cert.next_attempt is None  # revoked without --renew: nobody orders it behind the user's back
        assert "revoked" in core.certificate_log(name)


def test_key_compromise_is_signed_by_the_certificate_key(data_dir: Path, pebble: PebbleServer) -> None:
    """Moved to an account that neither ordered it nor holds authorizations for its name, the certificate's
    revocation signed by the account key is refused (one line); keyCompromise is accepted: proof that it is
    signed by the certificate's own key."""
    name, serial = issued(data_dir, pebble, "rk")
    with open_core_once(data_dir) as core:
        stranger = add_account(core, pebble)
        core.change_certificate(name, CertificateChanges(account=stranger.email, reuse_key=True))

    refused = cli(data_dir, "cert", "revoke", name, "--reason", "cessationOfOperation", "--yes")
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1 and "unauthorized" in refused.stderr.lower(), refused.stderr
    assert ca_status(pebble, serial)["Status"] == "Valid"

    done = cli(data_dir, "cert", "revoke", name, "--reason", "keyCompromise", "--yes", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["signed_by"] == "certificate key"
    status = ca_status(pebble, serial)
    assert status["Status"] == "Revoked" and status["Reason"] == 1
    with open_core_once(data_dir) as core:
        assert core.get_certificate(name).reuse_key is False  # the next request never takes the leaked key


def test_renew_replaces_first_then_revokes_the_old(data_dir: Path, pebble: PebbleServer) -> None:
    """keyCompromise with --renew on a certificate that reuses its key: the replacement gets a new key, is
    deployed, and only then is the old one revoked; the new version stays valid."""
    name, old_serial = issued(data_dir, pebble, "rr")
    with open_core_once(data_dir) as core:
        core.change_certificate(name, CertificateChanges(reuse_key=True))
        old_files = core.certificate_view(core.get_certificate(name))["files"]
        old_cert, old_key = Path(old_files["cert"]).read_bytes(), Path(old_files["privkey"]).read_bytes()

    done = cli(data_dir, "cert", "revoke", name, "--reason", "keyCompromise", "--renew", "--yes", "--json")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    new_serial = answer["replacement_serial"]
    assert answer["serial"] == old_serial and new_serial and new_serial != old_serial
    view = answer["certificate"]
    assert view["status"] == "valid" and view["serial"] == new_serial and view["versions"] == 2
    assert view["revoked_at"] is None and view["reuse_key"] is False
    assert Path(view["files"]["cert"]).read_bytes() != old_cert  # the replacement is the live one
    assert Path(view["files"]["privkey"]).read_bytes() != old_key
    status = ca_status(pebble, old_serial)
    assert status["Status"] == "Revoked" and status["Reason"] == 1
    assert ca_status(pebble, new_serial)["Status"] == "Valid"
    with open_core_once(data_dir) as core:
        log = core.certificate_log(name)
    # The order of the log: the replacement stored, then the old one revoked.
    assert log.index(f"certificate {new_serial} valid until") < log.index(f"certificate {old_serial} revoked")


# -- the API --------------------------------------------------------------------------------------

def test_api_revoke_route(core: Core, api: ApiServer, data_dir: Path, pebble: PebbleServer) -> None:
    add_account(core, pebble)
    name = unique("ra")
    add_standalone_cert(core, pebble, name, [f"{name}.example.test"])
    serial = core.request(name).version.serial
    session = requests.Session()
    session.trust_env = False
    url = f"{api.url}/api/certificates/{name}/revoke"
    auth = {"Authorization": f"Bearer {read_token(data_dir)}"}

    assert session.post(url, json={"reason": "superseded"}, timeout=60).status_code == 401
    missing = session.post(f"{api.url}/api/certificates/nothing-here/revoke", headers=auth, json={}, timeout=60)
    assert missing.status_code == 404
    bad = session.post(url, headers=auth, json={"reason": "sleepy"}, timeout=60)
    assert bad.status_code == 422 and bad.json()["field"] == "reason"
    assert session.post(url, headers=auth, json={"renew": "yes"}, timeout=60).json()["field"] == "renew"
    assert ca_status(pebble, serial)["Status"] == "Valid"

    r = session.post(url, headers=auth, json={"reason": "cessationOfOperation"}, timeout=120)
    assert r.status_code == 200, r.text
    assert r.json()["serial"] == serial and r.json()["certificate"]["status"] == "revoked"
    status = ca_status(pebble, serial)
    assert status["Status"] == "Revoked" and status["Reason"] == 5
    again = session.post(url, headers=auth, timeout=60)
    assert again.status_code == 409 and "already revoked" in again.json()["error"]
    documented = session.get(f"{api.url}/api/openapi.json", headers=auth, timeout=60).json()
    body = documented["paths"]["/api/certificates/{name}/revoke"]["post"]["requestBody"]
    assert "keyCompromise" in json.dumps(body)
    session.close()


def revoke_behind_our_back(data_dir: Path, pebble: PebbleServer, name: str) -> None:
    """Revoke the live certificate at Pebble with its own key, as another client would, recording nothing."""
    with open_core_once(data_dir) as core:
        files = core.certificate_view(core.get_certificate(name))["files"]
    session = AcmeSession(pebble.directory_url, load_key(Path(files["privkey"]).read_bytes()),
                          ca_bundle=pebble.https_ca_bundle)
    session.revoke(Path(files["cert"]).read_bytes(), 0)


def test_a_certificate_the_ca_already_revoked(data_dir: Path, pebble: PebbleServer) -> None:
    """With --renew the replacement stands and the error says the old one was not revoked (the CA had it
    already); without, the certificate is recorded as revoked along with the CA's one line."""
    name, old_serial = issued(data_dir, pebble, "rb")
    revoke_behind_our_back(data_dir, pebble, name)

    replaced = cli(data_dir, "cert", "revoke", name, "--renew", "--yes")
    assert replaced.returncode == 1 and replaced.stderr.count("\n") == 1
    assert f"{old_serial} was not revoked" in replaced.stderr and "already revoked" in replaced.stderr
    with open_core_once(data_dir) as core:
        view = core.certificate_view(core.get_certificate(name))
    assert view["status"] == "valid" and view["serial"] != old_serial and view["versions"] == 2
    assert ca_status(pebble, view["serial"])["Status"] == "Valid"

    revoke_behind_our_back(data_dir, pebble, name)
    again = cli(data_dir, "cert", "revoke", name, "--yes")
    assert again.returncode == 1 and "already revoked" in again.stderr
    with open_core_once(data_dir) as core:
        assert core.get_certificate(name).status == "revoked"
