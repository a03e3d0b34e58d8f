"""A bundle moves the fallback accounts (a certificate's, and the global default) by account, not by this machine's
ids."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from integration.test_cli import add_account, ok
from servers.pebble import PebbleServer

pytestmark = pytest.mark.pebble


def test_failover_accounts_survive_a_bundle_move(pebble: PebbleServer, tmp_path: Path) -> None:
    source, target = tmp_path / "source", tmp_path / "target"
    add_account(source, pebble, "first@example.com")
    add_account(source, pebble, "second@example.com")
    add_account(source, pebble, "third@example.com")
    ok(source, "cert", "add", "fb", "--domain", "fb.example.test", "--account", "first@example.com",
       "--fallback-account", "third@example.com", "--fallback-account", "second@example.com",
       "--option", "address=127.0.0.1", "--option", f"port={pebble.http_port}")
    ok(source, "settings", "set", "fallback_accounts=second@example.com", "failover_after=2")
    phrase = tmp_path / "passphrase"
    phrase.write_text("a long enough passphrase for the test\n")
    bundle = tmp_path / "fb.bundle"
    ok(source, "export", "bundle", str(bundle), "--passphrase", f"@{phrase}")
    # The target already has an account of its own: ids differ on both sides of the move.
    add_account(target, pebble, "local@example.com")
    env = {k: v for k, v in os.environ.items() if k != "CERTIFY_TUI_DATA_DIR"}
    ok(target, "import", "bundle", str(bundle), "--passphrase", f"@{phrase}", env=env)
    moved = ok(target, "cert", "show", "fb", "--json").json()
    assert moved["account"] == "first@example.com"
    assert moved["fallback_accounts"] == ["third@example.com", "second@example.com"]
    settings = ok(target, "settings", "show", "--json").json()["settings"]
    assert (settings["fallback_accounts"], settings["failover_after"]) == ("second@example.com", 2)
    again = ok(target, "import", "bundle", str(bundle), "--passphrase", f"@{phrase}", "--json", env=env).json()
    assert {item["state"] for item in again["items"]} == {"unchanged"}, again["items"]
