"""dns-01 end to end: RFC 2136 updates to a real BIND, validated by a real Pebble resolving through that BIND."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from integration import helpers
from integration.helpers import add_account, leaf_of, san_names, unique, verify_issued
from servers.bind import DELEGATED_ZONE, ZONE, BindServer, start_bind_or_skip
from servers.pebble import PebbleNotFound, PebbleServer

from certify_tui.challenges.dns import zones
from certify_tui.errors import OperationError
from certify_tui.events import ProgressEvent
from certify_tui.lifecycle import Core

pytestmark = pytest.mark.pebble

CLI = Path(sys.executable).with_name("certify-tui")


@pytest.fixture(scope="module")
def bind() -> Iterator[BindServer]:
    server = start_bind_or_skip()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def dns_pebble(bind: BindServer) -> Iterator[PebbleServer]:
    """A Pebble whose validator resolves through the BIND instance."""
    try:
        server = PebbleServer(dns_server=bind.address)
    except PebbleNotFound as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{exc}; CI must provide Pebble", pytrace=False)
        pytest.skip(f"{exc}. Run `make test-servers` to fetch Pebble into .cache/pebble/")
    server.start()
    yield server
    server.stop()


def options(bind: BindServer, **extra: Any) -> dict[str, Any]:
    return {"server": bind.address, "tsig_key_name": bind.key_name, "tsig_secret": bind.key_secret,
            "tsig_algorithm": bind.key_algorithm, "propagation_timeout": 15, **extra}


def add_dns_cert(core: Core, bind: BindServer, name: str, domains: list[str], **extra: Any) -> None:
    core.add_certificate(name=name, domains=domains, challenge="dns-01", provider="rfc2136",
                         options=options(bind, **extra))


def verify_with_wildcard(files: dict[str, str], names: list[str], root_pem: bytes, data_dir: Path,
                         monkeypatch: pytest.MonkeyPatch) -> None:
    """helpers.verify_issued for a list with a wildcard. cryptography's verifier takes no '*' name, so the
    wildcard is verified through a concrete name under it (www.), after checking the SANs as issued."""
    assert sorted(san_names(leaf_of(files))) == sorted(names)
    concrete = [n.replace("*.", "www.", 1) for n in names]
    monkeypatch.setattr(helpers, "san_names", lambda cert: [n.replace("*.", "www.", 1) for n in san_names(cert)])
    verify_issued(files, concrete, root_pem, data_dir=data_dir)


def challenge_records(bind: BindServer) -> dict[str, set[str]]:
    found = {**bind.txt_records(ZONE), **bind.txt_records(DELEGATED_ZONE)}
    return {name: values for name, values in found.items() if "_acme-challenge" in name}


def test_wildcard_and_apex(core: Core, bind: BindServer, dns_pebble: PebbleServer, data_dir: Path,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    add_account(core, dns_pebble)
    names = [f"*.{ZONE}", ZONE]
    name = unique("wild")
    add_dns_cert(core, bind, name, names)
    events: list[ProgressEvent] = []

    start = time.monotonic()
    result = core.request(name, on_event=events.append)
    took = time.monotonic() - start

    print(f"\nwildcard+apex dns-01 request via rfc2136: {took:.2f} s")
    verify_with_wildcard(result.version.files, names, dns_pebble.root_pem(), data_dir, monkeypatch)
    messages = [e.message for e in events]
    assert sum(m.startswith(f"added TXT _acme-challenge.{ZONE} = ") for m in messages) == 2, messages
    assert sum(m.startswith(f"removed TXT _acme-challenge.{ZONE} = ") for m in messages) == 2, messages
    assert challenge_records(bind) == {}
    assert took < 10, took


def test_cname_delegation(core: Core, bind: BindServer, dns_pebble: PebbleServer, data_dir: Path,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zones, "RESOLVER_OVERRIDE", [bind.address])  # so the CNAME is visible to the lookup
    add_account(core, dns_pebble)
    name = unique("cname")
    add_dns_cert(core, bind, name, [f"cname.{ZONE}"])
    events: list[ProgressEvent] = []

    result = core.request(name, on_event=events.append)

    verify_issued(result.version.files, [f"cname.{ZONE}"], dns_pebble.root_pem(), data_dir=data_dir)
    messages = [e.message for e in events]
    assert any("delegated by CNAME" in m for m in messages), messages
    assert any(m.startswith("added TXT _acme-challenge.target.delegated.test = ") for m in messages), messages
    assert not any(m.startswith(f"added TXT _acme-challenge.cname.{ZONE}") for m in messages)
    assert challenge_records(bind) == {}


def test_cname_target_option(core: Core, bind: BindServer, dns_pebble: PebbleServer, data_dir: Path) -> None:
    # No resolver override: the option says where the record goes (the system resolver never sees the CNAME).
    add_account(core, dns_pebble)
    name = unique("cnameopt")
    add_dns_cert(core, bind, name, [f"cname.{ZONE}"], cname_target="_acme-challenge.target.delegated.test")

    result = core.request(name)

    verify_issued(result.version.files, [f"cname.{ZONE}"], dns_pebble.root_pem(), data_dir=data_dir)
    assert challenge_records(bind) == {}


def test_wrong_tsig_secret(core: Core, bind: BindServer, dns_pebble: PebbleServer) -> None:
    add_account(core, dns_pebble)
    name = unique("badkey")
    add_dns_cert(core, bind, name, [f"bad.{ZONE}"], tsig_secret="d3Jvbmcgc2VjcmV0IGZvciB0aGUga2V5IQ==")

    with pytest.raises(OperationError, match="the TSIG key name or secret is wrong") as err:
        core.request(name)

    assert bind.key_secret not in err.value.message
    view = core.certificate_view(core.get_certificate(name))
    assert view["versions"] == 0
    assert view["status"] != "valid"
    assert "TSIG key name or secret is wrong" in (view["last_error"] or "")
    assert challenge_records(bind) == {}


def test_diagnostics_catch_a_wrong_tsig_secret(core: Core, bind: BindServer, dns_pebble: PebbleServer) -> None:
    add_account(core, dns_pebble)
    good, bad = unique("diag"), unique("diagbad")
    add_dns_cert(core, bind, good, [f"{good}.{ZONE}"])
    add_dns_cert(core, bind, bad, [f"{bad}.{ZONE}"], tsig_secret="d3Jvbmcgc2VjcmV0IGZvciB0aGUga2V5IQ==")

    def dns_check(name: str):  # noqa: ANN202
        checks = core.test_certificate(name)
        return next(c for c in checks if c.name.startswith("dns-01 rfc2136"))

    assert dns_check(good).ok is True
    failed = dns_check(bad)
    assert failed.ok is False and "TSIG key name or secret is wrong" in failed.message and failed.remedy
    assert bind.key_secret not in failed.message
    assert challenge_records(bind) == {}  # the test record was removed again


def cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTIFY_TUI_")}
    return subprocess.run([str(CLI), "--data-dir", str(data_dir), *args], capture_output=True, text=True,
                          env=env, timeout=120, stdin=subprocess.DEVNULL)


def test_cli_flow(bind: BindServer, dns_pebble: PebbleServer, data_dir: Path,
                  monkeypatch: pytest.MonkeyPatch) -> None:
    steps = [
        ("account", "add", "--email", "dns@example.com", "--ca", dns_pebble.directory_url, "--ca-bundle",
         dns_pebble.https_ca_bundle, "--allow-internal-names", "--agree-tos"),
        ("cert", "add", "wild", "--domain", f"*.{ZONE}", "--domain", ZONE, "--challenge", "dns-01",
         "--provider", "rfc2136", "--option", f"server={bind.address}", "--option",
         f"tsig_key_name={bind.key_name}", "--option", f"tsig_secret={bind.key_secret}", "--option",
         "tsig_algorithm=hmac-sha256"),
        ("cert", "preview", "wild"),
        ("cert", "request", "wild"),
    ]
    runs = [cli(data_dir, *step) for step in steps]
    for step, run in zip(steps, runs, strict=True):
        assert run.returncode == 0, f"{step}\n{run.stdout}\n{run.stderr}"
        assert "Traceback" not in run.stderr
    assert f"RFC 2136 update to {bind.address}" in runs[2].stdout
    assert bind.key_secret not in runs[2].stdout
    files = {role: str(data_dir / "certificates" / "wild" / "live" / f"{role}.pem")
             for role in ("cert", "chain", "fullchain", "privkey")}
    verify_with_wildcard(files, [f"*.{ZONE}", ZONE], dns_pebble.root_pem(), data_dir, monkeypatch)
    assert challenge_records(bind) == {}


def test_stored_credential(bind: BindServer, dns_pebble: PebbleServer, data_dir: Path,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A stored credential drives rfc2136: the certificate holds only its name, the database file none of the
    secret, and rotating the credential reaches the certificate."""
    steps = [
        ("account", "add", "--email", "cred@example.com", "--ca", dns_pebble.directory_url, "--ca-bundle",
         dns_pebble.https_ca_bundle, "--allow-internal-names", "--agree-tos"),
        ("credential", "add", "bind", "--provider", "rfc2136", "-o", f"server={bind.address}",
         "-o", f"tsig_key_name={bind.key_name}", "-o", "tsig_secret=d3Jvbmcgc2VjcmV0IGZvciB0aGUga2V5IQ==",
         "-o", "tsig_algorithm=hmac-sha256"),
        ("credential", "set", "bind", "-o", f"tsig_secret={bind.key_secret}"),  # rotated before use
        ("credential", "test", "bind", "--domain", ZONE),
        ("cert", "add", "credwild", "--domain", f"*.{ZONE}", "--domain", ZONE, "--challenge", "dns-01",
         "--credential", "bind", "-o", "propagation_timeout=15"),
        ("cert", "preview", "credwild"),
        ("cert", "request", "credwild"),
        ("cert", "show", "credwild", "--json"),
    ]
    runs = [cli(data_dir, *step) for step in steps]
    for step, run in zip(steps, runs, strict=True):
        assert run.returncode == 0, f"{step}\n{run.stdout}\n{run.stderr}"
        assert "Traceback" not in run.stderr and bind.key_secret not in run.stdout + run.stderr
    assert "✓" in runs[3].stdout
    assert "credential bind" in runs[5].stdout
    files = {role: str(data_dir / "certificates" / "credwild" / "live" / f"{role}.pem")
             for role in ("cert", "chain", "fullchain", "privkey")}
    verify_with_wildcard(files, [f"*.{ZONE}", ZONE], dns_pebble.root_pem(), data_dir, monkeypatch)
    assert challenge_records(bind) == {}
    # In use: cannot be removed; the certificate is named.
    refused = cli(data_dir, "credential", "remove", "bind")
    assert refused.returncode == 2 and "credwild" in refused.stderr
    backup = cli(data_dir, "db", "backup")
    assert backup.returncode == 0 and "secret.key" in backup.stdout
    for path in data_dir.glob("certify.db*"):
        if path.is_file():
            content = path.read_bytes()
            assert bind.key_secret.encode() not in content, path
            assert b"PRIVATE KEY" not in content, path
