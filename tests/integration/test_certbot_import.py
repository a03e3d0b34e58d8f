"""`certify-tui import certbot` (issue 12, part 1) with a real certbot against Pebble: two lineages (one
standalone, one webroot with a deploy hook) taken over with certbot's own account, renewed by
`certify-tui renew --force` without a new registration, the deploy hook running as a task; certbot's files
are never changed, and a second import duplicates nothing."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from helpers import PebbleLog, open_core, start_cli, unique

from certify_tui.store.models import Account, ManagedCertificate

CERTBOT = Path(sys.executable).with_name("certbot")  # a test dependency (pyproject's dev extras)
opened = contextmanager(open_core)
WEBROOT_IP = "127.0.0.2"  # the webroot's server; the standalone listener has 127.0.0.1 on the same port


def certbot(pebble, config_dir: Path, *args: str) -> None:
    assert CERTBOT.is_file(), "certbot is a test dependency: make install"
    for _attempt in range(3):
        proc = subprocess.run(
            [str(CERTBOT), "--config-dir", str(config_dir), "--work-dir", str(config_dir / "work"),
             "--logs-dir", str(config_dir / "logs"), "--server", pebble.directory_url, "--non-interactive",
             "--agree-tos", "-m", "certbot-user@example.com", "certonly", *args],
            env={**os.environ, "REQUESTS_CA_BUNDLE": pebble.https_ca_bundle}, capture_output=True, text=True,
            timeout=180)
        # Pebble refuses a share of nonces on purpose (clients must retry); certbot gives up on one, so its run
        # is retried here: it is certbot's issuance the test needs, not certbot's nonce handling.
        if proc.returncode == 0 or "anti-replay nonce" not in proc.stdout + proc.stderr:
            break
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture
def webroot(tmp_path: Path, pebble) -> Iterator[Path]:
    """A document root served over HTTP where Pebble validates http-01 (for names pointed at WEBROOT_IP)."""
    root = tmp_path / "www"
    root.mkdir()

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((WEBROOT_IP, pebble.http_port), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root
    server.shutdown()
    server.server_close()


def snapshot(folder: Path) -> dict[str, str]:
    """Every file certbot keeps (logs and work aside), by content and mode, and every symlink's target."""
    seen = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if rel.parts[0] in ("logs", "work"):
            continue
        if path.is_symlink():
            seen[str(rel)] = "-> " + os.readlink(path)
        elif path.is_file():
            seen[str(rel)] = f"{oct(path.stat().st_mode)} {hashlib.sha256(path.read_bytes()).hexdigest()}"
    return seen


def run(data_dir: Path, *args: str) -> tuple[int, str, str]:
    proc = start_cli(data_dir, *args)
    out, err = proc.communicate(timeout=180)
    assert "Traceback" not in err, err
    return proc.returncode, out, err


def test_certbot_lineages_are_taken_over_and_renewed_with_certbots_account(
        tmp_path: Path, data_dir: Path, pebble, webroot: Path) -> None:
    config = tmp_path / "letsencrypt"
    hook_log = tmp_path / "hook.log"
    plain, hooked = unique("sa") + ".example.test", unique("wr") + ".example.test"
    pebble.add_a(hooked, WEBROOT_IP)
    certbot(pebble, config, "--standalone", "--http-01-address", "127.0.0.1", "--http-01-port",
            str(pebble.http_port), "-d", plain, "-d", f"www.{plain}")
    certbot(pebble, config, "--webroot", "-w", str(webroot), "-d", hooked, "--key-type", "rsa",
            "--deploy-hook", f'echo "$RENEWED_LINEAGE $RENEWED_DOMAINS" >> {hook_log}',
            "--pre-hook", f"echo pre >> {hook_log}", "--post-hook", f"echo post >> {hook_log}")
    assert hook_log.read_text().splitlines()[::2] == ["pre", "post"]  # certbot ran them once, at issuance
    before = snapshot(config)
    pebble_log = PebbleLog(pebble)

    code, out, err = run(data_dir, "import", "certbot", "--config-dir", str(config), "--dry-run")
    assert code == 0, err
    assert f"{plain}: would import" in out and f"{hooked}: would import" in out
    assert f"validation:  *: http-01 via standalone port={pebble.http_port} address=127.0.0.1" in out
    assert f"validation:  *: http-01 via webroot path={webroot}" in out
    assert "certbot deploy hook 1: runs after a successful renewal" in out
    assert "certbot pre hook: runs before each order" in out
    assert "no new registration" in out
    with opened(data_dir) as core:
        assert core.list_certificates() == [] and core.list_accounts() == []  # a dry run writes nothing

    code, out, err = run(data_dir, "import", "certbot", "--config-dir", str(config), "--json",
                         "--ca-bundle", pebble.https_ca_bundle, "--allow-internal-names")
    assert code == 0, out + err
    result = {p["lineage"]: p for p in json.loads(out)["lineages"]}
    assert {name: p["action"] for name, p in result.items()} == {plain: "imported", hooked: "imported"}
    assert all(p["seconds"] < 10 for p in result.values())

    code, out, err = run(data_dir, "import", "certbot", "--config-dir", str(config),
                         "--ca-bundle", pebble.https_ca_bundle, "--allow-internal-names")
    assert code == 0, err
    assert f"{plain}: already imported" in out and f"{hooked}: already imported" in out
    assert "systemctl disable" not in out  # nothing newly taken over

    certbot_uri = json.loads(next(config.glob("accounts/*/*/*/regr.json")).read_text())["uri"]
    with opened(data_dir) as core:
        accounts = core.list_accounts()
        assert [a.uri for a in accounts] == [certbot_uri]
        assert accounts[0].email == "certbot-user@example.com"  # certbot kept no contact: the CA's answer has it
        certs = {c.name: c for c in core.list_certificates()}
        assert set(certs) == {plain, hooked}
        assert certs[plain].identifiers == [plain, f"www.{plain}"] and certs[plain].key_type == "ec256"
        assert certs[hooked].key_type == "rsa2048"
        imported_serials = {name: core.certificate_view(c)["serial"] for name, c in certs.items()}
        assert all(imported_serials.values())
        tasks = core.list_tasks(hooked)
        assert [t.options["trigger"] for t in tasks] == ["before", "success", "always"]

    code, out, err = run(data_dir, "renew", "--force", "--json")
    assert code == 0, out + err
    outcomes = {o["name"]: o["action"] for o in json.loads(out)}
    assert outcomes == {plain: "renewed", hooked: "renewed"}

    text = pebble_log.text()
    assert "/sign-me-up" not in text  # no registration: neither the import nor the renewals made an account
    assert text.count("Issued certificate serial ") == 2
    with opened(data_dir) as core:
        for name, serial in imported_serials.items():
            view = core.certificate_view(core.get_certificate(name))
            assert view["serial"] != serial and view["status"] == "valid", view
        assert {c.account.uri for c in ManagedCertificate.select()} == {certbot_uri}
        assert Account.select().count() == 1
        live = Path(core.certificate_view(core.get_certificate(hooked))["files"]["fullchain"]).parent
    lines = hook_log.read_text().splitlines()
    # The hooks ran as tasks, in certbot's order (pre before the order), the deploy hook with certbot's variables.
    assert lines[3:] == ["pre", f"{live} {hooked}", "post"]
    assert snapshot(config) == before  # certbot's files were read, never changed



def test_certbot_other_authenticators_credentials_and_refusals(tmp_path: Path, data_dir: Path, pebble) -> None:
    """dns-rfc2136 becomes a stored credential (made once, reused), manual becomes manual dns-01; an
    unsupported plug-in and an unusable key are listed with their reason and the rest still imports."""
    config = tmp_path / "letsencrypt"
    base = unique("base") + ".example.test"
    certbot(pebble, config, "--standalone", "--http-01-address", "127.0.0.1", "--http-01-port",
            str(pebble.http_port), "-d", base)
    conf = (config / "renewal" / f"{base}.conf").read_text()
    ini = tmp_path / "rfc2136.ini"
    ini.write_text("dns_rfc2136_server = 127.0.0.1\ndns_rfc2136_port = 5353\ndns_rfc2136_name = acme.\n"
                   "dns_rfc2136_secret = c2VjcmV0LXNlY3JldA==\ndns_rfc2136_algorithm = HMAC-SHA512\n")
    variants = {
        "dns-one": f"authenticator = dns-rfc2136\ndns_rfc2136_credentials = {ini}\n",
        "dns-two": f"authenticator = dns-rfc2136\ndns_rfc2136_credentials = {ini}\n",
        "by-hand": "authenticator = manual\npref_challs = dns-01,\n",
        "nginx-one": "authenticator = nginx\ninstaller = nginx\n",
        "ed-key": "authenticator = standalone\n",
    }
    for name, params in variants.items():
        text = conf.replace("authenticator = standalone\n", params).replace(f"live/{base}/", f"live/{name}/")
        (config / "renewal" / f"{name}.conf").write_text(text)
        shutil.copytree(config / "live" / base, config / "live" / name)
    (config / "live" / "ed-key" / "privkey.pem").unlink()
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(config / "live" / "ed-key" /
                    "privkey.pem")], check=True, capture_output=True)
    (config / "renewal" / "gone.conf").write_text(conf.replace(f"live/{base}/", "live/gone/"))  # no files

    args = ("import", "certbot", "--config-dir", str(config), "--ca-bundle", pebble.https_ca_bundle,
            "--allow-internal-names", "--json")
    code, out, err = run(data_dir, *args)
    assert code == 0, out + err
    result = {p["lineage"]: p for p in json.loads(out)["lineages"]}
    assert {n: p["action"] for n, p in result.items()} == {
        base: "imported", "dns-one": "imported", "dns-two": "imported", "by-hand": "imported",
        "nginx-one": "unsupported", "ed-key": "unsupported", "gone": "unsupported"}
    assert "authenticator 'nginx' is not supported" in result["nginx-one"]["message"]
    assert "not an ECDSA or RSA key" in result["ed-key"]["message"]
    assert "no current certificate and key" in result["gone"]["message"]
    assert "c2VjcmV0" not in out  # the credential's secret is not in the report

    with opened(data_dir) as core:
        assert core.credential_names() == ["certbot-rfc2136"]
        for name in ("dns-one", "dns-two"):
            rule = core.get_certificate(name).challenge_rules[0]
            assert (rule.challenge, rule.provider, rule.credential) == ("dns-01", "rfc2136", "certbot-rfc2136")
        rule = core.get_certificate("by-hand").challenge_rules[0]
        assert (rule.challenge, rule.provider) == ("dns-01", "manual")
    from certify_tui.lifecycle.credentials import get_credential

    with opened(data_dir):
        stored = get_credential("certbot-rfc2136")
        assert stored.options()["server"] == "127.0.0.1:5353" and stored.options()["tsig_algorithm"] == "hmac-sha512"

    code, out, err = run(data_dir, *args)  # again: nothing new, nothing doubled
    assert code == 0, out + err
    again = {p["lineage"]: p["action"] for p in json.loads(out)["lineages"]}
    assert [n for n, a in again.items() if a == "already imported"] == [base, "by-hand", "dns-one", "dns-two"]
    with opened(data_dir) as core:
        assert len(core.list_certificates()) == 4 and len(core.list_accounts()) == 1
