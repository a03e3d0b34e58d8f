"""Per-identifier challenge rules from the CLI, and the provider catalogue."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from certify_tui.keys import generate_key, key_to_pem
from certify_tui.lifecycle import Core
from certify_tui.store.models import Account


def cli(data: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "certify_tui", "--data-dir", str(data), *args],
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    core = Core.open(str(tmp_path / "d"))
    Account.create(email="a@example.org", directory_url="https://ca.invalid/dir", status="valid",
                   account_key_pem=key_to_pem(generate_key()).decode(), allow_internal_names=True)
    core.add_certificate(name="mix", domains=["www.example.test", "*.api.example.test"], challenge="dns-01",
                         provider="script", options={"create_command": "/bin/true", "delete_command": "/bin/true"})
    core.close()
    return tmp_path / "d"


def test_rules_pick_the_challenge_per_name(data: Path) -> None:
    out = cli(data, "cert", "rule", "mix", "--pattern", "www.example.test", "--challenge", "http-01",
              "--provider", "webroot", "-o", f"path={data}")
    assert out.returncode == 0, out.stderr
    plan = json.loads(cli(data, "cert", "preview", "mix", "--json").stdout)
    how = {v["identifier"]: (v["challenge"], v["provider"], v["rule"]) for v in plan["validations"]}
    assert how == {"www.example.test": ("http-01", "webroot", "www.example.test"),
                   "*.api.example.test": ("dns-01", "script", "*")}
    # A wildcard cannot be moved to http-01: the rule change is refused and nothing changes.
    bad = cli(data, "cert", "rule", "mix", "--pattern", "*", "--challenge", "http-01")
    assert bad.returncode == 2 and "only dns-01" in bad.stderr
    assert json.loads(cli(data, "cert", "preview", "mix", "--json").stdout)["validations"] == plan["validations"]
    assert cli(data, "cert", "rule", "mix", "--pattern", "www.example.test", "--remove").returncode == 0
    plan = json.loads(cli(data, "cert", "preview", "mix", "--json").stdout)
    assert {v["provider"] for v in plan["validations"]} == {"script"}


def test_provider_catalogue(data: Path) -> None:
    listed = json.loads(cli(data, "providers", "dns-01", "--json").stdout)
    ids = [p["id"] for p in listed]
    assert ids[:3] == ["manual", "rfc2136", "script"]  # our own first
    assert sum(i.startswith("lexicon-") for i in ids) >= 80
    one = json.loads(cli(data, "providers", "dns-01", "--provider", "rfc2136", "--json").stdout)
    secret = {p["key"] for p in one["params"] if p["secret"]}
    assert secret == {"tsig_secret"}
