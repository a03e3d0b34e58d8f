"""`cert test` asks each rule's provider to probe itself (the `probe()` hook); the real probes run against real
servers in tests/integration/test_diagnostics.py. Here: the hook's default, and another package's provider
probed like ours (the example plug-in, installed by `make install`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from certify_tui.cert_test import lookups
from certify_tui.challenges.base import ChallengeProvider, ChallengeTask
from certify_tui.challenges.probing import ProbeContext
from certify_tui.keys import generate_key, key_to_pem
from certify_tui.lifecycle import Core
from certify_tui.plugins import StepLogger
from certify_tui.store.models import Account


class _Quiet(ChallengeProvider):
    id = "quiet"
    title = "Quiet"
    challenge_type = "http-01"

    def prepare(self, tasks: list[ChallengeTask], log: StepLogger) -> None:
        raise AssertionError("a probe that does nothing publishes nothing")


class _Log:
    def info(self, message: str, identifier: str | None = None) -> None:
        pass

    def step(self, step: str, message: str, identifier: str | None = None, ok: bool | None = None) -> None:
        pass


def test_the_hooks_do_nothing_by_default() -> None:
    provider = _Quiet()
    assert provider.listener() is None
    context = ProbeContext(log=_Log(), resolve=lambda name: [])
    assert provider.probe(["a.example.test"], context) == []


@pytest.fixture
def core(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Core]:
    # No DNS here: the names do not resolve (fine for dns-01); a custom CA skips CAA.
    monkeypatch.setattr(lookups, "resolve_addresses", lambda name: [])
    core = Core.open(str(tmp_path / "d"))
    Account.create(email="a@example.org", directory_url="https://ca.invalid/dir", status="valid",
                   account_key_pem=key_to_pem(generate_key()).decode(), allow_internal_names=True)
    yield core
    core.close()


def test_another_packages_dns_provider_is_probed_like_ours(core: Core, tmp_path: Path) -> None:
    records = tmp_path / "records.json"
    core.add_certificate(name="plug", domains=["*.plug.example.test", "plug.example.test"], challenge="dns-01",
                         provider="example-zonefile", options={"records_file": str(records)})

    checks = {c.name: c for c in core.test_certificate("plug")}

    probe = checks["dns-01 example-zonefile plug.example.test"]
    assert probe.ok is True, probe
    assert probe.message == "created and deleted _certify-tui-test.plug.example.test TXT"
    assert json.loads(records.read_text()) == {}  # the test record is gone again
    assert checks["resolve plug.example.test"].ok is None  # not needed for dns-01
    assert checks["CAA"].ok is None


def test_a_failing_probe_quotes_the_provider(core: Core, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder" / "records.json"
    core.add_certificate(name="plug", domains=["plug.example.test"], challenge="dns-01",
                         provider="example-zonefile", options={"records_file": str(missing)})

    probe = {c.name: c for c in core.test_certificate("plug")}["dns-01 example-zonefile plug.example.test"]

    assert probe.ok is False
    assert probe.message.startswith("could not create _certify-tui-test.plug.example.test TXT: FileNotFoundError")
    assert "example-zonefile provider's credentials" in probe.remedy
