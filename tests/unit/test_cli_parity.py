"""CLI parity: every setting the editor has is an option of the CLI, and every settings option is a field.

The table maps each CertificateSpec field (what the editor edits) to the CLI commands and options that set it;
the test fails when a field has no option, an option in the table is not in the parser, or `cert set` grows an
option that sets no field.
"""

from __future__ import annotations

import argparse
from dataclasses import fields

from certify_tui.cli.cert_settings import OPTION_FIELDS
from certify_tui.cli.main import build_parser
from certify_tui.deploy.base import DeploymentTask
from certify_tui.lifecycle.certificates import CertificateSpec
from certify_tui.lifecycle.spec_changes import CertificateChanges
from certify_tui.model import TaskConfig
from certify_tui.tui.screens.editor.steps import FIELD_STEPS

# CertificateSpec field -> {command: options that set it} (a positional argument by its dest name).
FIELD_OPTIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "name": {"cert add": ("name",), "cert set": ("--rename",)},
    "domains": {"cert add": ("--domain",), "cert set": ("--domain", "--add-domain", "--remove-domain")},
    "account": {"cert add": ("--account",), "cert set": ("--account",)},
    "challenge": {"cert add": ("--challenge",), "cert rule": ("--challenge",)},
    "provider": {"cert add": ("--provider",), "cert rule": ("--provider",)},
    "options": {"cert add": ("--option",), "cert rule": ("--option",)},
    "credential": {"cert add": ("--credential",), "cert rule": ("--credential",)},
    "rules": {"cert rule": ("--pattern", "--challenge", "--provider", "--option", "--remove")},
    "key_type": {"cert add": ("--key-type",), "cert set": ("--key-type",)},
    "reuse_key": {"cert add": ("--reuse-key", "--new-key"), "cert set": ("--reuse-key", "--new-key")},
    "preferred_chain": {"cert add": ("--preferred-chain",), "cert set": ("--preferred-chain",)},
    "profile": {"cert add": ("--profile",), "cert set": ("--profile",)},
    "renewal": {cmd: ("--renew-percent", "--renew-days-before", "--renew-days-after")
                for cmd in ("cert add", "cert set")},
    "auto_renew": {"cert add": ("--auto-renew", "--no-auto-renew"), "cert set": ("--auto-renew", "--no-auto-renew")},
    "deployment_mode": {"cert add": ("--deploy",), "cert set": ("--deploy",)},
    "deployment_site": {"cert add": ("--site",), "cert set": ("--site",)},
    "deployment_binding": {"cert add": ("--deploy-binding",), "cert set": ("--deploy-binding",)},
    "tags": {"cert add": ("--tag",), "cert set": ("--tag", "--add-tag", "--remove-tag", "--no-tags"),
             "cert list": ("--tag",), "export csv": ("--tag",)},
    "fallback_accounts": {cmd: ("--fallback-account", "--no-fallback-accounts") for cmd in ("cert add", "cert set")},
    "tasks": {"cert task add": ("--type", "--option", "--title", "--trigger", "--retries", "--retry-delay",
                                "--stop-on-failure"),
              "cert task remove": ("number",), "cert task move": ("number", "--to"), "cert task list": ("name",)},
}
# A task's settings -> the `cert task add` option for each (the shared runner options included).
TASK_OPTIONS = {"type": "--type", "options": "--option", "title": "--title", "trigger": "--trigger",
                "retries": "--retries", "retry_delay": "--retry-delay", "stop_on_failure": "--stop-on-failure",
                "credential": "--credential"}


def _command(path: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = build_parser()
    for word in path.split():
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[word]
    return parser


def _options(parser: argparse.ArgumentParser) -> set[str]:
    names: set[str] = set()
    for action in parser._actions:
        names.update(action.option_strings or [action.dest])
    return names


def test_every_spec_field_has_a_cli_option() -> None:
    spec_fields = {f.name for f in fields(CertificateSpec)}
    assert spec_fields == set(FIELD_OPTIONS), "a CertificateSpec field without CLI options (or a stale row)"


def test_every_editor_field_has_a_cli_option() -> None:
    assert set(FIELD_STEPS) <= set(FIELD_OPTIONS)


def test_every_option_in_the_table_exists() -> None:
    for field, commands in FIELD_OPTIONS.items():
        for command, wanted in commands.items():
            missing = set(wanted) - _options(_command(command))
            assert not missing, f"{field}: `certify-tui {command}` has no {', '.join(sorted(missing))}"


def test_every_cert_set_option_sets_a_field() -> None:
    spec_fields = {f.name for f in fields(CertificateSpec)}
    given = _options(_command("cert set")) - {"-h", "--help", "--json", "name", "-d"}
    assert given == set(OPTION_FIELDS), "a `cert set` option missing from OPTION_FIELDS (or a stale entry)"
    assert set(OPTION_FIELDS.values()) <= spec_fields
    # ...and the change value has a place for each field `cert set` names.
    change_fields = {f.name for f in fields(CertificateChanges)} - {"add_domains", "remove_domains", "add_tags",
                                                                    "remove_tags"}
    assert change_fields == set(OPTION_FIELDS.values())
    assert set(_command("cert add").parse_known_args(["x", "-d", "a"])[0].__dict__) >= {
        "domains", "account", "key_type", "reuse_key", "deploy", "site", "auto_renew"}


def test_every_task_setting_has_a_cli_option() -> None:
    task_settings = {f.name for f in fields(TaskConfig)} | {p.key for p in DeploymentTask.COMMON_PARAMS}
    assert task_settings == set(TASK_OPTIONS)
    missing = set(TASK_OPTIONS.values()) - _options(_command("cert task add"))
    assert not missing
