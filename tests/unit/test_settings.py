"""Settings through the core and the CLI: declared values, the default validation rule, renewal defaults."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from certify_tui.errors import UsageError
from certify_tui.keys import generate_key, key_to_pem
from certify_tui.lifecycle import Core
from certify_tui.lifecycle.certificates import CertificateSpec, renewal_policy
from certify_tui.model import ChallengeRule, RenewalPolicy
from certify_tui.store.models import Account


@pytest.fixture
def core(tmp_path: Path):
    core = Core.open(str(tmp_path / "data"))
    Account.create(email="a@example.org", directory_url="https://ca.invalid/dir", status="valid",
                   account_key_pem=key_to_pem(generate_key()).decode(), allow_internal_names=True)
    yield core
    core.close()


def test_defaults_and_bounds(core: Core) -> None:
    assert core.settings()["pool_size"] == 4
    assert core.update_settings({"pool_size": "8"})["pool_size"] == 8
    with pytest.raises(UsageError, match="between 1 and 64"):
        core.update_settings({"pool_size": 0})
    assert core.settings()["pool_size"] == 8  # a refused change changes nothing
    with pytest.raises(UsageError, match="unknown option 'nope'"):
        core.update_settings({"nope": 1})


def test_web_server_configuration_must_exist(core: Core, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="^settings: option 'nginx_config': the file /nonexistent does not exist"):
        core.update_settings({"nginx_config": "/nonexistent"})
    with pytest.raises(UsageError, match="option 'apache_config' must be an absolute path"):
        core.update_settings({"apache_config": "apache2.conf"})
    conf = tmp_path / "nginx.conf"
    conf.write_text("events {}\n")
    assert core.update_settings({"nginx_config": str(conf), "apache_config": "off"})["nginx_config"] == str(conf)
    # The file goes away: the other settings still change; only a new value for it is checked.
    conf.unlink()
    assert core.update_settings({"pool_size": 2})["nginx_config"] == str(conf)
    assert core.update_settings({"nginx_config": ""})["nginx_config"] == ""


def test_bad_notification_url_is_refused_before_saving(core: Core) -> None:
    with pytest.raises(UsageError):
        core.update_settings({"notify_urls": "not a url at all"})
    assert core.settings()["notify_urls"] == ""


def test_new_certificates_start_from_the_default_rule(core: Core, tmp_path: Path) -> None:
    assert core.default_rule().provider == "standalone"
    core.set_default_rule("http-01", "webroot", {"path": str(tmp_path)})
    cert = core.add_certificate(name="web", domains=["a.example.test"])
    assert cert.challenge_rules == (ChallengeRule(pattern="*", challenge="http-01", provider="webroot",
                                                  options={"path": str(tmp_path)}),)
    # Saying anything about validation overrides the default.
    cert = core.add_certificate(name="own", domains=["b.example.test"], provider="standalone",
                                options={"port": "8080"})
    assert cert.challenge_rules[0].options["port"] == 8080
    with pytest.raises(UsageError, match="required"):
        core.set_default_rule("http-01", "webroot", {})


def test_renewal_percent_setting_is_the_default_for_new_certificates(core: Core) -> None:
    core.update_settings({"renewal_percent": 60})
    assert core.add_certificate(name="x", domains=["x.example.test"]).renewal == RenewalPolicy("percent", 60)
    assert core.add_certificate(name="y", domains=["y.example.test"],
                                renewal=RenewalPolicy("days_before", 20)).renewal == RenewalPolicy("days_before", 20)
    for bad, words in ((RenewalPolicy("percent", 120), "between 1 and 99"),
                       (RenewalPolicy("days_before", 0), "more than 0")):
        with pytest.raises(UsageError, match=words) as caught:
            core.add_certificate(name="z", domains=["z.example.test"], renewal=bad)
        assert caught.value.field == "renewal"
    # As a person types it (two kinds at once, which the old dict could say, a RenewalPolicy cannot).
    for kind, value, words in (("weekly", 1, "one of"), ("days_after", "soon", "must be a number")):
        with pytest.raises(UsageError, match=words) as caught:
            renewal_policy(kind, value)
        assert caught.value.field == "renewal"


def test_preview_of_an_edit_to_a_stored_certificate(core: Core) -> None:
    core.add_certificate(name="shop", domains=["shop.example.test"])
    spec = core.certificate_spec("shop")
    spec.domains.append("www.shop.example.test")
    plan = core.preview_spec(spec, editing="shop")
    assert plan.certificate == "shop" and plan.identifiers == ["shop.example.test", "www.shop.example.test"]
    assert core.get_certificate("shop").identifiers == ["shop.example.test"]  # a preview stores nothing
    with pytest.raises(UsageError, match="already exists"):
        core.preview_spec(CertificateSpec(name="shop", domains=["q.example.test"]))


def test_settings_cli(tmp_path: Path) -> None:
    data = str(tmp_path / "cli")

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "certify_tui", "--data-dir", data, "settings", *args],
                              capture_output=True, text=True, timeout=60)

    assert run("set", "pool_size=6", "notify_urls=json://127.0.0.1:9/hook").returncode == 0
    assert run("default-rule", "--provider", "webroot", "-o", f"path={tmp_path}").returncode == 0
    shown = json.loads(run("show", "--json").stdout)
    assert shown["settings"]["pool_size"] == 6
    assert shown["settings"]["notify_urls"] == "********"  # secrets never printed
    assert shown["default_rule"]["provider"] == "webroot"
    bad = run("set", "pool_size=0")
    assert bad.returncode == 2 and bad.stderr.startswith("certify-tui: error:") and "Traceback" not in bad.stderr
