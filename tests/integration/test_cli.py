"""The real `certify-tui` console script, run as a subprocess against Pebble.

Checks the new-user walkthrough end to end and the CLI contract: exit codes 0 / 1 / 2, JSON that
parses, and errors as one `certify-tui: error: ...` line on stderr, never a traceback.
"""

from __future__ import annotations

import importlib.util
import json
import os
import stat
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store
from servers.common import free_port
from servers.pebble import PebbleServer

from certify_tui import __version__

pytestmark = pytest.mark.pebble

CLI = Path(sys.executable).with_name("certify-tui")
ERROR = "certify-tui: error:"
NAMES = ["a.example.test", "b.example.test"]
ROLES = {"cert", "chain", "fullchain", "privkey"}


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "CERTIFY_TUI_DATA_DIR"}
    env.update(extra)
    return env


@dataclass
class Run:
    args: tuple[str, ...]
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def __str__(self) -> str:
        return f"certify-tui {' '.join(self.args)} -> {self.code}\nstdout:\n{self.out}\nstderr:\n{self.err}"


def cli(data_dir: Path | None, *args: str, env: dict[str, str] | None = None, timeout: float = 120) -> Run:
    argv = [str(CLI), *(["--data-dir", str(data_dir)] if data_dir is not None else []), *args]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env or _env(), timeout=timeout,
                          stdin=subprocess.DEVNULL)
    return Run(args, proc.returncode, proc.stdout, proc.stderr)


def ok(data_dir: Path | None, *args: str, **kwargs: Any) -> Run:
    run = cli(data_dir, *args, **kwargs)
    assert run.code == 0, str(run)
    assert "Traceback" not in run.err, str(run)
    return run


def clean_error(run: Run, code: int) -> str:
    """Assert a failure with exactly one stderr line, `certify-tui: error: ...`; return that line."""
    assert run.code == code, str(run)
    assert "Traceback" not in run.err, str(run)
    lines = run.err.strip().splitlines()
    assert len(lines) == 1, str(run)
    assert lines[0].startswith(ERROR), str(run)
    assert "unexpected" not in lines[0].lower(), str(run)  # a known failure, not the catch-all
    return lines[0]



def _mode(path: str | Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def add_account(data_dir: Path, pebble: PebbleServer, email: str = "admin@example.com") -> Run:
    return ok(data_dir, "account", "add", "--email", email, "--ca", pebble.directory_url,
              "--ca-bundle", pebble.https_ca_bundle, "--allow-internal-names", "--agree-tos")


def add_cert(data_dir: Path, pebble: PebbleServer, name: str, *domains: str, port: int | None = None) -> Run:
    doms = [arg for d in domains for arg in ("--domain", d)]
    return ok(data_dir, "cert", "add", name, *doms, "--option", "address=127.0.0.1",
              "--option", f"port={pebble.http_port if port is None else port}")


# -- fixtures ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def registered(pebble: PebbleServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder with one account; tests using it must not change it."""
    data = tmp_path_factory.mktemp("cli-registered") / "data"
    add_account(data, pebble)
    return data


@pytest.fixture(scope="module")
def flow(pebble: PebbleServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The new-user walkthrough, run once; each step's result is checked by its own test."""
    data = tmp_path_factory.mktemp("cli-flow") / "data"
    steps: dict[str, Any] = {"data": data}
    steps["account_add"] = add_account(data, pebble)
    steps["cert_add"] = add_cert(data, pebble, "web", *NAMES)
    steps["preview"] = ok(data, "cert", "preview", "web")
    steps["preview_json"] = ok(data, "cert", "preview", "web", "--json")
    steps["request"] = ok(data, "cert", "request", "web")
    steps["show_json"] = ok(data, "cert", "show", "web", "--json")
    steps["show"] = ok(data, "cert", "show", "web")
    steps["cert_list_json"] = ok(data, "cert", "list", "--json")
    steps["cert_list"] = ok(data, "cert", "list")
    steps["account_list_json"] = ok(data, "account", "list", "--json")
    steps["account_list"] = ok(data, "account", "list")
    return steps


# -- the walkthrough ---------------------------------------------------------------------------------


def test_version() -> None:
    run = ok(None, "--version")
    assert run.out.strip() == f"certify-tui {__version__}"


def test_account_add(flow: dict[str, Any]) -> None:
    assert "Registered admin@example.com" in flow["account_add"].out
    assert flow["account_add"].err == ""


def test_account_list(flow: dict[str, Any], pebble: PebbleServer) -> None:
    accounts = flow["account_list_json"].json()
    assert len(accounts) == 1
    acct = accounts[0]
    assert acct["email"] == "admin@example.com"
    assert acct["directory_url"] == pebble.directory_url
    assert acct["status"] == "valid"
    assert acct["tos_agreed"] is True
    assert acct["uri"].startswith(pebble.directory_url.rsplit("/", 1)[0])
    assert "account_key_pem" not in acct and "PRIVATE KEY" not in flow["account_list_json"].out
    assert "admin@example.com" in flow["account_list"].out


def test_cert_add(flow: dict[str, Any]) -> None:
    out = flow["cert_add"].out
    assert "Added web for a.example.test, b.example.test" in out
    assert "cert preview web" in out


def test_preview_text(flow: dict[str, Any], pebble: PebbleServer) -> None:
    text = flow["preview"].out
    for name in NAMES:
        assert name in text
    assert "standalone" in text
    assert f"127.0.0.1:{pebble.http_port}" in text
    assert "privkey" in text and "(0600)" in text


def test_preview_json(flow: dict[str, Any], pebble: PebbleServer) -> None:
    plan = flow["preview_json"].json()
    assert plan["certificate"] == "web"
    assert plan["identifiers"] == NAMES
    assert [v["identifier"] for v in plan["validations"]] == NAMES
    for v in plan["validations"]:
        assert (v["challenge"], v["provider"]) == ("http-01", "standalone")
        assert v["options"] == {"address": "127.0.0.1", "port": pebble.http_port}
    assert {f["role"] for f in plan["files"]} == ROLES
    assert plan["next_renewal"] is None  # not issued yet


def test_request(flow: dict[str, Any]) -> None:
    run = flow["request"]
    assert run.out.startswith("Issued web: serial ")
    assert run.err == ""  # progress only with -v


def test_show_json(flow: dict[str, Any]) -> None:
    view = flow["show_json"].json()
    assert view["name"] == "web"
    assert view["identifiers"] == NAMES
    assert view["status"] == "valid"
    assert view["failure_count"] == 0 and view["last_error"] is None
    assert view["versions"] == 1
    not_before = datetime.fromisoformat(view["not_before"])
    not_after = datetime.fromisoformat(view["not_after"])
    next_attempt = datetime.fromisoformat(view["next_attempt"])
    assert not_before.utcoffset() is not None and not_before.utcoffset().total_seconds() == 0
    assert not_before <= datetime.now(UTC) < not_after
    assert not_before < next_attempt < not_after

    files = view["files"]
    assert set(files) == ROLES
    for path in files.values():
        assert Path(path).is_file()
        assert Path(path).is_relative_to(flow["data"])
    assert _mode(files["privkey"]) == 0o600

    leaf = x509.load_pem_x509_certificate(Path(files["cert"]).read_bytes())
    assert int(view["serial"], 16) == leaf.serial_number
    assert view["serial"] == view["serial"].lower() and ":" not in view["serial"]
    assert not_before == leaf.not_valid_before_utc
    assert not_after == leaf.not_valid_after_utc
    assert serial_in(flow["request"].out, view["serial"])


def serial_in(text: str, serial: str) -> bool:
    return f"serial {serial}," in text


def test_show_text(flow: dict[str, Any]) -> None:
    text = flow["show"].out
    view = flow["show_json"].json()
    assert "web" in text and "valid" in text
    assert view["serial"] in text
    assert view["files"]["fullchain"] in text


def test_fullchain_verifies_for_both_names(flow: dict[str, Any], pebble: PebbleServer) -> None:
    files = flow["show_json"].json()["files"]
    chain = x509.load_pem_x509_certificates(Path(files["fullchain"]).read_bytes())
    assert len(chain) >= 2
    store = Store(x509.load_pem_x509_certificates(pebble.root_pem()))
    for name in NAMES:
        verifier = (PolicyBuilder().store(store).time(datetime.now(UTC))
                    .build_server_verifier(x509.DNSName(name)))
        built = verifier.verify(chain[0], chain[1:])
        assert built[0] == chain[0]
    with pytest.raises(x509.verification.VerificationError):
        (PolicyBuilder().store(store).time(datetime.now(UTC))
         .build_server_verifier(x509.DNSName("c.example.test")).verify(chain[0], chain[1:]))


def test_cert_list(flow: dict[str, Any]) -> None:
    certs = flow["cert_list_json"].json()
    assert [c["name"] for c in certs] == ["web"]
    assert certs[0]["status"] == "valid"
    assert certs[0]["identifiers"] == NAMES
    text = flow["cert_list"].out
    assert "web" in text and "a.example.test (+1)" in text and "valid" in text


def test_remove_deletes_files(pebble: PebbleServer, data_dir: Path) -> None:
    add_account(data_dir, pebble)
    add_cert(data_dir, pebble, "gone", "gone.example.test")
    ok(data_dir, "cert", "request", "gone")
    files = ok(data_dir, "cert", "show", "gone", "--json").json()["files"]
    assert all(Path(p).exists() for p in files.values())

    run = ok(data_dir, "cert", "remove", "gone")
    assert "Removed gone" in run.out
    assert not any(Path(p).exists() for p in files.values())
    assert not (data_dir / "certificates" / "gone").exists()
    assert ok(data_dir, "cert", "list", "--json").json() == []
    clean_error(cli(data_dir, "cert", "show", "gone"), 2)


def test_remove_keep_files(pebble: PebbleServer, data_dir: Path) -> None:
    add_account(data_dir, pebble)
    add_cert(data_dir, pebble, "kept", "kept.example.test")
    ok(data_dir, "cert", "request", "kept")
    files = ok(data_dir, "cert", "show", "kept", "--json").json()["files"]
    ok(data_dir, "cert", "remove", "kept", "--keep-files")
    assert all(Path(p).exists() for p in files.values())
    assert ok(data_dir, "cert", "list", "--json").json() == []


def test_verbose_request_prints_progress(pebble: PebbleServer, data_dir: Path) -> None:
    add_account(data_dir, pebble)
    add_cert(data_dir, pebble, "loud", "loud.example.test")
    run = ok(data_dir, "-v", "cert", "request", "loud")
    lines = run.err.strip().splitlines()
    assert len(lines) >= 5, run.err
    assert any("validation" in line and "[loud.example.test]" in line for line in lines)
    assert any(line.split()[1:2] == ["done"] for line in lines)
    for line in lines:
        datetime.fromisoformat(line.split()[0])  # every progress line is timestamped
    assert run.out.startswith("Issued loud")


def test_request_json(pebble: PebbleServer, data_dir: Path) -> None:
    add_account(data_dir, pebble)
    add_cert(data_dir, pebble, "js", "js.example.test")
    run = ok(data_dir, "-v", "cert", "request", "js", "--json")  # --json keeps stderr quiet even with -v
    assert run.json()["status"] == "valid"
    assert run.err == ""


# -- environment and data folder ---------------------------------------------------------------------


def test_data_dir_env_is_honoured(tmp_path: Path) -> None:
    folder = tmp_path / "from-env" / "data"
    run = ok(None, "account", "list", "--json", env=_env(CERTIFY_TUI_DATA_DIR=str(folder)))
    assert run.json() == []
    assert (folder / "certify.db").is_file()
    assert _mode(folder) == 0o700
    assert _mode(folder / "certify.db") == 0o600


def test_data_dir_option_beats_env(tmp_path: Path) -> None:
    env_dir, opt_dir = tmp_path / "env", tmp_path / "opt"
    ok(opt_dir, "account", "list", env=_env(CERTIFY_TUI_DATA_DIR=str(env_dir)))
    assert (opt_dir / "certify.db").is_file()
    assert not env_dir.exists()


def test_data_dir_created_private(data_dir: Path) -> None:
    assert not data_dir.exists()
    run = ok(data_dir, "cert", "list")
    assert "No certificates yet" in run.out
    assert _mode(data_dir) == 0o700
    assert _mode(data_dir / "certify.db") == 0o600


# -- usage errors: exit 2, one line ------------------------------------------------------------------


def _add_error(data: Path, *args: str) -> str:
    return clean_error(cli(data, "cert", "add", "x", *args), 2)


def test_invalid_domain(registered: Path) -> None:
    line = _add_error(registered, "--domain", "bad..name")
    assert "bad..name" in line


def test_wildcard_needs_dns01(registered: Path) -> None:
    assert "dns-01" in _add_error(registered, "--domain", "*.example.test")


def test_unknown_provider(registered: Path) -> None:
    line = _add_error(registered, "--domain", "a.example.test", "--provider", "nope")
    assert "'nope'" in line and "standalone" in line and "webroot" in line


def test_unknown_option_names_valid_ones(registered: Path) -> None:
    line = _add_error(registered, "--domain", "a.example.test", "--option", "nope=1")
    assert "'nope'" in line
    assert "address" in line and "port" in line


def test_option_without_value(registered: Path) -> None:
    assert "key=value" in _add_error(registered, "--domain", "a.example.test", "--option", "novalue")


def test_bad_option_type(registered: Path) -> None:
    assert "whole number" in _add_error(registered, "--domain", "a.example.test", "--option", "port=http")


def test_bad_certificate_name(registered: Path) -> None:
    line = clean_error(cli(registered, "cert", "add", "../evil", "--domain", "a.example.test"), 2)
    assert "Invalid certificate name" in line


def test_duplicate_certificate_name(flow: dict[str, Any]) -> None:
    line = clean_error(cli(flow["data"], "cert", "add", "web", "--domain", "c.example.test"), 2)
    assert "already exists" in line


def test_internal_name_refused_without_allow(pebble: PebbleServer, data_dir: Path) -> None:
    ok(data_dir, "account", "add", "--email", "pub@example.com", "--ca", pebble.directory_url,
       "--ca-bundle", pebble.https_ca_bundle, "--agree-tos")
    line = clean_error(cli(data_dir, "cert", "add", "x", "--domain", "a.example.test"), 2)
    assert "a.example.test" in line and "public suffix" in line


def test_cert_add_without_account(data_dir: Path) -> None:
    line = clean_error(cli(data_dir, "cert", "add", "x", "--domain", "example.com"), 2)
    assert "account add" in line


def test_unknown_certificate(registered: Path) -> None:
    for verb in ("show", "preview", "request", "remove"):
        line = clean_error(cli(registered, "cert", verb, "nope"), 2)
        assert "'nope'" in line


def test_argparse_usage_error(registered: Path) -> None:
    run = cli(registered, "cert", "add", "x")
    assert run.code == 2
    assert "Traceback" not in run.err
    lines = run.err.strip().splitlines()
    assert lines[0].startswith("usage: certify-tui cert add")
    assert lines[-1].startswith(ERROR) and "--domain" in lines[-1]
    assert sum(line.startswith(ERROR) for line in lines) == 1


def test_unknown_command(tmp_path: Path) -> None:
    run = cli(tmp_path / "d", "frobnicate")
    assert run.code == 2
    assert run.err.strip().splitlines()[-1].startswith(ERROR)
    assert "Traceback" not in run.err


def test_terms_of_service_must_be_agreed(pebble: PebbleServer, data_dir: Path) -> None:
    meta = requests.get(pebble.directory_url, verify=pebble.https_ca_bundle, timeout=10).json().get("meta", {})
    if not meta.get("termsOfService"):
        pytest.skip("this Pebble lists no termsOfService")
    run = cli(data_dir, "account", "add", "--email", "tos@example.com", "--ca", pebble.directory_url,
              "--ca-bundle", pebble.https_ca_bundle)
    line = clean_error(run, 2)
    assert "--agree-tos" in line and meta["termsOfService"] in line
    assert ok(data_dir, "account", "list", "--json").json() == []  # nothing registered


def test_invalid_email(pebble: PebbleServer, data_dir: Path) -> None:
    run = cli(data_dir, "account", "add", "--email", "not-an-email", "--ca", pebble.directory_url,
              "--ca-bundle", pebble.https_ca_bundle, "--agree-tos")
    assert "not-an-email" in clean_error(run, 2)


# -- operation failures: exit 1, one line ------------------------------------------------------------


def test_failing_request(pebble: PebbleServer, data_dir: Path) -> None:
    add_account(data_dir, pebble)
    # Listen where Pebble never connects, so its validation connection is refused.
    wrong_port = free_port()
    assert wrong_port != pebble.http_port
    add_cert(data_dir, pebble, "bad", "fail.example.test", port=wrong_port)
    run = cli(data_dir, "cert", "request", "bad")
    line = clean_error(run, 1)
    assert "fail.example.test" in line
    assert run.out == ""

    view = ok(data_dir, "cert", "show", "bad", "--json").json()
    assert view["status"] == "failed"
    assert view["failure_count"] == 1
    assert "fail.example.test" in view["last_error"]
    assert view["files"] is None
    assert datetime.fromisoformat(view["next_attempt"]) > datetime.now(UTC)


def test_failing_request_verbose_still_ends_with_the_error(pebble: PebbleServer, data_dir: Path) -> None:
    add_account(data_dir, pebble)
    add_cert(data_dir, pebble, "bad", "fail.example.test", port=free_port())
    run = cli(data_dir, "-v", "cert", "request", "bad")
    assert run.code == 1
    assert "Traceback" not in run.err
    errors = [line for line in run.err.splitlines() if line.startswith(ERROR)]
    assert len(errors) == 1 and "fail.example.test" in errors[0]
    assert any(" failed " in f" {line} " for line in run.err.splitlines())


def test_unknown_database_scheme(data_dir: Path) -> None:
    line = clean_error(cli(data_dir, "--database", "nosuchdb://x", "account", "list"), 2)
    assert "nosuchdb" in line


@pytest.mark.skipif(importlib.util.find_spec("psycopg2") is not None, reason="tests the no-driver case")
def test_postgres_url_without_driver(data_dir: Path) -> None:
    run = cli(data_dir, "--database", "postgresql://certify:s3cret@127.0.0.1:1/certify", "account", "list")
    line = clean_error(run, 2)
    assert "s3cret" not in run.err
    assert "psycopg" in line


def test_unreachable_ca(data_dir: Path) -> None:
    url = f"https://127.0.0.1:{free_port()}/dir"
    run = cli(data_dir, "account", "add", "--email", "a@example.com", "--ca", url, "--agree-tos")
    line = clean_error(run, 1)
    assert "Cannot reach" in line and url in line
