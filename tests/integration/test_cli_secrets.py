"""Plug-in options from files and the environment through the real CLI (secrets never on a command line)."""

from __future__ import annotations

from pathlib import Path

import pytest
from integration.test_cli import _env, add_account, clean_error, cli, ok
from servers.pebble import PebbleServer

pytestmark = pytest.mark.pebble


def test_options_from_a_file_and_from_the_environment(pebble: PebbleServer, tmp_path: Path) -> None:
    data = tmp_path / "data"
    add_account(data, pebble)
    port_file = tmp_path / "port"
    port_file.write_text(f"{pebble.http_port}\n", encoding="utf-8")
    ok(data, "cert", "add", "web", "--domain", "a.example.test", "-o", "address=env:LISTEN_ADDRESS",
       "-o", f"port=@{port_file}", env=_env(LISTEN_ADDRESS="127.0.0.1"))
    rule = ok(data, "cert", "show", "web", "--json").json()["challenge_rules"][0]
    assert rule["options"]["address"] == "127.0.0.1"
    assert rule["options"]["port"] == pebble.http_port

    secret = tmp_path / "tsig.secret"
    secret.write_text("c2VjcmV0LXRzaWc=\n", encoding="utf-8")
    rule_args = ("cert", "rule", "web", "--pattern", "*", "--challenge", "dns-01", "--provider", "rfc2136",
                 "-o", "server=127.0.0.1", "-o", "tsig_key_name=acme")
    ok(data, *rule_args, "-o", f"tsig_secret=@{secret}")
    ok(data, *rule_args, "-o", "tsig_secret=env:TSIG", env=_env(TSIG="c2VjcmV0LXRzaWc="))
    shown = ok(data, "cert", "show", "web", "--json").out
    assert "c2VjcmV0LXRzaWc" not in shown  # stored, and masked when shown

    line = clean_error(cli(data, *rule_args, "-o", f"tsig_secret=@{tmp_path / 'missing'}"), 2)
    assert "'tsig_secret'" in line and "does not exist" in line
    line = clean_error(cli(data, *rule_args, "-o", "tsig_secret=env:UNSET_TSIG"), 2)
    assert "UNSET_TSIG is not set" in line
    line = clean_error(cli(data, *rule_args, "-o", "tsig_secret"), 2)  # stdin is not a terminal
    assert "only on a terminal" in line
