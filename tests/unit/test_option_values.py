"""Secrets never on a command line: `-o key=@FILE`, `key=env:VAR`, a bare key asked for on a terminal."""

from __future__ import annotations

from pathlib import Path

import pytest

from certify_tui.cli import options as cli_options
from certify_tui.errors import UsageError
from certify_tui.plugins import parse_option_pairs


def test_a_value_from_a_file_loses_one_trailing_newline(tmp_path: Path) -> None:
    secret = tmp_path / "tsig.secret"
    secret.write_text("c2VjcmV0\n", encoding="utf-8")
    crlf = tmp_path / "win.secret"
    crlf.write_bytes(b"token\r\n")
    assert parse_option_pairs([f"tsig_secret=@{secret}", f"token=@{crlf}"]) == {
        "tsig_secret": "c2VjcmV0", "token": "token"}


def test_a_value_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CF_TOKEN", "abc=def")
    assert parse_option_pairs(["auth_token=env:CF_TOKEN", "plain=value"]) == {
        "auth_token": "abc=def", "plain": "value"}


def test_a_lone_prefix_is_taken_as_it_is() -> None:
    assert parse_option_pairs(["a=@", "b=env:"]) == {"a": "@", "b": "env:"}


def test_errors_name_the_option_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    with pytest.raises(UsageError, match=r"^Option 'tsig_secret': the file .*missing does not exist\.$"):
        parse_option_pairs([f"tsig_secret=@{tmp_path / 'missing'}"])
    with pytest.raises(UsageError, match=r"^Option 'auth_token': the environment variable NOT_SET_ANYWHERE is "
                                         r"not set\.$"):
        parse_option_pairs(["auth_token=env:NOT_SET_ANYWHERE"])
    with pytest.raises(UsageError, match=r"^Option 'path': cannot read "):
        parse_option_pairs([f"path=@{tmp_path}"])  # a folder


def test_a_bare_key_is_asked_for_only_when_someone_can_answer() -> None:
    with pytest.raises(UsageError, match="Option 'tsig_secret' must look like key=value .*only on a terminal"):
        parse_option_pairs(["tsig_secret"])
    asked: list[str] = []

    def ask(key: str) -> str:
        asked.append(key)
        return "typed"

    assert parse_option_pairs(["server=ns1", "tsig_secret"], ask=ask) == {"server": "ns1", "tsig_secret": "typed"}
    assert asked == ["tsig_secret"]


def test_the_cli_asks_without_echo_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    prompts: list[str] = []
    monkeypatch.setattr(cli_options.sys.stdin, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(cli_options.getpass, "getpass", lambda prompt: prompts.append(prompt) or "hidden")
    assert cli_options.option_pairs(["tsig_secret"]) == {"tsig_secret": "hidden"}
    assert prompts == ["Value for 'tsig_secret' (not shown): "]


def test_the_cli_refuses_a_bare_key_without_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_options.sys.stdin, "isatty", lambda: False, raising=False)
    with pytest.raises(UsageError, match="only on a terminal"):
        cli_options.option_pairs(["tsig_secret"])
