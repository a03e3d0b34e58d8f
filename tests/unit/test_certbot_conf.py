"""certbot's renewal configurations (configobj's format) read by our own parser, and what each setting
becomes (certify_tui.lifecycle.certbot_mapping), on sample files shaped like the ones certbot writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from certify_tui.lifecycle.certbot_conf import CertbotConfError, parse_conf, parse_value, read_conf
from certify_tui.lifecycle.certbot_files import LineageError
from certify_tui.lifecycle.certbot_mapping import map_lineage
from certify_tui.model import ChallengeRule, RenewalPolicy

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "certbot"


@pytest.mark.parametrize(("raw", "value"), [
    ("/var/www/html", "/var/www/html"),
    ("/var/www/html,", ["/var/www/html"]),  # certbot's one-item list
    ("a, b ,c", ["a", "b", "c"]),
    (",", []),
    ("", ""),
    ('"echo a, b"', "echo a, b"),
    ("'it''s'", "it"),  # a second quoted string right after is no list: configobj refuses it, so do we
    ("value # a comment", "value"),
    ('"#not a comment"', "#not a comment"),
    ('"""both \' and " quotes"""', "both ' and \" quotes"),
])
def test_certbot_conf_values_follow_configobj(raw: str, value: object) -> None:
    if raw == "'it''s'":
        with pytest.raises(CertbotConfError):
            parse_value(raw)
        return
    assert parse_value(raw) == value


def test_certbot_conf_sections_and_subsections() -> None:
    conf = read_conf(SAMPLES / "webroot-map.conf")
    assert conf.text("version") == "2.11.0"
    assert conf.text("renew_before_expiry") == "2 weeks"  # the commented one above is ignored
    params = conf.section("renewalparams")
    assert params.items("webroot_path") == ["/var/www/example"]
    assert params.text("deploy_hook") == "systemctl reload nginx, then log"
    assert params.text("pre_hook") == "systemctl stop nginx"
    assert params.section("webroot_map").values == {
        "example.com": "/var/www/example", "www.example.com": "/var/www/example",
        "static.example.com": "/srv/static"}
    assert conf.section("missing").values == {}


def test_certbot_conf_errors_name_the_file_and_line() -> None:
    with pytest.raises(CertbotConfError, match=r"broken.conf, line 2: .*brackets"):
        read_conf(SAMPLES / "broken.conf")
    with pytest.raises(CertbotConfError, match="line 1: expected 'key = value'"):
        parse_conf("just words\n")
    with pytest.raises(CertbotConfError, match="not closed"):
        parse_conf('key = "open\n')
    with pytest.raises(CertbotConfError, match="skipped"):
        parse_conf("[[deep]]\nkey = 1\n")


def test_certbot_webroot_map_hooks_and_renewal_are_mapped() -> None:
    conf = read_conf(SAMPLES / "webroot-map.conf")
    mapping = map_lineage("example.com", conf.section("renewalparams"), conf, {})
    # The most common webroot is the catch-all; the name with its own webroot gets its own rule first.
    assert mapping.rules == [ChallengeRule("static.example.com", "http-01", "webroot", {"path": "/srv/static"}),
                             ChallengeRule("*", "http-01", "webroot", {"path": "/var/www/example"})]
    assert [(t.title, t.options["trigger"], t.options["shell"]) for t in mapping.tasks] == [
        ("certbot pre hook", "before", True), ("certbot deploy hook 1", "success", True),
        ("certbot post hook", "always", True)]
    assert mapping.tasks[1].options["command"].endswith("; systemctl reload nginx, then log")
    assert "RENEWED_LINEAGE=" in mapping.tasks[1].options["command"]  # certbot's variables for its hooks
    assert mapping.renewal == RenewalPolicy("days_before", 14)
    assert "must_staple = True" in mapping.not_mapped


def test_certbot_rfc2136_becomes_a_credential(tmp_path: Path) -> None:
    ini = tmp_path / "rfc 2136.ini"
    ini.write_text("dns_rfc2136_server = 192.0.2.53\ndns_rfc2136_port = 5353\ndns_rfc2136_name = acme-key.\n"
                   "dns_rfc2136_secret = c2VjcmV0\ndns_rfc2136_algorithm = HMAC-SHA512\n")
    text = (SAMPLES / "rfc2136.conf").read_text().replace("/etc/letsencrypt/rfc2136.ini", str(ini))
    conf = parse_conf(text)
    mapping = map_lineage("wild.example.org", conf.section("renewalparams"), conf, {})
    assert mapping.credential is not None
    assert mapping.credential.name == "certbot-rfc-2136"
    assert mapping.credential.options == {"server": "192.0.2.53:5353", "tsig_key_name": "acme-key.",
                                          "tsig_secret": "c2VjcmV0", "tsig_algorithm": "hmac-sha512"}
    assert "c2VjcmV0" not in str(mapping.credential.to_dict())  # what a plan shows holds no secret
    assert mapping.rules == [ChallengeRule("*", "dns-01", "rfc2136", {}, "certbot-rfc-2136")]
    assert (mapping.reuse_key, mapping.preferred_chain, mapping.auto_renew) == (True, "ISRG Root X1", False)
    assert mapping.not_mapped == []  # dns_rfc2136_propagation_seconds: the provider waits for the record itself


@pytest.mark.parametrize(("params", "message"), [
    ("authenticator = nginx", "authenticator 'nginx' is not supported"),
    ("authenticator = dns-cloudflare", "authenticator 'dns-cloudflare' is not supported"),
    ("authenticator = manual\npref_challs = http-01,", "manual authenticator with http-01 is not supported"),
    ("authenticator = webroot", "names no webroot"),
    ("authenticator = dns-rfc2136", "without a credentials file"),
])
def test_certbot_unsupported_plugins_are_named_not_guessed(params: str, message: str) -> None:
    conf = parse_conf(f"[renewalparams]\n{params}\n")
    with pytest.raises(LineageError, match=message):
        map_lineage("x", conf.section("renewalparams"), conf, {})


def test_certbot_manual_and_standalone_and_hook_folders(tmp_path: Path) -> None:
    conf = parse_conf("renew_before_expiry = 36 hours\n[renewalparams]\nauthenticator = manual\n"
                      "pref_challs = dns-01,\nmanual_auth_hook = /bin/auth.sh\n")
    mapping = map_lineage("m", conf.section("renewalparams"), conf,
                          {"deploy": [tmp_path / "reload it.sh"], "pre": [tmp_path / "stop.sh"]})
    assert mapping.rules == [ChallengeRule("*", "dns-01", "manual", {})]
    assert mapping.renewal == RenewalPolicy("days_before", 1.5)
    assert [(t.title, t.options["trigger"]) for t in mapping.tasks] == [
        ("certbot pre hook stop.sh", "before"), ("certbot deploy hook reload it.sh", "success")]
    assert mapping.tasks[1].options["command"].endswith(f"'{tmp_path}/reload it.sh'")
    assert any(i.startswith("manual_auth_hook") for i in mapping.not_mapped)

    conf = parse_conf("renew_before_expiry = soon\n[renewalparams]\nauthenticator = standalone\n")
    mapping = map_lineage("s", conf.section("renewalparams"), conf, {})
    assert mapping.rules == [ChallengeRule("*", "http-01", "standalone", {"port": "80"})]
    assert mapping.renewal is None and any("renew_before_expiry 'soon'" in i for i in mapping.not_mapped)
