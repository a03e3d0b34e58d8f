"""The add-or-update deployment binding: which sites get a TLS listener, and the text added for them."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

from certify_tui.deploy.base import Site, site_id
from certify_tui.deploy.sites import apache, nginx, select_sites
from certify_tui.deploy.sites.nginx import EditRefused
from certify_tui.deploy.sites.tls_listener import nginx_listens
from certify_tui.model import DeploymentSettings

NGINX_PLAIN = """server {
    listen 80;
    listen [::]:80;
    server_name a.test;
    root /srv/a;
}
"""

APACHE_PLAIN = """<VirtualHost *:80>
    ServerName a.test
    ServerAlias www.a.test
    DocumentRoot "/srv/a site"
    <Directory /srv/a>
        Require all granted
    </Directory>
</VirtualHost>
"""


def _site(names: tuple[str, ...], tls: bool, ports: tuple[int, ...] = (80,), line: int = 1) -> Site:
    return Site("nginx", site_id("nginx", names, ports), names, ports, tls, "/etc/nginx/a.conf", line)


def test_nginx_listens_mirror_the_addresses() -> None:
    assert nginx_listens([["80"], ["[::]:80"]], 443) == ["443 ssl", "[::]:443 ssl"]
    assert nginx_listens([["80", "default_server"]], 443) == ["443 ssl", "[::]:443 ssl"]
    assert nginx_listens([], 8443) == ["8443 ssl", "[::]:8443 ssl"]
    assert nginx_listens([["127.0.0.1:8080"]], 8443) == ["127.0.0.1:8443 ssl"]
    assert nginx_listens([["*:80"], ["[::1]:80"]], 443) == ["443 ssl", "[::1]:443 ssl"]


def test_nginx_block_gets_listeners_and_certificate(tmp_path: Path) -> None:
    edit = nginx.set_certificate(NGINX_PLAIN, "a.conf", 1, "/live/fullchain.pem", "/live/privkey.pem", tmp_path,
                                 ("a.test",), add_tls_port=443)
    assert edit.changed and edit.text == """server {
    listen 80;
    listen [::]:80;
    server_name a.test;
    listen 443 ssl;
    listen [::]:443 ssl;
    ssl_certificate /live/fullchain.pem;
    ssl_certificate_key /live/privkey.pem;
    root /srv/a;
}
"""
    assert edit.notes == ["added listen 443 ssl at a.conf:1", "added listen [::]:443 ssl at a.conf:1"]
    site, = nginx.sites(_write(tmp_path / "n.conf", "http {\n" + edit.text + "}\n"))
    assert site.tls and site.ports == (80, 443) and site.certificate == "/live/fullchain.pem"


def test_nginx_without_the_binding_still_refuses(tmp_path: Path) -> None:
    with pytest.raises(EditRefused, match="site has no TLS listener"):
        nginx.set_certificate(NGINX_PLAIN, "a.conf", 1, "/f", "/k", tmp_path, ("a.test",))


def test_apache_gets_a_second_virtual_host(tmp_path: Path) -> None:
    edit = apache.set_certificate(APACHE_PLAIN, "a.conf", 1, "/live/fullchain.pem", "/live/privkey.pem",
                                  tmp_path, ("a.test", "www.a.test"), add_tls_port=443)
    assert edit.changed and edit.text == APACHE_PLAIN + """
<VirtualHost *:443>
    ServerName a.test
    ServerAlias www.a.test
    DocumentRoot "/srv/a site"
    SSLEngine on
    SSLCertificateFile /live/fullchain.pem
    SSLCertificateKeyFile /live/privkey.pem
</VirtualHost>
"""
    conf = _write(tmp_path / "apache2.conf", edit.text)
    plain, tls = apache.sites(conf, str(tmp_path))
    assert not plain.tls and tls.tls and tls.hostnames == plain.hostnames and tls.ports == (443,)


def test_selection_by_binding() -> None:
    plain = _site(("a.test",), False)
    update = select_sites(["a.test"], [plain])
    assert update.sites == () and update.skipped == (
        (plain, "it has no TLS listener (the 'add-or-update' deployment binding would add one)"),)
    add = select_sites(["a.test"], [plain], "add-or-update")
    assert add.add_tls == (plain,) and add.sites == (plain,) and add.skipped == ()


def test_redirect_block_of_a_tls_site_is_left_alone() -> None:
    redirect, tls = _site(("a.test",), False), _site(("a.test",), True, (443,), line=9)
    chosen = select_sites(["a.test"], [redirect, tls], "add-or-update")
    assert chosen.update == (tls,) and chosen.add_tls == ()
    assert chosen.skipped == ((redirect, "it has no TLS listener, and /etc/nginx/a.conf:9 already serves its "
                                       "names with TLS"),)


def test_partly_covered_http_site_is_listed() -> None:
    both = _site(("a.test", "b.test"), False)
    assert select_sites(["a.test"], [both], "add-or-update").skipped == (
        (both, "it is only partly covered by this certificate"),)
    assert select_sites(["c.test"], [both], "add-or-update").skipped == ()  # unrelated: not listed


def test_binding_is_stored_only_when_used() -> None:
    assert "binding" not in DeploymentSettings("auto").to_json()
    added = DeploymentSettings("auto", binding="add-or-update")
    assert added.to_json()["binding"] == "add-or-update"
    assert DeploymentSettings.from_json(added.to_json()) == added
    assert DeploymentSettings.from_json({"mode": "auto"}).binding == "update"  # rows of older versions


def _write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def _single(tmp_path: Path, site: str, binding: str, extra: str = "") -> tuple[list[str], list[str], list[str]]:
    """target_sites for a single-site certificate for a.test over an nginx with the HTTP-only a.test site."""
    from types import SimpleNamespace

    from certify_tui.deploy import target_sites

    conf = _write(tmp_path / "nginx.conf", "http {\n" + NGINX_PLAIN + extra + "}\n")
    cert = SimpleNamespace(identifiers=["a.test"], deployment=DeploymentSettings("single", site, (), binding))
    choice = target_sites(cast(Any, cert), {"nginx_config": conf, "apache_config": "off"})  # a stand-in row
    return [s.location for s in choice.sites], [s.location for s in choice.add_tls], choice.warnings


def test_single_http_site_needs_add_or_update(tmp_path: Path) -> None:
    from certify_tui.deploy import DeploymentFailed

    with pytest.raises(DeploymentFailed, match=r"has no TLS listener; the 'update' deployment binding"):
        _single(tmp_path, "nginx:a.test@80", "update")
    conf = str(tmp_path / "nginx.conf")
    assert _single(tmp_path, "nginx:a.test@80", "add-or-update") == ([f"{conf}:2"], [f"{conf}:2"], [])


def test_single_http_site_with_a_tls_twin_updates_the_twin(tmp_path: Path) -> None:
    twin = "server {\n    listen 443 ssl;\n    server_name a.test;\n}\n"
    conf = str(tmp_path / "nginx.conf")
    sites, added, notes = _single(tmp_path, "nginx:a.test@80", "add-or-update", twin)
    assert sites == [f"{conf}:8"] and added == [] and "which is updated" in notes[0]
