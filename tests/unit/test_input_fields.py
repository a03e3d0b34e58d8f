"""Every input error names the CertificateSpec field it is about, so faces can point at it without reading
the message: the core (`UsageError.field`), the CLI (`--json` errors) and the API (422)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from servers.common import free_port

from certify_tui.errors import UsageError
from certify_tui.keys import generate_key, key_to_pem
from certify_tui.lifecycle import Core
from certify_tui.lifecycle.certificates import CertificateSpec, check_tasks, renewal_policy
from certify_tui.model import ChallengeRule, RenewalPolicy, TaskConfig
from certify_tui.plugins import Param
from certify_tui.service.api import ApiServer
from certify_tui.service.discovery import read_token
from certify_tui.store.models import Account, ManagedCertificate

STANDALONE = ChallengeRule(provider="standalone", options={"port": "8080"})


@pytest.fixture
def core(tmp_path: Path) -> Iterator[Core]:
    core = Core.open(str(tmp_path / "data"))
    Account.create(email="a@example.org", directory_url="https://ca.invalid/dir", status="valid",
                   account_key_pem=key_to_pem(generate_key()).decode(), allow_internal_names=True)
    yield core
    core.close()


def spec(**changes: Any) -> CertificateSpec:
    values: dict[str, Any] = {"name": "web", "domains": ["web.example.test"], "rules": [STANDALONE]}
    return CertificateSpec(**{**values, **changes})


@pytest.mark.parametrize(("changes", "field", "words"), [
    ({"name": "no/slash"}, "name", "/"),
    ({"name": "n" * 65}, "name", "64"),
    ({"domains": []}, "domains", "at least one"),
    ({"domains": ["bad..example.test"]}, "domains", "empty label"),
    ({"domains": ["a.example.test", "A.example.test"]}, "domains", "same name"),
    ({"domains": ["*.example.test"]}, "rules", "only dns-01"),  # fixed by adding a rule, as it says
    ({"account": "nobody@example.org"}, "account", "No active account"),
    ({"rules": [STANDALONE, ChallengeRule("x..y", provider="standalone")]}, "rules[1]", "empty label"),
    ({"rules": [ChallengeRule(challenge="http-99")]}, "rules[0]", "Unknown challenge type"),
    ({"rules": [ChallengeRule(provider="nope")]}, "rules[0]", "Unknown http-01 provider"),
    ({"rules": [ChallengeRule(provider="standalone", options={"port": "eighty"})]}, "rules[0]",
     "whole number"),
    ({"rules": [ChallengeRule(provider="standalone", options={"nope": "1"})]}, "rules[0]", "unknown option"),
    ({"domains": ["*.example.test"], "rules": [ChallengeRule("other.example.test", provider="standalone")]},
     "rules", "No challenge rule"),
    ({"rules": [], "challenge": "dns-01"}, "rules[0]", "Choose a dns-01 provider"),
    ({"key_type": "dsa"}, "key_type", "Unknown key type"),
    ({"renewal": RenewalPolicy("percent", 120)}, "renewal", "between 1 and 99"),
    ({"deployment_mode": "ftp"}, "deployment_mode", "Unknown deployment mode"),
    ({"deployment_mode": "single"}, "deployment_site", "needs a site"),
    ({"deployment_mode": "auto", "deployment_binding": "add"}, "deployment_binding", "Unknown deployment binding"),
    ({"tasks": [TaskConfig("command", {"command": "true"}), TaskConfig("ftp")]}, "tasks[1]",
     "Unknown deployment task type"),
    ({"tasks": [TaskConfig("webhook", {"url": "gopher://x"})]}, "tasks[0]", "webhook: option 'url'"),
])
def test_each_bad_input_names_its_field(core: Core, changes: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(UsageError, match=words) as caught:
        core.add_certificate(spec(**changes))
    assert caught.value.field == field
    assert not ManagedCertificate.select().exists()


def test_a_name_taken_names_the_name(core: Core) -> None:
    core.add_certificate(spec())
    with pytest.raises(UsageError, match="already exists") as caught:
        core.add_certificate(spec(name="WEB"))
    assert caught.value.field == "name"


def test_rule_changes_name_the_rule(core: Core) -> None:
    core.add_certificate(spec())
    with pytest.raises(UsageError, match="unknown option") as caught:
        core.set_challenge_rule("web", "api.example.test", "http-01", "standalone", {"nope": "1"})
    assert caught.value.field == "rules[0]"  # where the new rule would go: before the catch-all
    with pytest.raises(UsageError, match="whole number") as caught:
        core.set_challenge_rule("web", "*", "http-01", "standalone", {"port": "x"})
    assert caught.value.field == "rules[0]"  # the catch-all it replaces
    with pytest.raises(UsageError, match="no rule for") as caught:
        core.set_challenge_rule("web", "nothing.example.test", "http-01", remove=True)
    assert caught.value.field == "rules"


def test_a_stored_task_the_runner_refuses_names_the_task() -> None:
    from certify_tui.deploy.tasks.runner import prepare

    with pytest.raises(UsageError, match="Deployment task 2") as caught:
        prepare([TaskConfig("command", {"command": "true"}), {"type": "ftp"}])
    assert caught.value.field == "tasks[1]"
    assert check_tasks([]) == ()


def test_errors_that_are_not_about_a_setting_name_none(core: Core) -> None:
    with pytest.raises(UsageError) as caught:
        core.get_certificate("missing")
    assert caught.value.field is None


def test_cli_json_errors_carry_the_field(core: Core, tmp_path: Path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "certify_tui", "--data-dir", str(tmp_path / "data"), *args],
                              capture_output=True, text=True, timeout=60)

    bad = cli("cert", "add", "web", "--domain", "web.example.test", "-o", "port=eighty", "--json")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "certify-tui: error: standalone: option 'port' must be a whole number, not 'eighty'."]
    assert json.loads(bad.stdout) == {"error": "standalone: option 'port' must be a whole number, not 'eighty'.",
                                      "field": "rules[0]"}
    missing = cli("cert", "show", "nothing", "--json")  # not about a setting: no field
    assert missing.returncode == 2 and json.loads(missing.stdout) == {"error": "No certificate named 'nothing'."}
    plain = cli("cert", "add", "web", "--domain", "web.example.test", "-o", "port=eighty")
    assert plain.stdout == ""  # without --json, stdout stays empty as before


def test_api_answers_422_with_the_field(core: Core, tmp_path: Path) -> None:
    # A rule stored by an older version whose option this one refuses: the preview says which rule.
    ManagedCertificate.create(name="web", account=Account.get(), primary_identifier="web.example.test",
                              identifiers=["web.example.test"],
                              challenge_rules=[{"challenge": "http-01", "provider": "standalone",
                                                "options": {"port": "eighty"}, "pattern": "*"}])
    server = ApiServer(core, port=free_port()).start()
    try:
        headers = {"Authorization": f"Bearer {read_token(tmp_path / 'data')}"}
        r = requests.get(f"{server.url}/api/certificates/web/preview", headers=headers, timeout=10)
        assert r.status_code == 422, r.text
        assert r.json() == {"error": "standalone: option 'port' must be a whole number, not 'eighty'.",
                            "field": "rules[0]"}
        r = requests.get(f"{server.url}/api/certificates/nothing", headers=headers, timeout=10)
        assert r.status_code == 404 and r.json() == {"error": "No certificate named 'nothing'."}
    finally:
        server.stop()


@pytest.mark.parametrize("value", [True, float("nan"), float("inf"), "nan", "-inf"])
def test_renewal_refuses_booleans_and_non_finite_numbers(value: object) -> None:
    with pytest.raises(UsageError) as refused:
        renewal_policy("days_before", value)
    assert refused.value.field == "renewal"


@pytest.mark.parametrize("raw", [True, 1.5])
def test_an_int_parameter_takes_only_whole_numbers(raw: object) -> None:
    with pytest.raises(UsageError, match="must be a whole number"):
        Param("port", "Port", type="int").parse(raw, "standalone")
    assert Param("port", "Port", type="int").parse(8080.0, "standalone") == 8080
