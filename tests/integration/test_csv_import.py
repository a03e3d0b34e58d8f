"""`certify-tui import csv` and `export csv` as a user runs them (the real console script), with accounts
registered at a real Pebble: 1,000 rows import; one bad row imports nothing and is named by its line and
column; a typo in a column name is refused; names already managed are conflicts (or replaced); an export
imported into a fresh data folder gives the same certificates back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from integration.helpers import add_account, open_core, unique
from servers.pebble import PebbleServer

pytestmark = pytest.mark.pebble

CLI = Path(sys.executable).with_name("certify-tui")
CREDENTIAL = {"server": "127.0.0.1", "tsig_key_name": "csv.", "tsig_secret": "c2VjcmV0LWNzdg=="}
# What an import must carry over (the rest is state: status, dates, ids).
SETTINGS = ("name", "identifiers", "primary_identifier", "account", "key_type", "challenge_rules", "deployment",
            "renewal", "auto_renew", "tags", "status")


def run(data_dir: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CERTIFY_TUI_DATA_DIR"}
    proc = subprocess.run([str(CLI), "--data-dir", str(data_dir), *args], capture_output=True, text=True,
                          env=env, timeout=300, input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def installation(data_dir: Path, pebble: PebbleServer, email: str) -> Path:
    """A data folder with an account at Pebble (registered) and the stored DNS credential 'dns-main'."""
    for core in open_core(data_dir):
        add_account(core, pebble, email)
        core.add_credential("dns-main", "rfc2136", dict(CREDENTIAL))
    return data_dir


def rows_csv(n: int, *, bad_line: int | None = None) -> str:
    """n rows mixing the default rule, http-01 standalone and dns-01 through the credential; the row on
    `bad_line` (the file's line number, the header being line 1) asks for an impossible renewal percent."""
    lines = ["name,domains,primary_domain,challenge,provider,credential,key_type,deploy,auto_renew,"
             "renew_percent,tags"]
    for i in range(n):
        percent = "150" if len(lines) + 1 == bad_line else str(50 + i % 40)
        lines.append([f"site{i},site{i}.example.test;www.site{i}.example.test,,,,,ec256,files,yes,{percent},web",
                      f"app{i},app{i}.example.test,,http-01,standalone,,rsa2048,none,no,{percent},app;blue",
                      f"wild{i},*.w{i}.example.test,w{i}.example.test,dns-01,,dns-main,ec384,files,1,{percent},"
                      "dns"][i % 3])
    return "\n".join(lines) + "\n"


def views(data_dir: Path, *args: str) -> list[dict[str, Any]]:
    proc = run(data_dir, "cert", "list", "--json", *args)
    assert proc.returncode == 0, proc.stderr
    result: list[dict[str, Any]] = json.loads(proc.stdout)
    return result


def test_csv_import_of_1000_rows(pebble: PebbleServer, tmp_path: Path) -> None:
    data = installation(tmp_path / "data", pebble, f"{unique('csv')}@example.com")
    path = tmp_path / "sites.csv"
    path.write_text(rows_csv(1000), encoding="utf-8")
    proc = run(data, "import", "csv", str(path), "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert (result["rows"], result["imported"], result["dry_run"]) == (1000, True, False)
    assert len(result["added"]) == 1000 and not result["invalid"] and not result["conflicts"]
    stored = {v["name"]: v for v in views(data)}
    assert len(stored) == 1000
    wild = stored["wild2"]
    assert wild["identifiers"] == ["w2.example.test", "*.w2.example.test"]  # primary_domain first
    assert wild["challenge_rules"] == [{"challenge": "dns-01", "credential": "dns-main", "options": {},
                                        "pattern": "*", "provider": "rfc2136"}]
    assert (wild["key_type"], wild["renewal"], wild["tags"]) == ("ec384", {"percent": 52}, ["dns"])
    app = stored["app1"]
    assert (app["auto_renew"], app["deployment"]["mode"], app["tags"]) == (False, "none", ["app", "blue"])
    assert {v["name"] for v in views(data, "--tag", "dns")} == {f"wild{i}" for i in range(2, 1000, 3)}
    assert len(views(data, "--tag", "APP", "--tag", "blue")) == 333  # every tag, in any case


def test_csv_one_bad_row_imports_nothing_and_names_it(pebble: PebbleServer, tmp_path: Path) -> None:
    data = installation(tmp_path / "data", pebble, f"{unique('csv')}@example.com")
    path = tmp_path / "sites.csv"
    path.write_text(rows_csv(60, bad_line=28), encoding="utf-8")

    proc = run(data, "import", "csv", str(path))
    assert proc.returncode == 2
    assert "line 28 (wild26): renew_percent: Renewal percent must be between 1 and 99" in proc.stdout
    assert proc.stderr.strip() == ("certify-tui: error: 1 of 60 rows are invalid: nothing was imported. Fix them, "
                                   "or give --skip-invalid to import the others.")
    assert views(data) == []

    proc = run(data, "import", "csv", str(path), "--json")
    assert proc.returncode == 2
    result = json.loads(proc.stdout)
    assert result["imported"] is False and "nothing was imported" in result["error"]
    assert result["invalid"] == [{"line": 28, "name": "wild26", "column": "renew_percent", "field": "renewal",
                                  "error": "Renewal percent must be between 1 and 99 (75 renews a 90-day "
                                           "certificate on day 67)."}]
    assert views(data) == []

    proc = run(data, "import", "csv", str(path), "--dry-run", "--skip-invalid")
    assert proc.returncode == 0 and "Would add 59" in proc.stdout and "dry run: nothing was written" in proc.stdout
    assert views(data) == []
    proc = run(data, "import", "csv", str(path), "--skip-invalid", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["imported"] is True
    assert len(views(data)) == 59 and "wild26" not in {v["name"] for v in views(data)}


def test_csv_rows_fail_for_the_reasons_cert_add_fails(pebble: PebbleServer, tmp_path: Path) -> None:
    data = installation(tmp_path / "data", pebble, f"{unique('csv')}@example.com")
    text = ("Name,Domains,Credential,Challenge,Account,Site,Deploy,Tags\n"  # any case
            "ok,ok.example.test,,,,,,\n"
            "\n"  # blank lines are skipped (and counted)
            "nocred,n.example.test,dns-other,dns-01,,,,\n"
            '"quoted,name",q.example.test,,,,,,\n'
            "wild,*.example.test,,,,,,\n"
            "who,w.example.test,,,nobody@example.com,,,\n"
            "site,s.example.test,,,,site1,files,\n"
            "tag,t.example.test,,,,,,=cmd()\n"
            "ok,again.example.test,,,,,,\n"
            "cells,c.example.test,,,,,,,extra\n")
    proc = run(data, "import", "csv", "-", "--json", stdin=text)
    assert proc.returncode == 2
    problems = {(p["line"], p["column"]) for p in json.loads(proc.stdout)["invalid"]}
    assert problems == {(4, "credential"), (5, "name"), (6, "challenge"), (7, "account"), (8, "site"),
                        (9, "tags"), (10, "name"), (11, None)}
    assert views(data) == []


def test_csv_unknown_or_missing_columns_are_refused(pebble: PebbleServer, tmp_path: Path) -> None:
    data = installation(tmp_path / "data", pebble, f"{unique('csv')}@example.com")
    proc = run(data, "import", "csv", "-", stdin="name,domains,tgas\nweb,web.example.test,prod\n")
    assert proc.returncode == 2
    assert "Unknown column 'tgas' (did you mean 'tags'?) in the header (line 1)" in proc.stderr
    proc = run(data, "import", "csv", "-", stdin="name,tags\nweb,prod\n")
    assert proc.returncode == 2 and "no 'domains' column" in proc.stderr
    proc = run(data, "import", "csv", str(tmp_path / "missing.csv"))
    assert proc.returncode == 2 and "Cannot read" in proc.stderr
    assert views(data) == []


def test_csv_names_already_managed_are_skipped_or_replaced(pebble: PebbleServer, tmp_path: Path) -> None:
    data = installation(tmp_path / "data", pebble, f"{unique('csv')}@example.com")
    first = "name,domains,renew_percent,tags\nweb,web.example.test,70,prod\n"
    assert run(data, "import", "csv", "-", stdin=first).returncode == 0
    assert run(data, "cert", "task", "add", "web", "--type", "command", "-o", "command=true").returncode == 0

    again = "name,domains,renew_percent,tags\nWEB,web.example.test;www.example.test,60,\nnew,n.example.test,,\n"
    proc = run(data, "import", "csv", "-", "--json", stdin=again)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert [c["line"] for c in result["conflicts"]] == [2] and result["added"] == ["new"]
    (web,) = [v for v in views(data) if v["name"] == "web"]
    assert (web["renewal"], web["tags"]) == ({"percent": 70}, ["prod"])

    proc = run(data, "import", "csv", "-", "--replace", "--json", stdin=again)
    result = json.loads(proc.stdout)
    assert (result["replaced"], result["added"], result["conflicts"]) == (["web", "new"], [], [])
    (web,) = [v for v in views(data) if v["name"] == "web"]
    assert (web["renewal"], web["tags"]) == ({"percent": 60}, [])
    assert web["identifiers"] == ["web.example.test", "www.example.test"]
    assert len(web["deployment"]["tasks"]) == 1  # what the CSV has no column for stays


def test_csv_export_then_import_into_a_fresh_data_folder(pebble: PebbleServer, tmp_path: Path) -> None:
    email = f"{unique('csv')}@example.com"
    first = installation(tmp_path / "first", pebble, email)
    path = tmp_path / "sites.csv"
    path.write_text(rows_csv(30), encoding="utf-8")
    assert run(first, "import", "csv", str(path)).returncode == 0
    added = run(first, "cert", "add", "by-hand", "-d", "h.example.test", "-d", "www.h.example.test",
                "--challenge", "dns-01", "--credential", "dns-main", "--key-type", "rsa3072", "--deploy", "none",
                "--renew-percent", "80", "--no-auto-renew", "--tag", "handmade", "--tag", "eu-west")
    assert added.returncode == 0, added.stderr

    exported = run(first, "export", "csv", str(tmp_path / "out.csv"), "--json")
    assert exported.returncode == 0, exported.stderr
    assert json.loads(exported.stdout)["count"] == 31
    standard_output = run(first, "export", "csv")
    assert standard_output.stdout == (tmp_path / "out.csv").read_text(encoding="utf-8")
    assert standard_output.stderr == ""  # every setting of these is in the file

    second = installation(tmp_path / "second", pebble, email)  # a new server: its own account, same email
    proc = run(second, "import", "csv", str(tmp_path / "out.csv"), "--json")
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)["added"]) == 31

    def settings(data: Path) -> list[dict[str, Any]]:
        return [{key: view[key] for key in SETTINGS} for view in views(data)]

    assert settings(second) == settings(first)
    assert run(second, "export", "csv").stdout == standard_output.stdout

    # What a row cannot hold is said, per certificate, on stderr.
    assert run(first, "cert", "set", "by-hand", "--renew-days-before", "20").returncode == 0
    assert run(first, "cert", "rule", "by-hand", "--pattern", "www.h.example.test", "--challenge", "http-01",
               "--provider", "standalone", "-o", "port=8080").returncode == 0
    notes = run(first, "export", "csv", "--tag", "handmade")
    assert notes.stdout.count("\n") == 2  # the header and by-hand
    assert notes.stderr == ("certify-tui: note: by-hand: not in the file: 1 more validation rule(s) "
                            "(www.h.example.test); renewal days before 20\n")
