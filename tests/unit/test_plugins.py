"""Plug-in parameters, option validation, provider lookup and challenge rules."""

from __future__ import annotations

import json
from typing import ClassVar

import pytest

from certify_tui.challenges import CHALLENGE_TYPES, all_providers, get_provider, providers_for
from certify_tui.challenges.http_standalone import StandaloneHttpProvider
from certify_tui.challenges.http_webroot import WebrootHttpProvider
from certify_tui.challenges.rules import make_rule, provider_from, redacted, rule_for
from certify_tui.errors import UsageError
from certify_tui.model import ChallengeRule
from certify_tui.plugins import SECRET_MASK, Param, Plugin, parse_option_pairs


class Sample(Plugin):
    id = "sample"
    title = "Sample"
    params: ClassVar[tuple[Param, ...]] = (
        Param("host", "Host", required=True),
        Param("port", "Port", type="int", default=53),
        Param("tls", "Use TLS", type="bool", default=False),
        Param("mode", "Mode", type="choice", choices=("fast", "safe"), default="safe"),
        Param("token", "API token", secret=True),
    )


# -- Param.parse -------------------------------------------------------------------------------------


def test_int_param() -> None:
    p = Param("port", "Port", type="int")
    assert p.parse("8080", "x") == 8080
    assert p.parse(" 42 ", "x") == 42
    assert p.parse(7, "x") == 7
    with pytest.raises(UsageError, match=r"x: option 'port' must be a whole number, not 'eighty'"):
        p.parse("eighty", "x")
    with pytest.raises(UsageError, match="whole number"):
        p.parse("8.5", "x")


@pytest.mark.parametrize("raw", ["1", "true", "TRUE", "Yes", " on ", True])
def test_bool_param_true(raw: object) -> None:
    assert Param("b", "B", type="bool").parse(raw, "x") is True


@pytest.mark.parametrize("raw", ["0", "false", "False", "no", "OFF", False])
def test_bool_param_false(raw: object) -> None:
    assert Param("b", "B", type="bool").parse(raw, "x") is False


@pytest.mark.parametrize("raw", ["maybe", "", "2"])
def test_bool_param_rejects(raw: str) -> None:
    with pytest.raises(UsageError, match="must be true or false"):
        Param("b", "B", type="bool").parse(raw, "x")


def test_choice_param() -> None:
    p = Param("mode", "Mode", type="choice", choices=("fast", "safe"))
    assert p.parse("fast", "x") == "fast"
    with pytest.raises(UsageError, match="must be one of fast, safe"):
        p.parse("FAST", "x")


def test_required_param_cannot_be_empty() -> None:
    p = Param("path", "Document root", type="path", required=True)
    assert p.parse("/var/www", "webroot") == "/var/www"
    with pytest.raises(UsageError, match=r"webroot: option 'path' \(Document root\) cannot be empty"):
        p.parse("   ", "webroot")


def test_int_param_bounds() -> None:
    p = Param("port", "Port", type="int", minimum=1, maximum=65535)
    assert p.parse("1", "x") == 1
    assert p.parse("65535", "x") == 65535
    for bad in ("0", "-1", "65536", "99999"):
        with pytest.raises(UsageError, match="'port' must be between 1 and 65535"):
            p.parse(bad, "x")


def test_param_to_dict() -> None:
    d = Param("mode", "Mode", type="choice", choices=("a", "b"), default="a").to_dict()
    expected = {"key": "mode", "label": "Mode", "type": "choice", "required": False, "secret": False,
                "default": "a", "help": "", "choices": ["a", "b"]}
    assert {k: d[k] for k in expected} == expected
    json.dumps(d)  # the TUI and the API send it as JSON


# -- validate_options / redact -----------------------------------------------------------------------


def test_validate_options_fills_defaults_and_types() -> None:
    values = Sample.validate_options({"host": "ns1", "port": "5353", "tls": "yes"})
    assert values == {"host": "ns1", "port": 5353, "tls": True, "mode": "safe"}
    assert "token" not in values  # no default, not given


def test_validate_options_unknown_key_lists_valid_keys() -> None:
    with pytest.raises(UsageError) as info:
        Sample.validate_options({"host": "ns1", "nope": "1"})
    msg = info.value.message
    assert "unknown option 'nope'" in msg
    assert "valid options: host, port, tls, mode, token" in msg
    assert msg.startswith("sample:")


def test_validate_options_missing_required() -> None:
    with pytest.raises(UsageError, match=r"sample: option 'host' \(Host\) is required"):
        Sample.validate_options({"port": "1"})
    with pytest.raises(UsageError, match="is required"):
        Sample.validate_options({"host": None})


def test_plugin_init_validates() -> None:
    assert Sample({"host": "h"}).options["port"] == 53
    with pytest.raises(UsageError):
        Sample({})


def test_redact_masks_secrets_only() -> None:
    shown = Sample.redact({"host": "ns1", "token": "abc123", "port": 53})
    assert shown == {"host": "ns1", "token": SECRET_MASK, "port": 53}
    assert "abc123" not in repr(shown)
    # An empty secret is shown as empty, so the UI can say "not set".
    assert Sample.redact({"token": ""}) == {"token": ""}


def test_describe_params() -> None:
    keys = [d["key"] for d in Sample.describe_params()]
    assert keys == ["host", "port", "tls", "mode", "token"]
    assert [d["secret"] for d in Sample.describe_params()][-1] is True


# -- parse_option_pairs ------------------------------------------------------------------------------


def test_parse_option_pairs() -> None:
    assert parse_option_pairs(None) == {}
    assert parse_option_pairs(["address=127.0.0.1", " port =8080", "empty=", "q=a=b"]) == {
        "address": "127.0.0.1", "port": "8080", "empty": "", "q": "a=b"}


@pytest.mark.parametrize("bad", ["novalue", "=value", " =x"])
def test_parse_option_pairs_errors(bad: str) -> None:
    with pytest.raises(UsageError, match="must look like key=value"):
        parse_option_pairs([bad])


def test_parse_option_pairs_refuses_a_repeated_key() -> None:
    with pytest.raises(UsageError, match=r"^Option 'port' is given twice: give it once\.$"):
        parse_option_pairs(["port=80", "address=::", " port=81"])
    with pytest.raises(UsageError) as caught:
        parse_option_pairs(["tsig_secret=hunter2", "tsig_secret=hunter3"])
    assert "hunter" not in caught.value.message  # a secret is never echoed


# -- input checks: addresses and paths ---------------------------------------------------------------


@pytest.mark.parametrize(("raw", "address"), [
    ("0.0.0.0", "0.0.0.0"), ("::", "::"), (" 127.0.0.1 ", "127.0.0.1"), ("[::1]", "::1"),
    ("0:0:0:0:0:0:0:1", "::1"),
])
def test_address_param_accepts_ip_addresses(raw: str, address: str) -> None:
    assert Param("address", "Bind", type="address").check_input(raw, "x") == address


@pytest.mark.parametrize("raw", ["999.1.1.1", "", " ", "example.com", "1.2.3", "::g"])
def test_address_param_refuses_the_rest(raw: str) -> None:
    with pytest.raises(UsageError, match=r"^x: option 'address' must be an IP address to listen on"):
        Param("address", "Bind", type="address").check_input(raw, "x")


def test_path_param_must_be_absolute(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    p = Param("path", "Folder", type="path", exists="dir")
    for relative in ("../../etc", "www", "./www"):
        with pytest.raises(UsageError, match=f"x: option 'path' must be an absolute path, not '{relative}'"):
            p.check_input(relative, "x")
    assert p.check_input(f" {tmp_path} ", "x") == str(tmp_path)
    assert p.check_input("~", "x") == "~"  # the home folder: '~' is expanded where it is used
    assert Param("p", "P", type="path").check_input("", "x") == ""  # not given


def test_path_param_must_exist_when_declared(tmp_path) -> None:  # type: ignore[no-untyped-def]
    folder, afile = tmp_path / "www", tmp_path / "nginx.conf"
    folder.mkdir()
    afile.write_text("events {}\n")
    must_be_dir = Param("path", "Folder", type="path", exists="dir")
    must_be_file = Param("conf", "Config", type="path", exists="file", keywords=("off",))
    assert must_be_dir.check_input(str(folder), "x") == str(folder)
    assert must_be_file.check_input(str(afile), "x") == str(afile)
    assert must_be_file.check_input("off", "x") == "off"
    with pytest.raises(UsageError, match=f"^x: option 'path': the folder {tmp_path}/nope does not exist\\.$"):
        must_be_dir.check_input(str(tmp_path / "nope"), "x")
    with pytest.raises(UsageError, match=f"option 'path': {afile} is not a folder"):
        must_be_dir.check_input(str(afile), "x")
    with pytest.raises(UsageError, match=f"option 'conf': the file {afile}/x does not exist"):
        must_be_file.check_input(str(afile / "x"), "x")
    with pytest.raises(UsageError, match=f"option 'conf': {folder} is not a file"):
        must_be_file.check_input(str(folder), "x")
    assert Param("out", "Out", type="path").check_input(str(tmp_path / "later"), "x")  # created when used


def test_input_checks_apply_to_given_options_not_stored_ones(tmp_path) -> None:  # type: ignore[no-untyped-def]
    gone = str(tmp_path / "gone")
    with pytest.raises(UsageError, match="webroot: option 'path': the folder .*gone does not exist"):
        make_rule("http-01", "webroot", {"path": gone})
    with pytest.raises(UsageError, match="standalone: option 'address' must be an IP address"):
        make_rule("http-01", "standalone", {"address": "999.1.1.1"})
    # Loaded from the store to run: the run reports a folder removed since, not the loading.
    stored = make_rule("http-01", "webroot", {"path": gone}, given=False)
    assert provider_from(stored).options == {"path": gone}


# -- providers ---------------------------------------------------------------------------------------


def test_get_provider_defaults_and_ids() -> None:
    assert get_provider("http-01", None) is StandaloneHttpProvider
    assert get_provider("http-01", "standalone") is StandaloneHttpProvider
    assert get_provider("http-01", "webroot") is WebrootHttpProvider
    assert set(providers_for("http-01")) == {StandaloneHttpProvider, WebrootHttpProvider}
    assert all(challenge in CHALLENGE_TYPES for challenge, _ in all_providers())


def test_get_provider_unknown_challenge() -> None:
    with pytest.raises(UsageError, match=r"Unknown challenge type 'http-99'; choose one of: http-01, dns-01"):
        get_provider("http-99", None)


def test_get_provider_unknown_provider() -> None:
    with pytest.raises(UsageError, match=r"Unknown http-01 provider 'nope'. Choose one of: standalone, webroot"):
        get_provider("http-01", "nope")


def test_dns01_needs_an_explicit_provider() -> None:
    with pytest.raises(UsageError, match="Choose a dns-01 provider with --provider: .*rfc2136"):
        get_provider("dns-01", None)
    with pytest.raises(UsageError, match=r"Unknown dns-01 provider 'cloudflare'.*one of \d+ DNS-API providers"):
        get_provider("dns-01", "cloudflare")
    assert get_provider("dns-01", "rfc2136").id == "rfc2136"


def test_standalone_params_match_cli_help() -> None:
    params = {p.key: p for p in StandaloneHttpProvider.params}
    assert set(params) == {"address", "port"}
    assert params["port"].type == "int"
    assert params["port"].default == 80
    with pytest.raises(UsageError, match="between 1 and 65535"):
        StandaloneHttpProvider({"port": "70000"})
    options = StandaloneHttpProvider({"address": "127.0.0.1", "port": "8080"}).options
    assert options == {"address": "127.0.0.1", "port": 8080}
    assert StandaloneHttpProvider({}).describe() == "built-in listener on 0.0.0.0:80"


def test_webroot_params_match_cli_help(tmp_path) -> None:  # type: ignore[no-untyped-def]
    params = {p.key: p for p in WebrootHttpProvider.params}
    assert set(params) == {"path"}
    assert params["path"].required and params["path"].type == "path"
    with pytest.raises(UsageError, match="'path'.*required"):
        WebrootHttpProvider({})
    assert str(tmp_path) in WebrootHttpProvider({"path": str(tmp_path)}).describe()


# -- rules -------------------------------------------------------------------------------------------


def test_make_rule_validates_and_normalises() -> None:
    rule = make_rule("http-01", None, {"port": "8080"})
    assert rule == ChallengeRule(pattern="*", challenge="http-01", provider="standalone",
                                 options={"address": "0.0.0.0", "port": 8080})
    assert make_rule(pattern=" *.example.com ", provider="webroot",
                     options={"path": "/srv"}).pattern == "*.example.com"


def test_make_rule_errors() -> None:
    with pytest.raises(UsageError, match="unknown option 'nope'"):
        make_rule("http-01", "standalone", {"nope": "1"})
    with pytest.raises(UsageError, match="empty label"):
        make_rule("http-01", "standalone", pattern="bad..example.com")
    with pytest.raises(UsageError, match="Choose a dns-01 provider"):
        make_rule("dns-01")


def test_rule_for_first_match_wins(tmp_path) -> None:  # type: ignore[no-untyped-def]
    for folder in ("shop", "example"):
        (tmp_path / folder).mkdir()
    rules = [
        make_rule("http-01", "webroot", {"path": f"{tmp_path}/shop"}, pattern="shop.example.com"),
        make_rule("http-01", "webroot", {"path": f"{tmp_path}/example"}, pattern="*.example.com"),
        make_rule("http-01", "standalone", {"port": "8080"}),
    ]
    assert rule_for(rules, "shop.example.com") is rules[0]
    assert rule_for(rules, "www.example.com") is rules[1]
    assert rule_for(rules, "a.b.example.com") is rules[1]
    assert rule_for(rules, "other.org") is rules[2]
    assert rule_for(list(reversed(rules)), "shop.example.com") is rules[2]  # '*' first swallows all
    assert provider_from(rules[1]).options == {"path": f"{tmp_path}/example"}


def test_rule_for_no_match() -> None:
    rules = [make_rule("http-01", "webroot", {"path": "/srv"}, pattern="example.com,www.example.com")]
    assert rule_for(rules, "WWW.example.com.") is rules[0]
    with pytest.raises(UsageError, match=r"No challenge rule matches 'other\.org'"):
        rule_for(rules, "other.org")
    with pytest.raises(UsageError, match="No challenge rule"):
        rule_for([], "example.com")


def test_redacted_rule_keeps_non_secret_options() -> None:
    rule = make_rule("http-01", "standalone", {"address": "127.0.0.1"})
    assert redacted(rule) == rule
