"""`--database` URLs are read strictly: the real CLI refuses what it does not support in one line and
creates nothing, neither in the current folder nor in the data folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from certify_tui.errors import UsageError
from certify_tui.store.url import parse_database_url

CLI = Path(sys.executable).with_name("certify-tui")
ERROR = "certify-tui: error:"


def _run(cwd: Path, data: Path, url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CERTIFY_TUI_DATA_DIR"}
    return subprocess.run([str(CLI), "--data-dir", str(data), "--database", url, "cert", "list"], cwd=cwd,
                          capture_output=True, text=True, env=env, timeout=60, stdin=subprocess.DEVNULL)


def _one_line(run: subprocess.CompletedProcess[str], code: int) -> str:
    assert run.returncode == code, (run.returncode, run.stdout, run.stderr)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(ERROR), run.stderr
    assert "unexpected" not in lines[0].lower() and "Traceback" not in run.stderr, run.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("sqlite://", "names no file"),
        ("sqlite:", "no scheme"),
        ("sqlite:///", "names no file"),
        ("sqlite:///rel/x.db", "relative path"),
        ("sqlite://x.db", "names no file"),
        ("sqlite:///:memory:", "in-memory"),
        ("sqlite:////tmp/x.db?mode=ro", "options"),
        ("mysql://certify:s3cret@db.example/certify", "MySQL/MariaDB is not supported"),
        ("postgresql://", "names no server and no database"),
        ("nosuchdb://x", "'nosuchdb' is not supported"),
        ("/var/lib/certify.db", "no scheme"),
    ],
)
def test_unsupported_url_is_refused_in_one_line_and_creates_nothing(tmp_path: Path, url: str, says: str) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    line = _one_line(_run(cwd, tmp_path / "data", url), 2)
    assert says in line, line
    assert "s3cret" not in line and "postgres]" not in line  # no password, no "install the postgres extra"
    assert list(cwd.iterdir()) == []
    assert not (tmp_path / "data").exists()


def test_relative_url_suggests_the_absolute_spelling() -> None:
    with pytest.raises(UsageError, match=r"sqlite:////rel/x\.db"):
        parse_database_url("sqlite:///rel/x.db")


@pytest.mark.parametrize("where", ["file", "proc"])
def test_unwritable_sqlite_path_is_one_line(tmp_path: Path, where: str) -> None:
    if where == "file":
        (tmp_path / "plain").write_text("not a folder")
        path = tmp_path / "plain" / "x.db"
    else:
        path = Path("/proc/certify-tui-test/x.db")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    line = _one_line(_run(cwd, tmp_path / "data", f"sqlite:///{path}"), 1)
    assert str(path) in line and "Cannot create the database file" in line, line
    assert list(cwd.iterdir()) == []


def test_folder_as_database_is_refused(tmp_path: Path) -> None:
    line = _one_line(_run(tmp_path, tmp_path / "data", f"sqlite:///{tmp_path}"), 2)
    assert "is a folder" in line


def test_absolute_sqlite_url_works(tmp_path: Path) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    db_file = tmp_path / "elsewhere" / "x.db"
    run = _run(cwd, tmp_path / "data", f"sqlite:///{db_file}")
    assert run.returncode == 0, run.stderr
    assert db_file.stat().st_size > 0 and list(cwd.iterdir()) == []


@pytest.mark.parametrize("url", ["postgresql://certify:pw@db.example/certify", "postgres://db.example:5432/x"])
def test_postgres_urls_parse(url: str) -> None:
    parsed = parse_database_url(url)
    assert parsed.kind == "postgresql" and parsed.path is None
