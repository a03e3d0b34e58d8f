"""Finding sites in nginx and Apache configurations, matching them to certificates, and editing one block."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from certify_tui.deploy.base import Site
from certify_tui.deploy.sites import ConfigError, apache, discover_sites, match_sites, nginx, sites_for
from certify_tui.deploy.sites.nginx import EditRefused
from certify_tui.errors import UsageError

DATA = Path(__file__).resolve().parents[1] / "data"
NGINX = DATA / "nginx" / "debian"
APACHE_DEBIAN = DATA / "apache" / "debian"
APACHE_RHEL = DATA / "apache" / "rhel"


def _by_location(sites: list[Site], root: Path) -> dict[str, Site]:
    return {f"{Path(s.config_file).relative_to(root)}:{s.line}": s for s in sites}


# --- nginx ---------------------------------------------------------------------------------------


def test_nginx_debian_layout() -> None:
    found = _by_location(nginx.sites(NGINX / "nginx.conf"), NGINX)
    # Includes in order: conf.d/*.conf, then sites-enabled/* (sorted; the symlink keeps its own path).
    assert list(found) == ["conf.d/legacy.conf:2", "conf.d/legacy.conf:8", "conf.d/wildcard.conf:1",
                           "sites-enabled/default:3", "sites-enabled/example.com.conf:2",
                           "sites-enabled/example.com.conf:9", "sites-enabled/snakeoil.conf:1"]
    tls = found["sites-enabled/example.com.conf:9"]
    assert tls.server == "nginx" and tls.tls
    assert tls.hostnames == ("example.com", "www.example.com")  # two names over two lines
    assert tls.ports == (443,)  # `[::]:443 ssl` is the same port; `443 quic` is ignored
    assert tls.certificate == "/etc/letsencrypt/live/example.com/fullchain.pem"  # quotes removed
    assert tls.key == "/etc/letsencrypt/live/example.com/privkey.pem"
    assert tls.id == "nginx:example.com,www.example.com@443"  # what it is, not where
    assert tls.location == f"{NGINX}/sites-enabled/example.com.conf:9"
    assert tls.main_config == str(NGINX / "nginx.conf")

    redirect = found["sites-enabled/example.com.conf:2"]
    assert not redirect.tls and redirect.ports == (80,) and redirect.certificate is None

    default = found["sites-enabled/default:3"]
    assert default.hostnames == () and default.ports == (80,)  # `_` is not a name

    wildcard = found["conf.d/wildcard.conf:1"]
    assert wildcard.hostnames == ("example.org", "*.example.org", "*.example.net")  # `.example.org` is both
    assert wildcard.ports == (8443,) and wildcard.tls
    assert wildcard.certificate == str(NGINX / "certs" / "wildcard.crt")  # relative to the conf folder

    legacy = found["conf.d/legacy.conf:2"]
    assert legacy.tls  # `ssl on;`
    assert legacy.certificate == "/etc/ssl/certs/fallback.pem"  # inherited from the http block

    regex = found["conf.d/legacy.conf:8"]
    assert regex.hostnames[1] == "static.example.com" and regex.hostnames[0].startswith("~")

    snakeoil = found["sites-enabled/snakeoil.conf:1"]
    assert snakeoil.certificate == "/etc/ssl/certs/ssl-cert-snakeoil.pem"  # from the included snippet


def test_nginx_stream_and_upstream_servers_are_not_sites() -> None:
    found = nginx.sites(NGINX / "nginx.conf")
    assert all(5432 not in s.ports for s in found)
    assert all(s.config_file != str(NGINX / "nginx.conf") for s in found)


def test_nginx_tokenizer_quotes_comments_variables() -> None:
    tree = nginx.parse('a "x; {y}" \'q\\\'s\' ${host}z; # c { ;\nb { c 1; }\n')
    assert [(d.name, d.args) for d in tree] == [("a", ["x; {y}", "q's", "${host}z"]), ("b", [])]
    assert tree[1].line == 2 and tree[1].block is not None and tree[1].block[0].args == ["1"]


@pytest.mark.parametrize(("text", "line"), [("http {\n server {\n", 1), ("a 1;\n}\n", 2), ("a 1", 1),
                                            ('a "open;\n', 1)])
def test_nginx_syntax_errors_name_the_line(text: str, line: int) -> None:
    with pytest.raises(ConfigError, match=rf"f\.conf(:{line})?:"):
        nginx.parse(text, "f.conf")


def test_nginx_include_loop_and_missing_include(tmp_path: Path) -> None:
    (tmp_path / "nginx.conf").write_text("http { include missing/*.conf; include nope.conf; include a.conf; }\n")
    (tmp_path / "a.conf").write_text("server { listen 443 ssl; server_name A.Example.COM; }\ninclude a.conf;\n")
    with pytest.raises(ConfigError, match="include loop"):
        nginx.sites(tmp_path / "nginx.conf")
    (tmp_path / "a.conf").write_text("server { listen 443 ssl; server_name A.Example.COM; }\n")
    site, = nginx.sites(tmp_path / "nginx.conf")
    assert site.hostnames == ("a.example.com",) and site.line == 1


def test_nginx_listen_forms() -> None:
    assert nginx.listen_port(["443", "ssl"]) == 443
    assert nginx.listen_port(["[::]:8443", "ssl"]) == 8443
    assert nginx.listen_port(["[::1]"]) == 80
    assert nginx.listen_port(["127.0.0.1:8080"]) == 8080
    assert nginx.listen_port(["*:80"]) == 80
    assert nginx.listen_port(["localhost"]) == 80
    assert nginx.listen_port(["unix:/run/x.sock"]) is None
    assert nginx.is_tls_listen(["443", "ssl", "http2"]) and not nginx.is_tls_listen(["443", "quic"])


def test_nginx_version_output() -> None:
    conf, prefix = nginx.parse_version_output(
        "nginx version: nginx/1.22.1\nconfigure arguments: --prefix=/usr/share/nginx --conf-path=/etc/nginx/nginx.conf")
    assert (conf, prefix) == ("/etc/nginx/nginx.conf", "/usr/share/nginx")
    assert nginx.parse_version_output("configure arguments: --prefix=/opt/ng") == ("/opt/ng/conf/nginx.conf", "/opt/ng")


# --- Apache --------------------------------------------------------------------------------------


def test_apache_debian_layout() -> None:
    found = _by_location(apache.sites(APACHE_DEBIAN / "apache2.conf"), APACHE_DEBIAN)
    # sites-available/wild.conf is not enabled, so it is not found.
    assert list(found) == ["sites-enabled/000-default.conf:1", "sites-enabled/example-ssl.conf:2",
                           "sites-enabled/wildcard.conf:1"]
    plain = found["sites-enabled/000-default.conf:1"]
    assert plain.hostnames == ("www.example.com", "example.com") and plain.ports == (80,) and not plain.tls

    ssl = found["sites-enabled/example-ssl.conf:2"]  # inside <IfModule mod_ssl.c>, lowercase directives
    assert ssl.server == "apache" and ssl.tls  # `sslengine On`
    assert ssl.hostnames == ("www.example.com", "example.com", "static.example.com")  # `\` continuation
    assert ssl.ports == (443,)
    assert ssl.certificate == "/etc/ssl/certs/example site.pem"  # quoted, with a space
    assert ssl.key == "/etc/ssl/private/example.key"

    wild = found["sites-enabled/wildcard.conf:1"]
    assert wild.hostnames == ("wildcard.example.org", "*.example.org", "*.example.net")  # scheme/port dropped
    assert wild.ports == (8443,)
    assert wild.certificate == str(APACHE_DEBIAN / "ssl" / "wildcard.crt")  # relative to ServerRoot


@pytest.fixture
def rhel(tmp_path: Path) -> Path:
    """The RHEL sample with its ServerRoot pointed at a copy (it says /etc/httpd)."""
    root = tmp_path / "httpd"
    shutil.copytree(APACHE_RHEL, root, symlinks=True)
    conf = root / "conf" / "httpd.conf"
    conf.write_text(conf.read_text().replace('ServerRoot "/etc/httpd"', f'ServerRoot "{root}"'))
    return root


def test_apache_rhel_layout(rhel: Path) -> None:
    found = _by_location(apache.sites(rhel / "conf" / "httpd.conf"), rhel)
    assert list(found) == ["conf.d/shop.conf:1", "conf.d/shop.conf:10", "conf.d/ssl.conf:16"]
    default = found["conf.d/ssl.conf:16"]
    assert default.hostnames == () and default.ports == (443,) and default.tls
    assert default.certificate == "/etc/pki/tls/certs/localhost.crt"
    shop = found["conf.d/shop.conf:1"]
    assert shop.hostnames == ("shop.example.com", "store.example.com", "www.shop.example.com")
    assert shop.ports == (443,) and shop.tls
    assert not found["conf.d/shop.conf:10"].tls


def test_apache_lines_and_sections() -> None:
    text = 'A 1\n  # comment \\\n  still comment\nB "x y" \\\n  z\n<If "true">\n C\n</if>\n'
    tree = apache.parse(text, "t.conf")
    assert [(d.name, d.args, d.line) for d in tree] == [("A", ["1"], 1), ("B", ["x y", "z"], 4), ("If", ["true"], 6)]
    assert text[tree[1].start:tree[1].end] == 'B "x y" \\\n  z'
    with pytest.raises(ConfigError, match="t.conf:1: <VirtualHost> is never closed"):
        apache.parse("<VirtualHost *:443>\nServerName a\n", "t.conf")
    with pytest.raises(ConfigError, match="t.conf:2"):
        apache.parse("<VirtualHost *:443>\n</Directory>\n", "t.conf")


def test_apache_vhost_addresses() -> None:
    assert apache.vhost_port("*:443") == 443
    assert apache.vhost_port("_default_:443") == 443
    assert apache.vhost_port("[2001:db8::1]:8443") == 8443
    assert apache.vhost_port("192.0.2.1") == 80


def test_apache_version_output() -> None:
    out = ('Server version: Apache/2.4.62 (Debian)\n -D HTTPD_ROOT="/etc/apache2"\n'
           ' -D SERVER_CONFIG_FILE="apache2.conf"\n')
    assert apache.parse_version_output(out) == ("/etc/apache2/apache2.conf", "/etc/apache2")
    out = ' -D HTTPD_ROOT="/etc/httpd"\n -D SERVER_CONFIG_FILE="conf/httpd.conf"\n'
    assert apache.parse_version_output(out) == ("/etc/httpd/conf/httpd.conf", "/etc/httpd")


# --- discovery and matching ----------------------------------------------------------------------


def test_discover_sites_given_files_and_off() -> None:
    both = discover_sites(str(NGINX / "nginx.conf"), str(APACHE_DEBIAN / "apache2.conf"))
    assert {s.server for s in both} == {"nginx", "apache"}
    assert len(both) == 10
    only_apache = discover_sites("off", str(APACHE_DEBIAN / "apache2.conf"))
    assert {s.server for s in only_apache} == {"apache"}
    with pytest.raises(UsageError, match="does not exist"):
        discover_sites("/nonexistent/nginx.conf", "off")


def _site(*names: str, tls: bool = True) -> Site:
    return Site("nginx", f"f:{len(names)}", tuple(names), (443,), tls, "f", 1)


def test_match_sites() -> None:
    full = _site("example.com", "www.example.com")
    wild = _site("*.example.org")
    plain = _site("example.com", tls=False)
    regex = _site("~^.*\\.example\\.com$", "example.com")
    other = _site("other.test")
    nameless = _site()
    sites = [full, wild, plain, regex, other, nameless]

    assert match_sites(["example.com", "www.example.com"], sites) == ([full], [regex])
    assert match_sites(["example.com"], sites) == ([], [full, regex])
    assert match_sites(["*.example.com"], sites) == ([], [full])  # a wildcard does not cover the apex
    assert match_sites(["*.example.org"], sites) == ([wild], [])
    assert match_sites(["a.example.org"], sites) == ([], [])  # a name does not cover a wildcard site
    assert sites_for(["example.com", "www.example.com", "other.test"], sites) == [full, other]


# --- editing -------------------------------------------------------------------------------------


LIVE = "/var/lib/certify-tui/certificates/ex/live"


def _changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    return [(a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=False) if a != b]


def test_nginx_edit_replaces_only_the_block_directives() -> None:
    path = NGINX / "sites-enabled" / "example.com.conf"
    text = path.read_text()
    edit = nginx.set_certificate(text, str(path), 9, f"{LIVE}/fullchain.pem", f"{LIVE}/privkey.pem", NGINX,
                                 ("example.com", "www.example.com"))
    assert edit.changed
    assert len(edit.text.splitlines()) == len(text.splitlines())
    assert _changed_lines(text, edit.text) == [
        ('    ssl_certificate "/etc/letsencrypt/live/example.com/fullchain.pem";',
         f"    ssl_certificate {LIVE}/fullchain.pem;"),
        ("    ssl_certificate_key '/etc/letsencrypt/live/example.com/privkey.pem';",
         f"    ssl_certificate_key {LIVE}/privkey.pem;")]
    again = nginx.set_certificate(edit.text, str(path), 9, f"{LIVE}/fullchain.pem", f"{LIVE}/privkey.pem", NGINX)
    assert not again.changed and again.text == edit.text


def test_nginx_edit_inserts_missing_directives_and_removes_extras() -> None:
    text = ("http {\n    server {\n        listen 443 ssl;\n        server_name a.test;\n"
            "        root /srv;\n    }\n    server {\n        listen 443 ssl;\n        server_name b.test;\n"
            "        ssl_certificate rsa.pem;\n        ssl_certificate_key rsa.key;\n"
            "        ssl_certificate ecdsa.pem;\n        ssl_certificate_key ecdsa.key;\n    }\n}\n")
    edit = nginx.set_certificate(text, "x.conf", 2, "/live/full chain.pem", "/live/privkey.pem", Path("/etc"))
    assert edit.text == text.replace(
        "server_name a.test;\n",
        'server_name a.test;\n        ssl_certificate "/live/full chain.pem";\n'
        "        ssl_certificate_key /live/privkey.pem;\n")
    assert nginx.parse(edit.text)[0].block[0].block[2].args == ["/live/full chain.pem"]  # type: ignore[index]
    dual = nginx.set_certificate(text, "x.conf", 7, "/live/fullchain.pem", "/live/privkey.pem", Path("/etc"))
    assert "ecdsa" not in dual.text and dual.text.count("ssl_certificate ") == 1
    assert "a.test;\n        root /srv;" in dual.text  # the other block is untouched
    assert len(dual.notes) == 2


@pytest.mark.parametrize(("line", "message"), [
    (2, "site has no TLS listener; add `listen 443 ssl` first"),
    (5, "no server block"),
])
def test_nginx_edit_refusals(line: int, message: str) -> None:
    path = NGINX / "sites-enabled" / "example.com.conf"
    with pytest.raises(EditRefused, match=message.replace("`", ".")):
        nginx.set_certificate(path.read_text(), str(path), line, "/f", "/k", NGINX)


def test_nginx_edit_refuses_a_shared_include_and_changed_names() -> None:
    path = NGINX / "sites-enabled" / "snakeoil.conf"
    with pytest.raises(EditRefused, match="snippets/snakeoil.conf:2.*move it into the server block"):
        nginx.set_certificate(path.read_text(), str(path), 1, "/f", "/k", NGINX)
    path = NGINX / "sites-enabled" / "example.com.conf"
    with pytest.raises(EditRefused, match="list the sites again"):
        nginx.set_certificate(path.read_text(), str(path), 9, "/f", "/k", NGINX, ("example.com",))


def test_apache_edit_debian_vhost() -> None:
    path = APACHE_DEBIAN / "sites-enabled" / "example-ssl.conf"
    text = path.read_text()
    edit = apache.set_certificate(text, str(path), 2, f"{LIVE}/fullchain.pem", f"{LIVE}/privkey.pem",
                                  APACHE_DEBIAN, ("www.example.com", "example.com", "static.example.com"))
    expected = (text.replace('SSLCertificateFile\t"/etc/ssl/certs/example site.pem"',
                             f"SSLCertificateFile {LIVE}/fullchain.pem")
                .replace("SSLCertificateKeyFile /etc/ssl/private/example.key",
                         f"SSLCertificateKeyFile {LIVE}/privkey.pem")
                .replace("\t\tSSLCertificateChainFile /etc/ssl/certs/example-chain.pem\n", ""))
    assert edit.text == expected
    assert any("SSLCertificateChainFile" in note for note in edit.notes)
    again = apache.set_certificate(edit.text, str(path), 2, f"{LIVE}/fullchain.pem", f"{LIVE}/privkey.pem",
                                   APACHE_DEBIAN)
    assert not again.changed


def test_apache_edit_rhel_default_and_insertions(rhel: Path) -> None:
    path = rhel / "conf.d" / "ssl.conf"
    text = path.read_text()
    edit = apache.set_certificate(text, str(path), 16, "/live/fullchain.pem", "/live/privkey.pem", rhel)
    assert "#SSLCertificateChainFile /etc/pki/tls/certs/server-chain.crt" in edit.text  # a comment stays
    assert _changed_lines(text, edit.text) == [
        ("SSLCertificateFile /etc/pki/tls/certs/localhost.crt", "SSLCertificateFile /live/fullchain.pem"),
        ("SSLCertificateKeyFile /etc/pki/tls/private/localhost.key", "SSLCertificateKeyFile /live/privkey.pem")]

    bare = "<VirtualHost *:443>\n    ServerName a.test\n    SSLEngine on\n    DocumentRoot /srv\n</VirtualHost>\n"
    edit = apache.set_certificate(bare, "b.conf", 1, "/live/fullchain.pem", "/live/privkey.pem", rhel)
    assert edit.text == bare.replace("SSLEngine on\n", "SSLEngine on\n    SSLCertificateFile /live/fullchain.pem\n"
                                     "    SSLCertificateKeyFile /live/privkey.pem\n")
    with pytest.raises(EditRefused, match="SSLEngine on"):
        apache.set_certificate((rhel / "conf.d" / "shop.conf").read_text(), "shop.conf", 10, "/f", "/k", rhel)
