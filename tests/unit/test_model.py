"""The typed certificate values: their JSON form is what databases have always held, older rows read with
defaults, and only the store converts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from certify_tui.keys import generate_key, key_to_pem
from certify_tui.lifecycle import Core
from certify_tui.model import ChallengeRule, DeploymentSettings, RenewalPolicy, TaskConfig
from certify_tui.store.models import Account, ManagedCertificate


@pytest.fixture
def core(tmp_path: Path) -> Iterator[Core]:
    core = Core.open(str(tmp_path / "data"))
    Account.create(email="a@example.org", directory_url="https://ca.invalid/dir", status="valid",
                   account_key_pem=key_to_pem(generate_key()).decode(), allow_internal_names=True)
    yield core
    core.close()


def test_json_forms_keep_the_stored_shape() -> None:
    rule = ChallengeRule("*.example.org", "dns-01", "rfc2136", {"server": "127.0.0.1"})
    assert rule.to_json() == {"pattern": "*.example.org", "challenge": "dns-01", "provider": "rfc2136",
                              "options": {"server": "127.0.0.1"}}
    assert ChallengeRule.from_json(rule.to_json()) == rule
    task = TaskConfig("command", {"command": "true"}, "Reload")
    assert task.to_json() == {"type": "command", "options": {"command": "true"}, "title": "Reload"}
    assert DeploymentSettings("files", None, (task,)).to_json() == {"mode": "files", "tasks": [task.to_json()]}
    single = DeploymentSettings("single", "nginx:/etc/nginx/nginx.conf:3", ())
    assert single.to_json() == {"mode": "single", "site": "nginx:/etc/nginx/nginx.conf:3", "tasks": []}
    assert DeploymentSettings.from_json(single.to_json()) == single
    assert RenewalPolicy("days_before", 20.0).to_json() == {"days_before": 20.0}
    assert RenewalPolicy.from_json({"percent": 60}).to_json() == {"percent": 60}  # an int stays an int


def test_missing_keys_take_their_defaults() -> None:
    assert ChallengeRule.from_json({"challenge": "http-01"}) == ChallengeRule()
    assert TaskConfig.from_json({"type": "export"}) == TaskConfig("export")
    assert DeploymentSettings.from_json({}) == DeploymentSettings.from_json(None) == DeploymentSettings()
    assert DeploymentSettings.from_json({"mode": "auto"}) == DeploymentSettings(mode="auto")
    assert RenewalPolicy.from_json({}) == RenewalPolicy("percent", 75.0)
    # Several kinds (never written, read as the policy always did): days before, then days after, then percent.
    assert RenewalPolicy.from_json({"percent": 10, "days_after": 5}) == RenewalPolicy("days_after", 5)
    with pytest.raises(ValueError, match="not a JSON object"):
        ChallengeRule.from_json("http-01")
    with pytest.raises(ValueError, match="options"):
        TaskConfig.from_json({"type": "export", "options": "path=/srv"})


def test_rows_of_an_older_database_read_typed(core: Core) -> None:
    cert = ManagedCertificate.create(name="old", account=Account.get(), primary_identifier="old.example.test",
                                     identifiers=["old.example.test"])
    db = core.db
    db.execute_sql("UPDATE managed_certificate SET challenge_rules = ?, deployment = ?, renewal = ? WHERE id = ?",
                   ('[{"challenge": "http-01", "provider": "standalone"}]', "{}", "{}", cert.id))
    old = ManagedCertificate.get_by_id(cert.id)
    assert old.challenge_rules == (ChallengeRule(provider="standalone"),)
    assert old.deployment == DeploymentSettings()
    assert old.renewal == RenewalPolicy()
    view = core.certificate_view(old)
    assert view["problem"] is None and view["renewal"] == {"percent": 75.0}


def test_assigning_the_json_form_stores_the_typed_value(core: Core) -> None:
    cert = ManagedCertificate(name="j", account=Account.get(), primary_identifier="j.example.test",
                              identifiers=["j.example.test"], renewal={"days_after": 30},
                              deployment={"mode": "none", "tasks": [{"type": "export", "options": {}}]})
    assert cert.renewal == RenewalPolicy("days_after", 30)
    assert cert.deployment == DeploymentSettings("none", None, (TaskConfig("export"),))
    cert.challenge_rules = [ChallengeRule(provider="standalone")]
    cert.save(force_insert=True)
    raw = core.db.execute_sql("SELECT challenge_rules, deployment, renewal FROM managed_certificate WHERE id = ?",
                              (cert.id,)).fetchone()
    assert [json.loads(text) for text in raw] == [
        [{"challenge": "http-01", "options": {}, "pattern": "*", "provider": "standalone"}],
        {"mode": "none", "tasks": [{"options": {}, "title": "", "type": "export"}]},
        {"days_after": 30},
    ]


def test_the_certificate_view_shows_the_json_as_before(core: Core) -> None:
    cert = core.add_certificate(name="web", domains=["web.example.test"], provider="standalone",
                                options={"port": "8080"})
    view = core.certificate_view(core.get_certificate("web"))
    assert view["challenge_rules"] == [{"challenge": "http-01", "options": {"address": "0.0.0.0", "port": 8080},
                                        "pattern": "*", "provider": "standalone"}]
    assert view["deployment"] == {"mode": "files", "tasks": []}
    assert view["renewal"] == {"percent": 75}
    assert json.dumps(core.certificate_view(cert)["renewal"]) == '{"percent": 75}'
