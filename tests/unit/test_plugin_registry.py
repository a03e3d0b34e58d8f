"""The plug-in registry: ours and other packages' plug-ins load through entry points; a broken one is skipped.

The example plug-in package (tests/data/certify-tui-example-plugin) is installed into the test venv by
`make install`. Broken plug-ins are never installed there: each test writes a package's metadata into a
temporary folder put on PYTHONPATH, which is how Python finds an installed package's entry points.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from certify_tui.challenges import (
    PROVIDERS,
    ChallengeProvider,
    get_provider,
    providers_for,
    skipped_providers,
)
from certify_tui.deploy.tasks import TASKS, skipped_tasks, task_types
from certify_tui.paths import DataDir
from certify_tui.plugins import registry
from certify_tui.plugins.registry import OWN_PACKAGE, PluginGroup

EXAMPLE_PACKAGE = "certify-tui-example-plugin"
EXAMPLE_ID = "example-zonefile"


def cli(data: Path, *args: str, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run([sys.executable, "-m", "certify_tui", "--data-dir", str(data), *args],
                          capture_output=True, text=True, timeout=120, env=env)


# -- the installed example plug-in -------------------------------------------------------------------


def test_our_plugins_load_from_our_entry_points() -> None:
    assert skipped_providers() == [] and skipped_tasks() == []
    builtin = get_provider("http-01", "standalone")
    assert PROVIDERS.package_of(builtin) == OWN_PACKAGE
    assert all(TASKS.is_own(cls) for cls in task_types())


def test_the_example_plugin_is_a_provider_like_ours(tmp_path: Path) -> None:
    cls = get_provider("dns-01", EXAMPLE_ID)
    assert PROVIDERS.package_of(cls) == EXAMPLE_PACKAGE and not PROVIDERS.is_own(cls)
    ids = [p.id for p in providers_for("dns-01")]
    # Ours first (the default stays ours), then other packages', then the DNS-API ones.
    assert ids[:4] == ["manual", "rfc2136", "script", EXAMPLE_ID]
    assert ids[4].startswith("lexicon-")
    with pytest.raises(Exception, match="records_file"):
        cls({})


def test_the_example_plugin_is_listed_by_the_cli(tmp_path: Path) -> None:
    data = tmp_path / "d"
    table = cli(data, "providers", "dns-01")
    assert table.returncode == 0, table.stderr
    assert table.stderr == ""
    line = next(line for line in table.stdout.splitlines() if f" {EXAMPLE_ID} " in line)
    assert "Example plug-in: TXT records in a JSON file" in line and "records_file*" in line
    listed = [p["id"] for p in json.loads(cli(data, "providers", "dns-01", "--json").stdout)]
    assert listed[:4] == ["manual", "rfc2136", "script", EXAMPLE_ID]
    one = cli(data, "providers", "dns-01", "--provider", EXAMPLE_ID)
    assert one.returncode == 0
    assert f"A plug-in from the package {EXAMPLE_PACKAGE}." in one.stdout
    assert "--option records_file=..." in one.stdout


# -- broken plug-ins ---------------------------------------------------------------------------------

THIRD_PARTY_MODULE = '''
from certify_tui.challenges.base import ChallengeProvider
from certify_tui.deploy.base import DeploymentTask


class NoteTask(DeploymentTask):
    id = "note"
    title = "Write a note"


class OddProvider(ChallengeProvider):
    id = "odd"
    title = "Odd"
    challenge_type = "http-99"


class ImpostorProvider(ChallengeProvider):
    id = "standalone"
    title = "Not the real one"
    challenge_type = "http-01"


def nothing_useful():
    return 42
'''

BROKEN_ENTRY_POINTS = """
[certify_tui.challenge_providers]
missing = certify_tui_missing_module:Provider
not-a-plugin = json:JSONDecoder
wrong-challenge = certify_tui_third_party:OddProvider
taken = certify_tui_third_party:ImpostorProvider
not-a-list = certify_tui_third_party:nothing_useful

[certify_tui.deployment_tasks]
note = certify_tui_third_party:NoteTask
"""


@pytest.fixture
def broken_site(tmp_path: Path) -> Path:
    """A folder holding an 'installed' package whose plug-ins are mostly broken, and one that works."""
    site = tmp_path / "site"
    info = site / "certify_tui_broken-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: certify-tui-broken\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(BROKEN_ENTRY_POINTS)
    (site / "certify_tui_third_party.py").write_text(THIRD_PARTY_MODULE)
    return site


def test_broken_plugins_are_skipped_and_named(tmp_path: Path, broken_site: Path) -> None:
    data = tmp_path / "d"
    run = cli(data, "providers", "http-01", pythonpath=broken_site)
    assert run.returncode == 0, run.stderr
    # Ours still work, and the impostor did not replace the built-in listener.
    assert "Built-in HTTP listener" in run.stdout and "Not the real one" not in run.stdout
    warnings = run.stderr.splitlines()
    assert len(warnings) == 5, run.stderr
    assert all(w.startswith("certify-tui: warning: plug-in '") for w in warnings)
    assert all("from package certify-tui-broken skipped: " in w for w in warnings)
    by_name = {w.split("'")[1]: w for w in warnings}
    assert "certify_tui_missing_module:Provider cannot be loaded (ModuleNotFoundError: No module named " \
           "'certify_tui_missing_module')" in by_name["missing"]
    assert "is not a ChallengeProvider" in by_name["not-a-plugin"]
    assert "odd has challenge type 'http-99'" in by_name["wrong-challenge"]
    assert "standalone is already provided by package certify-tui" in by_name["taken"]
    assert "expected a plug-in class or a list of them, got int" in by_name["not-a-list"]
    # One line each in the app log too, where the service and the TUI write theirs.
    logged = DataDir(data).app_log.read_text()
    assert logged.count("from package certify-tui-broken skipped") == 5
    # JSON output stays JSON; the warnings go to stderr.
    listed = cli(data, "providers", "--json", pythonpath=broken_site)
    assert listed.returncode == 0 and json.loads(listed.stdout)


def test_a_third_party_task_loads_after_ours(broken_site: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(broken_site)}
    script = textwrap.dedent("""
        from certify_tui.deploy.tasks import get_task, task_types
        print(" ".join(cls.id for cls in task_types()), get_task("note").title)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["export", "command", "service", "webhook", "ssh", "note", "Write", "a", "note"]


def test_each_skipped_plugin_is_logged_once(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    entries = [(EntryPoint("gone", "certify_tui_missing_module:Thing", "test.group"), "someone-elses-plugin"),
               (EntryPoint("real", "certify_tui.challenges.http_webroot:WebrootHttpProvider", "test.group"),
                OWN_PACKAGE)]
    monkeypatch.setattr(registry, "entry_points", lambda group: entries)
    group = PluginGroup("test.group", ChallengeProvider, key=lambda cls: cls.id)
    with caplog.at_level(logging.WARNING, logger="certify_tui.plugins.registry"):
        assert list(group.classes()) == ["webroot"]
        group.classes()  # loaded once: no second line
    assert [r.getMessage() for r in caplog.records] == [
        "plug-in 'gone' from package someone-elses-plugin skipped: certify_tui_missing_module:Thing cannot be "
        "loaded (ModuleNotFoundError: No module named 'certify_tui_missing_module')"]
    assert [s.package for s in group.skipped()] == ["someone-elses-plugin"]
