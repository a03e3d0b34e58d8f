"""Deploying to a real nginx (tests/servers/nginx.py): edit one server block, validate, reload, serve.

Certificates come from Pebble; what nginx presents is read back with a TLS handshake (SNI)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from integration.helpers import add_account, add_standalone_cert, unique
from servers.nginx import NginxServer, self_signed
from servers.pebble import PebbleServer

from certify_tui.deploy import DeploymentFailed, deployed_files
from certify_tui.deploy.base import DeployedFiles, Site
from certify_tui.deploy.sites import discover_sites, match_sites
from certify_tui.deploy.sites.apply import deploy_to_site
from certify_tui.lifecycle import Core

CLI = Path(sys.executable).with_name("certify-tui")
HOST = "a.example.test"
OTHER = "other.example.test"


class Log:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, message: str, identifier: str | None = None) -> None:
        self.lines.append(message)

    def step(self, step: str, message: str, identifier: str | None = None, ok: bool | None = None) -> None:
        self.lines.append(f"{step}: {message}")


def _site(nginx: NginxServer, host: str = HOST) -> Site:
    site, = [s for s in discover_sites(str(nginx.conf), "off") if s.hostnames == (host,)]
    return site


def _deploy(nginx: NginxServer, site: Site, files: DeployedFiles, **kwargs: object):
    return deploy_to_site(site, files, Log(), nginx_binary=nginx.binary, prefix=f"{nginx.prefix}/",
                          reload_command=nginx.reload_command, **kwargs)  # type: ignore[arg-type]


def _issue(core: Core, pebble: PebbleServer, name: str, *, renew: bool = False) -> DeployedFiles:
    if renew:
        outcome, = core.renew([name], force=True)
        assert outcome.action == "renewed", outcome
    else:
        core.request(name)
    cert = core.get_certificate(name)
    view = core.certificate_view(cert)
    return deployed_files(cert, view["files"], view["serial"], view["not_after"])


def _self_signed_files(folder: Path, host: str = HOST) -> DeployedFiles:
    folder.mkdir(parents=True, exist_ok=True)
    cert, key, serial = self_signed(host, folder)
    return DeployedFiles(name="manual", identifiers=(host,), cert=cert, chain=cert, fullchain=cert, privkey=key,
                         serial=format(serial, "x"), not_after="")


@pytest.mark.pebble
def test_deploy_then_renew_serves_each_new_certificate(core: Core, pebble: PebbleServer,
                                                        nginx: NginxServer) -> None:
    add_account(core, pebble)
    name = unique("web")
    add_standalone_cert(core, pebble, name, [HOST])
    files = _issue(core, pebble, name)
    sites = discover_sites(str(nginx.conf), "off")
    covered, partial = match_sites([HOST], sites)
    assert [s.hostnames for s in covered] == [(HOST,)] and partial == []
    site = covered[0]
    before_site = nginx.site_file.read_bytes()
    before_other = nginx.other_file.read_bytes()
    other_serial = nginx.tls_serial(OTHER)

    change = _deploy(nginx, site, files)

    assert change.changed and change.site == site.id and change.file == str(nginx.site_file)
    assert nginx.wait_for_serial(HOST, int(files.serial, 16)) == int(files.serial, 16)
    assert nginx.other_file.read_bytes() == before_other  # never touch another site
    assert nginx.tls_serial(OTHER) == other_serial
    assert change.backup and Path(change.backup).read_bytes() == before_site
    assert Path(change.backup).parent == files.fullchain.parent.parent / "site-backups"
    text = nginx.site_file.read_text()
    assert f"ssl_certificate {files.fullchain};" in text and f"ssl_certificate_key {files.privkey};" in text
    assert _site(nginx).certificate == str(files.fullchain)

    renewed = _issue(core, pebble, name, renew=True)
    assert renewed.serial != files.serial and renewed.fullchain == files.fullchain
    edited = nginx.site_file.read_bytes()

    again = _deploy(nginx, _site(nginx), renewed)

    assert not again.changed and again.backup is None  # same paths: the file stays, nginx reloads
    assert nginx.site_file.read_bytes() == edited
    assert nginx.wait_for_serial(HOST, int(renewed.serial, 16)) == int(renewed.serial, 16)
    assert nginx.other_file.read_bytes() == before_other


@pytest.mark.parametrize("breakage", ["syntax error elsewhere", "not a certificate"])
def test_failed_validation_restores_the_file(nginx: NginxServer, tmp_path: Path, breakage: str) -> None:
    site = _site(nginx)
    files = _self_signed_files(tmp_path / "new")
    if breakage == "syntax error elsewhere":
        (nginx.sites_dir / "zz-broken.conf").write_text("server {\n    listen 127.0.0.1:1 ssl\n")
        expected = "unexpected end of file"
    else:
        bogus = tmp_path / "bogus.pem"
        bogus.write_text("this is not a certificate\n")
        files = replace(files, fullchain=bogus)
        expected = "cannot load certificate"
    before = nginx.site_file.read_bytes()
    backups = tmp_path / "backups"

    with pytest.raises(DeploymentFailed) as failure:
        _deploy(nginx, site, files, backup_dir=backups)

    assert expected in failure.value.message
    assert f"so {nginx.site_file} was restored" in failure.value.message
    assert nginx.site_file.read_bytes() == before
    assert nginx.tls_serial(HOST) == nginx.initial_serials[HOST]  # the old certificate is still served
    assert len(list(backups.iterdir())) == 1  # the backup was taken before the edit


def test_test_only_validates_and_restores(nginx: NginxServer, tmp_path: Path) -> None:
    before = nginx.site_file.read_bytes()
    log = Log()
    change = deploy_to_site(_site(nginx), _self_signed_files(tmp_path), log, nginx_binary=nginx.binary,
                            backup_dir=tmp_path / "b", test_only=True)
    assert change.changed
    assert nginx.site_file.read_bytes() == before
    assert any("test only" in line for line in log.lines)


def test_default_commands_work_without_prefix(nginx: NginxServer, tmp_path: Path) -> None:
    """What the lead's deploy_certificate calls: no binary, prefix or reload command given."""
    files = _self_signed_files(tmp_path)
    change = deploy_to_site(_site(nginx), files, Log(), nginx_binary=nginx.binary, backup_dir=tmp_path / "b")
    assert change.changed
    assert nginx.wait_for_serial(HOST, int(files.serial, 16)) == int(files.serial, 16)


def test_site_without_tls_listener_is_refused(nginx: NginxServer, tmp_path: Path) -> None:
    plain = nginx.sites_dir / "plain.conf"
    plain.write_text(f"server {{\n    listen 127.0.0.1:{nginx.port};\n    server_name plain.example.test;\n}}\n")
    before = plain.read_bytes()
    with pytest.raises(DeploymentFailed, match=r"site has no TLS listener; add `listen 443 ssl` first"):
        _deploy(nginx, _site(nginx, "plain.example.test"), _self_signed_files(tmp_path, "plain.example.test"))
    assert plain.read_bytes() == before


def test_cli_lists_both_sites(nginx: NginxServer, tmp_path: Path) -> None:
    out = subprocess.run([str(CLI), "--data-dir", str(tmp_path / "data"), "sites", "--json", "--nginx-config",
                          str(nginx.conf), "--apache-config", "off"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    sites = json.loads(out.stdout)
    assert [(s["server"], s["hostnames"], s["ports"], s["tls"]) for s in sites] == [
        ("nginx", [HOST], [nginx.port], True), ("nginx", [OTHER], [nginx.port], True)]
    assert sites[0]["id"] == f"nginx:{HOST}@{nginx.port}" and sites[0]["location"] == f"{nginx.site_file}:2"
    assert sites[0]["certificate"].endswith(f"{HOST}.crt")

    table = subprocess.run([str(CLI), "--data-dir", str(tmp_path / "data"), "sites", "--nginx-config",
                            str(nginx.conf), "--apache-config", "off"], capture_output=True, text=True, timeout=60)
    assert table.returncode == 0 and HOST in table.stdout and OTHER in table.stdout


@pytest.mark.pebble
def test_auto_mode_request_deploys_to_nginx(core: Core, pebble: PebbleServer, nginx: NginxServer) -> None:
    """End to end through Core: settings name the configuration, the Auto mode picks the covered site."""
    core.update_settings({"nginx_config": str(nginx.conf), "apache_config": "off"})
    add_account(core, pebble)
    name = unique("auto")
    add_standalone_cert(core, pebble, name, [HOST], deployment_mode="auto")
    before_other = nginx.other_file.read_bytes()

    result = core.request(name)

    assert result.deployed, result.deploy_error
    serial = int(core.certificate_view(core.get_certificate(name))["serial"], 16)
    assert nginx.wait_for_serial(HOST, serial) == serial
    assert nginx.other_file.read_bytes() == before_other
