"""Finding the configuration a running nginx master was started with, from a fake /proc tree."""

from __future__ import annotations

from pathlib import Path

from certify_tui.deploy.sites import discover_sites
from certify_tui.deploy.sites.nginx_process import parse_master_cmdline, running_configs


def _process(proc: Path, pid: int, cmdline: bytes) -> None:
    (proc / str(pid)).mkdir(parents=True)
    (proc / str(pid) / "cmdline").write_bytes(cmdline)


def test_master_title_with_prefix_and_config() -> None:
    raw = b"nginx: master process /usr/sbin/nginx -p /srv/n/ -c /srv/n/nginx.conf\0\0\0"
    assert parse_master_cmdline(raw) == ("/srv/n/nginx.conf", "/srv/n/")


def test_relative_config_is_under_the_prefix_and_attached_option() -> None:
    assert parse_master_cmdline(b"nginx: master process nginx -p /srv/n -c conf/x.conf") == \
        ("/srv/n/conf/x.conf", "/srv/n")
    assert parse_master_cmdline(b"nginx: master process nginx -c/etc/x.conf") == ("/etc/x.conf", None)


def test_untitled_argv_form() -> None:
    assert parse_master_cmdline(b"/usr/local/sbin/nginx\0-c\0/etc/y.conf\0") == ("/etc/y.conf", None)


def test_not_a_master_or_no_config() -> None:
    assert parse_master_cmdline(b"nginx: worker process\0") is None
    assert parse_master_cmdline(b"nginx: master process /usr/sbin/nginx\0") is None  # `nginx -V` covers it
    assert parse_master_cmdline(b"nginx: master process nginx -c relative.conf") is None
    assert parse_master_cmdline(b"/usr/bin/python3\0-c\0print(1)\0") is None
    assert parse_master_cmdline(b"") is None


def test_running_configs_reads_every_master_once(tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    _process(proc, 12, b"nginx: master process /usr/sbin/nginx -c /a/nginx.conf")
    _process(proc, 13, b"nginx: worker process")
    _process(proc, 40, b"nginx: master process /usr/sbin/nginx -c /b/nginx.conf")
    _process(proc, 41, b"nginx: master process /usr/sbin/nginx -c /a/nginx.conf")
    (proc / "self").mkdir()
    (proc / "99").mkdir()  # ended, or unreadable: no cmdline
    assert running_configs(proc) == [("/a/nginx.conf", None), ("/b/nginx.conf", None)]


def test_no_proc_finds_nothing(tmp_path: Path) -> None:
    assert running_configs(tmp_path / "missing") == []


def test_discover_sites_reads_the_running_masters_file(tmp_path: Path) -> None:
    conf = tmp_path / "nginx.conf"
    conf.write_text("events {}\nhttp {\n  server {\n    listen 443 ssl;\n    server_name run.example.test;\n  }\n}\n")
    proc = tmp_path / "proc"
    _process(proc, 7, f"nginx: master process /usr/sbin/nginx -c {conf}".encode())
    sites = discover_sites(None, "off", nginx_binary=str(tmp_path / "no-nginx"), proc_root=str(proc))
    ours = [s.hostnames for s in sites if s.main_config == str(conf)]  # the machine's own nginx may add more
    assert ours == [("run.example.test",)]


def test_sites_of_a_running_master_keep_its_prefix(tmp_path: Path) -> None:
    """A master started with `-p DIR` resolves relative `pid`/`error_log` paths there: `nginx -t` and the reload
    of a deployment must be given the same prefix, or they look for the pid file elsewhere."""
    conf = tmp_path / "nginx.conf"
    conf.write_text("events {}\nhttp {\n  server {\n    listen 443 ssl;\n    server_name pre.example.test;\n  }\n}\n")
    proc = tmp_path / "proc"
    _process(proc, 8, f"nginx: master process /usr/sbin/nginx -p {tmp_path}/ -c {conf}".encode())
    sites = discover_sites(None, "off", nginx_binary=str(tmp_path / "no-nginx"), proc_root=str(proc))
    ours, = [s for s in sites if s.main_config == str(conf)]
    assert ours.prefix == f"{tmp_path}/"
    given = discover_sites(str(conf), "off")  # a file named in the settings: the server's own prefix
    assert [s.prefix for s in given] == [""]
