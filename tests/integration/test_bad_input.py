"""Bad input at the real `certify-tui` console script (issue 9, items 14, 15, 16 and 18).

Every refusal is one `certify-tui: error: ...` line on stderr with exit code 2, at the time of input;
one broken certificate in the database never breaks the list.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from integration.helpers import add_account as add_account_in_process
from integration.helpers import open_core
from integration.test_cli import Run, add_account, clean_error, cli, ok
from servers.common import free_port
from servers.pebble import PebbleServer

from certify_tui.lifecycle import Core
from certify_tui.service.api import ApiServer
from certify_tui.service.discovery import read_token
from certify_tui.store.models import ManagedCertificate

pytestmark = pytest.mark.pebble


@pytest.fixture(scope="module")
def registered(pebble: PebbleServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder with one account; each test adds certificates under its own names."""
    data = tmp_path_factory.mktemp("bad-input") / "data"
    add_account(data, pebble)
    return data


def add(data: Path, name: str, *options: str, domain: str = "a.example.test") -> Run:
    """`cert add NAME --domain D -o ...` (standalone on a local port unless options say otherwise)."""
    opts = [arg for o in options for arg in ("-o", o)]
    return cli(data, "cert", "add", name, "--domain", domain, *opts)


def names_listed(data: Path) -> list[str]:
    return [view["name"] for view in ok(data, "cert", "list", "--json").json()]


def insert_legacy_row(core: Core, name: str, account: object) -> None:
    """A row an older certify-tui accepted, written straight to the store (no validation today)."""
    ManagedCertificate.create(name=name, account=account, primary_identifier=f"{name[:20]}.example.test",
                              identifiers=[f"{name[:20]}.example.test"])


# -- 14: long names ----------------------------------------------------------------------------------


def test_name_longer_than_64_characters_is_refused(registered: Path) -> None:
    line = clean_error(add(registered, "n" * 65, "port=8080"), 2)
    assert "64" in line and "65" in line
    ok(registered, "cert", "add", "m" * 64, "--domain", "m.example.test", "-o", "port=8080")
    assert "m" * 64 in names_listed(registered)


@pytest.fixture
def legacy(pebble: PebbleServer, data_dir: Path) -> Iterator[Path]:
    """A database from an older version: a healthy certificate next to a 256-character name (no file
    system stores a folder that long) and a name with a space (not one safe path component)."""
    for core in open_core(data_dir):
        account = add_account_in_process(core, pebble)
        core.add_certificate(name="healthy", domains=["healthy.example.test"],
                             options={"address": "127.0.0.1", "port": 8080}, provider="standalone")
        insert_legacy_row(core, "n" * 256, account)
        insert_legacy_row(core, "my cert", account)
    yield data_dir


def test_a_broken_certificate_never_breaks_the_list(legacy: Path) -> None:
    views = {view["name"]: view for view in ok(legacy, "cert", "list", "--json").json()}
    assert set(views) == {"healthy", "n" * 256, "my cert"}
    assert views["healthy"]["status"] == "new" and views["healthy"]["problem"] is None
    for broken in ("n" * 256, "my cert"):
        assert views[broken]["status"] == "error", views[broken]
        assert views[broken]["problem"], views[broken]
        assert set(views[broken]) == set(views["healthy"])  # the same fields, so faces need no special case
    assert "too long" in views["n" * 256]["problem"].lower()
    table = ok(legacy, "cert", "list").out
    assert "healthy" in table and "my cert" in table and "error" in table


def test_a_broken_certificate_can_be_removed(legacy: Path) -> None:
    for name in ("n" * 256, "my cert"):
        run = ok(legacy, "cert", "remove", name)
        assert "Removed" in run.out
    assert names_listed(legacy) == ["healthy"]
    assert (legacy / "certificates").is_dir()  # nothing outside the certificate's own folder was touched


def test_api_and_status_list_despite_a_broken_certificate(legacy: Path) -> None:
    for core in open_core(legacy):
        server = ApiServer(core, port=free_port()).start()
        try:
            headers = {"Authorization": f"Bearer {read_token(legacy)}"}
            session = requests.Session()
            session.trust_env = False
            answer = session.get(f"{server.url}/api/certificates", headers=headers, timeout=30)
            assert answer.status_code == 200, answer.text
            assert sorted(v["name"] for v in answer.json()) == sorted(["healthy", "my cert", "n" * 256])
            status = ok(legacy, "status", "--json").json()
            assert status["reachable"] is True and status["error"] is None
            assert status["certificates"]["total"] == 3
        finally:
            server.stop()


# -- 15: names that differ only in case --------------------------------------------------------------


def test_names_differing_only_in_case_collide(registered: Path) -> None:
    ok(registered, "cert", "add", "case1", "--domain", "case1.example.test", "-o", "port=8080")
    line = clean_error(add(registered, "CASE1", "port=8080"), 2)
    assert "case1" in line and "already exists" in line
    assert [n for n in names_listed(registered) if n.lower() == "case1"] == ["case1"]


def test_lookup_ignores_case(registered: Path) -> None:
    ok(registered, "cert", "add", "Lookup2", "--domain", "lookup2.example.test", "-o", "port=8080")
    assert ok(registered, "cert", "show", "lookup2", "--json").json()["name"] == "Lookup2"
    assert "Removed Lookup2" in ok(registered, "cert", "remove", "LOOKUP2").out
    assert "Lookup2" not in names_listed(registered)


def test_the_store_refuses_a_case_collision(registered: Path) -> None:
    """Two processes that both passed the check: the second insert fails in the database itself."""
    ok(registered, "cert", "add", "race3", "--domain", "race3.example.test", "-o", "port=8080")
    db = sqlite3.connect(registered / "certify.db")
    try:
        row = db.execute("SELECT * FROM managed_certificate WHERE name = 'race3'").fetchone()
        columns = [c[1] for c in db.execute("PRAGMA table_info(managed_certificate)")]
        values = dict(zip(columns, row, strict=True))
        values.update(id=None, name="RACE3")
        with pytest.raises(sqlite3.IntegrityError):
            db.execute(f"INSERT INTO managed_certificate ({', '.join(columns)}) "
                       f"VALUES ({', '.join('?' * len(columns))})", list(values.values()))
    finally:
        db.close()


def test_migration_keeps_existing_case_duplicates(pebble: PebbleServer, data_dir: Path) -> None:
    """A database that already holds dup and DUP upgrades; both stay reachable by their exact names,
    another spelling is ambiguous, and no third spelling can be added."""
    for core in open_core(data_dir):
        account = add_account_in_process(core, pebble)
        # Back to schema 3, as an older certify-tui left it (no case-insensitive index), then the duplicates.
        core.db.execute_sql("DROP INDEX IF EXISTS managed_certificate_name_nocase")
        core.db.execute_sql("DELETE FROM schema_version WHERE version > 3")
        insert_legacy_row(core, "dup", account)
        insert_legacy_row(core, "DUP", account)
    assert sorted(names_listed(data_dir)) == ["DUP", "dup"]
    assert ok(data_dir, "cert", "show", "DUP", "--json").json()["name"] == "DUP"
    assert ok(data_dir, "cert", "show", "dup", "--json").json()["name"] == "dup"
    line = clean_error(cli(data_dir, "cert", "show", "Dup"), 2)
    assert "DUP" in line and "dup" in line
    clean_error(cli(data_dir, "cert", "add", "Dup", "--domain", "x.example.test"), 2)
    ok(data_dir, "cert", "remove", "DUP")
    assert names_listed(data_dir) == ["dup"]
    assert ok(data_dir, "cert", "show", "Dup", "--json").json()["name"] == "dup"


# -- 16: options that could only fail later ----------------------------------------------------------


@pytest.mark.parametrize(("options", "words"), [
    (("address=999.1.1.1",), ("address", "999.1.1.1")),
    (("address=",), ("address",)),
    (("port=80", "port=81"), ("port", "twice")),
])
def test_standalone_options_checked_at_input(registered: Path, options: tuple[str, ...],
                                             words: tuple[str, ...]) -> None:
    line = clean_error(add(registered, "opt4", *options), 2)
    for word in words:
        assert word in line, line
    assert "opt4" not in names_listed(registered)


def test_relative_webroot_is_refused(registered: Path, tmp_path: Path) -> None:
    line = clean_error(cli(registered, "cert", "add", "webroot5", "--domain", "w.example.test",
                           "--provider", "webroot", "-o", "path=../../etc"), 2)
    assert "path" in line and "absolute" in line and "../../etc" in line
    missing = tmp_path / "no-such-folder"
    line = clean_error(cli(registered, "cert", "add", "webroot5", "--domain", "w.example.test",
                           "--provider", "webroot", "-o", f"path={missing}"), 2)
    assert "path" in line and str(missing) in line and "does not exist" in line
    ok(registered, "cert", "add", "webroot5", "--domain", "w.example.test", "--provider", "webroot",
       "-o", f"path={tmp_path}")


def test_nginx_config_must_exist(registered: Path, tmp_path: Path) -> None:
    line = clean_error(cli(registered, "settings", "set", "nginx_config=/nonexistent"), 2)
    assert "nginx_config" in line and "/nonexistent" in line and "does not exist" in line
    conf = tmp_path / "nginx.conf"
    conf.write_text("events {}\n")
    ok(registered, "settings", "set", f"nginx_config={conf}")
    ok(registered, "settings", "set", "nginx_config=off")
    ok(registered, "settings", "set", "nginx_config=")
    line = clean_error(cli(registered, "settings", "set", "pool_size=2", "pool_size=3"), 2)
    assert "pool_size" in line and "twice" in line


# -- 18: untrusted text in errors --------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["two\nlines", "esc\x1b[2Jape", "del\x7f", "c1\x9bcontrol", "bidi\u202eevil"])
def test_control_characters_are_escaped_in_errors(registered: Path, bad: str) -> None:
    for run in (cli(registered, "cert", "show", bad), cli(registered, "cert", "add", bad, "--domain", bad),
                cli(registered, "cert", "add", "ctl6", "--domain", "c.example.test", "-o", f"{bad}=1"),
                cli(registered, "providers", "http-01", "--provider", bad)):
        clean_error(run, 2)
        for char in ("\x1b", "\x7f", "\x9b", "\u202e"):
            assert char not in run.err, repr(run.err)
        assert run.out == ""


def test_unknown_provider_error_goes_to_stderr(registered: Path) -> None:
    run = cli(registered, "providers", "--provider", "nosuch")
    line = clean_error(run, 2)
    assert "nosuch" in line
    assert run.out == ""
