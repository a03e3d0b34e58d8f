"""Stored credentials and secrets encrypted at rest: no secret in the database file or its backup, a restore
without the key says so, the credential CLI round trip, removal refused while in use, the upgrade of old rows."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from certify_tui import secrets_box
from certify_tui.challenges.rules import rule_options
from certify_tui.keys import generate_key, key_to_pem
from certify_tui.lifecycle import Core
from certify_tui.store.models import Account

TSIG = "c2VjcmV0LXRzaWcta2V5LWZvci10ZXN0cy0xMjM0NTY="  # base64, as rfc2136 wants
ROTATED = "cm90YXRlZC10c2lnLWtleS1mb3ItdGVzdHMtOTg3NjU="
PEM_MARKER = b"PRIVATE KEY"


def cli(data: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CERTIFY_TUI_")}
    return subprocess.run([sys.executable, "-m", "certify_tui", "--data-dir", str(data), *args],
                          capture_output=True, text=True, timeout=60, env={**clean, **(env or {})},
                          stdin=subprocess.DEVNULL)


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.delenv(secrets_box.ENV_SECRET_KEY, raising=False)
    folder = tmp_path / "d"
    core = Core.open(str(folder))
    Account.create(email="a@example.org", directory_url="https://ca.invalid/dir", status="valid",
                   account_key_pem=key_to_pem(generate_key()).decode(), allow_internal_names=True)
    core.close()
    yield folder


def _add_credential(data: Path) -> None:
    out = cli(data, "credential", "add", "ns1", "--provider", "rfc2136", "-o", "server=127.0.0.1",
              "-o", "tsig_key_name=acme", "-o", f"tsig_secret={TSIG}")
    assert out.returncode == 0, out.stderr


def _files_without_secrets(*paths: Path) -> None:
    for path in paths:
        content = path.read_bytes()
        assert TSIG.encode() not in content and ROTATED.encode() not in content, path
        assert PEM_MARKER not in content, path


def test_seal_and_reveal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(secrets_box.ENV_SECRET_KEY, raising=False)
    secrets_box.use_key_file(tmp_path / "a" / "secret.key")
    sealed = secrets_box.seal("hunter2")
    assert secrets_box.is_sealed(sealed) and "hunter2" not in sealed and secrets_box.reveal(sealed) == "hunter2"
    assert secrets_box.seal(sealed) == sealed and secrets_box.reveal("plain") == "plain"
    key_file = tmp_path / "a" / "secret.key"
    if os.name != "nt":
        assert key_file.stat().st_mode & 0o777 == 0o600 and key_file.parent.stat().st_mode & 0o777 == 0o700
    secrets_box.use_key_file(tmp_path / "b" / "secret.key")  # no key there
    with pytest.raises(secrets_box.SecretKeyError, match="set CERTIFY_TUI_SECRET_KEY or restore .*secret.key"):
        secrets_box.reveal(sealed)
    assert secrets_box.try_reveal(sealed) == sealed
    monkeypatch.setenv(secrets_box.ENV_SECRET_KEY, secrets_box.new_key_text())  # another key
    with pytest.raises(secrets_box.SecretKeyError, match="encrypted with another key"):
        secrets_box.reveal(sealed)
    monkeypatch.setenv(secrets_box.ENV_SECRET_KEY, key_file.read_text().strip())  # the same key, by variable
    assert secrets_box.reveal(sealed) == "hunter2"


def test_credential_cli_round_trip(data: Path) -> None:
    _add_credential(data)
    listed = json.loads(cli(data, "credential", "list", "--json").stdout)
    assert [(c["name"], c["provider"], c["used_by"]) for c in listed] == [("ns1", "rfc2136", [])]
    shown = cli(data, "credential", "show", "ns1")
    assert shown.returncode == 0 and "********" in shown.stdout and TSIG not in shown.stdout
    again = cli(data, "credential", "add", "NS1", "--provider", "rfc2136", "-o", "server=127.0.0.1",
                "-o", "tsig_key_name=acme", "-o", f"tsig_secret={TSIG}")
    assert again.returncode == 2 and "exists already" in again.stderr
    missing = cli(data, "credential", "add", "x", "--provider", "rfc2136", "-o", "server=127.0.0.1")
    assert missing.returncode == 2 and "required" in missing.stderr

    added = cli(data, "cert", "add", "wild", "--domain", "*.example.test", "--challenge", "dns-01",
                "--credential", "ns1", "-o", "propagation_timeout=15")
    assert added.returncode == 0, added.stderr
    preview = cli(data, "cert", "preview", "wild", "--json")
    assert preview.returncode == 0, preview.stderr
    validation = json.loads(preview.stdout)["validations"][0]
    assert validation["options"]["credential"] == "ns1" and "credential ns1" in validation["how"]
    assert TSIG not in preview.stdout and "127.0.0.1" not in json.dumps(validation["options"])
    shown_cert = cli(data, "cert", "show", "wild", "--json")
    assert TSIG not in shown_cert.stdout and '"credential": "ns1"' in shown_cert.stdout

    refused = cli(data, "credential", "remove", "ns1")
    assert refused.returncode == 2 and "used by wild" in refused.stderr
    assert cli(data, "credential", "set", "ns1", "-o", f"tsig_secret={ROTATED}").returncode == 0
    core = Core.open(str(data))
    try:  # rotating the credential reaches the certificate
        options = rule_options(core.get_certificate("wild").challenge_rules[0])
        assert options["tsig_secret"] == ROTATED and options["propagation_timeout"] == 15
    finally:
        core.close()
    _files_without_secrets(*[p for p in data.glob("certify.db*") if p.is_file()])

    assert cli(data, "cert", "rule", "wild", "--challenge", "dns-01", "--provider", "manual").returncode == 0
    assert cli(data, "credential", "remove", "ns1").returncode == 0
    assert json.loads(cli(data, "credential", "list", "--json").stdout) == []


def test_backup_without_its_key(data: Path, tmp_path: Path) -> None:
    _add_credential(data)
    assert cli(data, "cert", "add", "wild", "--domain", "*.example.test", "--challenge", "dns-01",
               "--credential", "ns1").returncode == 0
    backup = cli(data, "db", "backup")
    assert backup.returncode == 0 and "secret.key" in backup.stdout, backup.stderr
    _files_without_secrets(data / "certify.db", data / "certify.db.bak")

    elsewhere = tmp_path / "restored"
    elsewhere.mkdir(mode=0o700)
    shutil.copy(data / "certify.db.bak", elsewhere / "certify.db")
    listed = cli(elsewhere, "cert", "list")
    assert listed.returncode == 0, listed.stderr  # nothing secret is needed to list
    refused = cli(elsewhere, "cert", "preview", "wild")
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "set CERTIFY_TUI_SECRET_KEY or restore" in refused.stderr and "secret.key" in refused.stderr
    key = (data / "secret.key").read_text().strip()
    with_key = cli(elsewhere, "cert", "preview", "wild", env={secrets_box.ENV_SECRET_KEY: key})
    assert with_key.returncode == 0, with_key.stderr
    shutil.copy(data / "secret.key", elsewhere / "secret.key")
    assert cli(elsewhere, "cert", "preview", "wild").returncode == 0
    restored = cli(data, "db", "restore", "--yes")
    assert restored.returncode == 0 and cli(data, "cert", "preview", "wild").returncode == 0, restored.stderr


def test_upgrade_seals_plain_text_secrets(data: Path) -> None:
    """A database from before schema 5, with plain secrets: the upgrade leaves none in the file."""
    core = Core.open(str(data))
    core.add_certificate(name="hook", domains=["a.example.test"], challenge="dns-01", provider="rfc2136",
                         options={"server": "127.0.0.1", "tsig_key_name": "k", "tsig_secret": TSIG})
    core.close()
    pem = key_to_pem(generate_key()).decode()
    with sqlite3.connect(data / "certify.db") as db:  # write what an older version stored
        rules = json.loads(db.execute("SELECT challenge_rules FROM managed_certificate").fetchone()[0])
        rules[0]["options"]["tsig_secret"] = TSIG
        db.execute("UPDATE managed_certificate SET challenge_rules = ?", (json.dumps(rules),))
        db.execute("UPDATE managed_certificate SET deployment = ?", (json.dumps(
            {"mode": "files", "tasks": [{"type": "webhook", "title": "", "options": {
                "url": "https://hooks.example.test/x", "secret_header": f"Bearer {ROTATED}"}}]}),))
        db.execute("UPDATE account SET account_key_pem = ?", (pem,))
        db.execute("INSERT INTO setting (key, value, updated_at) VALUES ('notify_urls', ?, '2026-01-01')",
                   (json.dumps(f"json://hooks.example.test/{ROTATED}"),))
        db.execute("INSERT INTO setting (key, value, updated_at) VALUES ('defaults.challenge_rule', ?, "
                   "'2026-01-01')", (json.dumps(rules[0]),))
        db.execute("DELETE FROM schema_version WHERE version >= 5")
        db.execute("DROP TABLE credential")
    db.close()
    core = Core.open(str(data))
    try:
        cert = core.get_certificate("hook")
        assert cert.challenge_rules[0].options["tsig_secret"] == TSIG
        assert cert.deployment.tasks[0].options["secret_header"] == f"Bearer {ROTATED}"
        assert Account.get().account_key_pem == pem
        assert core.settings()["notify_urls"] == f"json://hooks.example.test/{ROTATED}"
        assert core.default_rule().options["tsig_secret"] == TSIG
    finally:
        core.close()
    _files_without_secrets(*[p for p in data.glob("certify.db*") if p.is_file()])
