"""Every editor setting from the real CLI against Pebble: cert set, tasks, the log, account contact and key."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import pkcs12
from integration.test_cli import CLI, _env, add_account, add_cert, clean_error, cli, ok
from servers.pebble import PebbleServer

pytestmark = pytest.mark.pebble


def show(data: Path, name: str) -> dict[str, Any]:
    view: dict[str, Any] = ok(data, "cert", "show", name, "--json").json()
    return view


def test_cert_add_takes_every_setting(pebble: PebbleServer, tmp_path: Path) -> None:
    data = tmp_path / "data"
    add_account(data, pebble)
    ok(data, "cert", "add", "full", "--domain", "a.example.test", "--domain", "b.example.test",
       "-o", "address=127.0.0.1", "-o", f"port={pebble.http_port}", "--key-type", "rsa2048", "--reuse-key",
       "--preferred-chain", "Pebble Root", "--profile", "default", "--deploy", "none", "--renew-days-before", "20",
       "--no-auto-renew")
    view = show(data, "full")
    assert view["identifiers"] == ["a.example.test", "b.example.test"]
    assert (view["key_type"], view["reuse_key"], view["preferred_chain"], view["profile"]) == (
        "rsa2048", True, "Pebble Root", "default")
    assert view["deployment"] == {"mode": "none", "tasks": []}
    assert view["renewal"] == {"days_before": 20}
    assert view["auto_renew"] is False


def test_cert_set_changes_only_what_is_given(pebble: PebbleServer, tmp_path: Path) -> None:
    data = tmp_path / "data"
    add_account(data, pebble)
    add_cert(data, pebble, "web", "a.example.test")
    before = show(data, "web")
    ok(data, "cert", "set", "web", "--add-domain", "b.example.test", "--add-domain", "c.example.test",
       "--remove-domain", "a.example.test", "--renew-percent", "60")
    after = show(data, "web")
    assert after["identifiers"] == ["b.example.test", "c.example.test"]
    assert after["renewal"] == {"percent": 60}
    assert {k: v for k, v in after.items() if k not in ("identifiers", "primary_identifier", "renewal",
                                                        "renews_at")} == {
        k: v for k, v in before.items() if k not in ("identifiers", "primary_identifier", "renewal", "renews_at")}
    ok(data, "cert", "set", "web", "--new-key", "--auto-renew", "--key-type", "ec384", "--deploy", "auto")
    after = show(data, "web")
    assert (after["key_type"], after["reuse_key"], after["auto_renew"], after["deployment"]["mode"]) == (
        "ec384", False, True, "auto")
    ok(data, "cert", "set", "web", "--deploy", "single", "--site", "nginx:example")
    assert show(data, "web")["deployment"]["site"] == "nginx:example"
    ok(data, "cert", "set", "web", "--deploy", "files")
    assert "site" not in show(data, "web")["deployment"]


def test_cert_set_errors_name_the_field(pebble: PebbleServer, tmp_path: Path) -> None:
    data = tmp_path / "data"
    add_account(data, pebble)
    add_cert(data, pebble, "web", "a.example.test")
    cases = [
        (("--renew-percent", "150"), "renewal", "between 1 and 99"),
        (("--remove-domain", "z.example.test"), "domains", "not one of"),
        (("--deploy", "single"), "deployment_site", "needs a site"),
        (("--site", "nginx:x"), "deployment_site", "only for the 'single'"),
        (("--domain", "not a name"), "domains", ""),
        (("--account", "nobody@example.com"), "account", "nobody@example.com"),
    ]
    for args, field, words in cases:
        run = cli(data, "cert", "set", "web", *args, "--json")
        line = clean_error(run, 2)
        assert words in line, str(run)
        assert run.json()["field"] == field, str(run)
    assert "Nothing to change" in clean_error(cli(data, "cert", "set", "web"), 2)
    assert "--renew-days-before" in cli(data, "cert", "set", "web", "--renew-percent", "5",
                                        "--renew-days-before", "3").err  # mutually exclusive


def test_tasks_from_the_cli(pebble: PebbleServer, tmp_path: Path) -> None:
    data = tmp_path / "data"
    add_account(data, pebble)
    add_cert(data, pebble, "web", "a.example.test")
    out = tmp_path / "export"
    password = tmp_path / "pfx.password"
    password.write_text("s3cret\n", encoding="utf-8")
    ok(data, "cert", "task", "add", "web", "--type", "export", "-o", f"path={out}", "-o", "formats=pkcs12",
       "-o", f"pkcs12_password=@{password}", "--title", "PFX for IIS")
    ok(data, "cert", "task", "add", "web", "--type", "command", "-o", f"command=touch {tmp_path / 'ran'}",
       "--trigger", "manual", "--retries", "2", "--retry-delay", "0", "--no-stop-on-failure")
    ok(data, "cert", "task", "add", "web", "--type", "command", "-o", "command=false", "--title", "fails",
       "--trigger", "always")
    tasks = ok(data, "cert", "task", "list", "web", "--json").json()
    assert [(t["number"], t["type"], t["title"], t["trigger"]) for t in tasks] == [
        (1, "export", "PFX for IIS", "success"), (2, "command", "Run a command", "manual"),
        (3, "command", "fails", "always")]
    assert tasks[1]["retries"] == 2 and tasks[1]["stop_on_failure"] is False
    assert tasks[0]["options"]["pkcs12_password"] == "********"
    assert "s3cret" not in ok(data, "cert", "show", "web", "--json").out

    line = clean_error(cli(data, "cert", "task", "run", "web", "1"), 1)
    assert "request it first" in line  # no files yet
    run = cli(data, "cert", "task", "remove", "web", "7", "--json")
    assert "no task 7" in clean_error(run, 2) and run.json()["field"] == "tasks"
    run = cli(data, "cert", "task", "add", "web", "--type", "export", "--json")
    assert clean_error(run, 2) and run.json()["field"] == "tasks[3]"
    assert "'trigger' is given twice" in clean_error(
        cli(data, "cert", "task", "add", "web", "--type", "command", "-o", "command=true", "-o", "trigger=manual",
            "--trigger", "always"), 2)

    ok(data, "cert", "task", "move", "web", "3", "--to", "1")
    ok(data, "cert", "task", "move", "web", "1", "--to", "3")
    ok(data, "cert", "request", "web")
    pfx = out / "web.pfx"
    assert pkcs12.load_pkcs12(pfx.read_bytes(), b"s3cret").cert is not None
    assert not (tmp_path / "ran").exists()  # manual: not run by the request
    ok(data, "cert", "task", "run", "web", "2")
    assert (tmp_path / "ran").exists()
    line = clean_error(cli(data, "cert", "task", "run", "web", "3"), 1)
    assert "task 3 (fails) failed" in line

    text = ok(data, "cert", "show", "web").out
    assert "Deploy mode:" in text and "1. export: PFX for IIS (runs on success)" in text
    assert "2. command: Run a command (runs on manual)" in text

    ok(data, "cert", "task", "remove", "web", "1")
    assert [t["title"] for t in ok(data, "cert", "task", "list", "web", "--json").json()] == [
        "Run a command", "fails"]

    log = ok(data, "cert", "log", "web", "--lines", "3").out.splitlines()
    assert len(log) == 3 and "fails" in "\n".join(log)


def test_log_follow_ends_cleanly_on_ctrl_c(pebble: PebbleServer, tmp_path: Path) -> None:
    data = tmp_path / "data"
    add_account(data, pebble)
    add_cert(data, pebble, "web", "a.example.test")
    follower = subprocess.Popen([str(CLI), "--data-dir", str(data), "cert", "log", "web", "--follow"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    try:
        time.sleep(1.5)
        ok(data, "cert", "request", "web")
        time.sleep(1.5)
        follower.send_signal(signal.SIGINT)
        out, err = follower.communicate(timeout=15)
    finally:
        if follower.poll() is None:
            follower.kill()
    assert follower.returncode == 0, err
    assert "Traceback" not in err
    assert "issued" in out.lower() or "stored" in out.lower(), out


def test_account_contact_and_key_rollover(pebble: PebbleServer, tmp_path: Path) -> None:
    data = tmp_path / "data"
    add_account(data, pebble, "old@example.com")
    add_cert(data, pebble, "web", "a.example.test")
    changed = ok(data, "account", "set", "old@example.com", "--email", "new@example.com", "--json").json()
    assert changed["email"] == "new@example.com"
    assert "No active account 'old@example.com'" in clean_error(
        cli(data, "account", "set", "old@example.com", "--email", "x@example.com"), 2)

    import sqlite3

    def stored_key() -> str:
        with sqlite3.connect(data / "certify.db") as db:
            return str(db.execute("select account_key_pem from account").fetchone()[0])

    before = stored_key()
    ok(data, "account", "key-rollover", "new@example.com")
    assert stored_key() != before
    ok(data, "cert", "request", "web")  # the CA accepts the new key (Pebble refuses an unknown one)
