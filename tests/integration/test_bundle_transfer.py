"""Encrypted bundles between two data folders, through the real `certify-tui` against Pebble: the round trip
leaves an equivalent installation that renews with the same account (Pebble registers none), secrets are not
readable in the file, a wrong passphrase or a damaged file fails in one line and changes nothing, conflicts
are skipped unless --replace."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import pty
import select
import signal
import stat
import time
from pathlib import Path
from typing import Any

import pytest
from integration.helpers import CLI, PebbleLog, open_core
from integration.test_cli import add_account, add_cert, clean_error, cli, ok
from servers.pebble import PebbleServer

from certify_tui.bundle.crypto import open_bundle, seal_bundle
from certify_tui.lifecycle import credentials
from certify_tui.lifecycle.revoked import mark_revoked
from certify_tui.store.models import ManagedCertificate

pytestmark = pytest.mark.pebble

PASSPHRASE = "correct horse battery staple 42"
HOOK_SECRET = "Bearer bundle-secret-7c1e94a0"


def _account_key(data: Path) -> str:
    for core in open_core(data):
        return str(core.list_accounts()[0].account_key_pem)
    raise AssertionError("no core")


def _credential_secrets(data: Path, name: str) -> dict[str, Any]:
    for _core in open_core(data):
        return dict(credentials.get_credential(name).secrets)
    raise AssertionError("no core")


@pytest.fixture(scope="module")
def source(pebble: PebbleServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An installation with everything a bundle carries: an account, a certificate with files and two tasks
    (one using a stored credential with a secret), one without files yet, a changed setting."""
    root = tmp_path_factory.mktemp("bundle")
    data = root / "source"
    add_account(data, pebble)
    add_cert(data, pebble, "web", "bundle-web.example.test")
    ok(data, "cert", "request", "web")
    add_cert(data, pebble, "later", "bundle-later.example.test")
    add_cert(data, pebble, "gone", "bundle-gone.example.test")
    ok(data, "cert", "request", "gone")
    for _core in open_core(data):  # as `cert revoke` or a revocation check leaves it
        mark_revoked(ManagedCertificate.get(ManagedCertificate.name == "gone"), reason="superseded", renew=False)
    secret_file = root / "hook-secret"
    secret_file.write_text(HOOK_SECRET)
    ok(data, "credential", "add", "hook", "--task", "webhook", "-o", "url=http://127.0.0.1:9/hook",
       "-o", f"secret_header=@{secret_file}")
    marker = root / "deployed-marker"
    ok(data, "cert", "task", "add", "web", "--type", "command", "-o", f"command=touch {marker}",
       "-o", "shell=true")
    ok(data, "cert", "task", "add", "web", "--type", "webhook", "--credential", "hook", "--trigger", "manual")
    ok(data, "settings", "set", "renewal_percent=60", "keep_versions=7")
    phrase = root / "passphrase"
    phrase.write_text(PASSPHRASE + "\n")
    bundle = root / "site.bundle"
    ok(data, "export", "bundle", str(bundle), "--passphrase", f"@{phrase}")
    return {"root": root, "data": data, "bundle": bundle, "phrase": phrase, "marker": marker}


def _view(data: Path) -> dict[str, Any]:
    """What must survive a move, compared without ids, times or paths that differ by folder."""
    accounts = [{k: a[k] for k in ("email", "ca", "uri", "status")} for a in ok(data, "account", "list", "--json").json()]
    certs = {}
    for name in ("web", "later", "gone"):
        shown = ok(data, "cert", "show", name, "--json").json()
        certs[name] = {k: shown.get(k) for k in ("identifiers", "challenge_rules", "deployment", "renewal",
                                                   "key_type", "auto_renew", "account", "serial", "status")}
    settings = ok(data, "settings", "show", "--json").json()
    return {"accounts": accounts, "certs": certs, "settings": settings}


def test_the_bundle_file_is_private_and_hides_every_secret(source: dict[str, Path]) -> None:
    bundle = source["bundle"]
    assert stat.S_IMODE(os.stat(bundle).st_mode) == 0o600
    content = bundle.read_bytes()
    header = json.loads(content.split(b"\n", 1)[0])
    assert header["format"] == "certify-tui-bundle" and header["kdf"]["name"] == "scrypt"
    privkey = (source["data"] / "certificates" / "web" / "live" / "privkey.pem").read_text()
    account_key = _account_key(source["data"])
    secrets = [HOOK_SECRET, "PRIVATE KEY", "bundle-web.example.test", PASSPHRASE]
    # The keys' base64 bodies, line by line: no fragment of either key is in the file.
    secrets += [line for pem in (privkey, account_key) for line in pem.splitlines() if "-----" not in line]
    for secret in secrets:
        assert secret.encode() not in content, secret
        assert base64.b64encode(secret.encode()) not in content, secret


def test_a_passphrase_is_never_taken_from_the_command_line(source: dict[str, Path], tmp_path: Path) -> None:
    line = clean_error(cli(source["data"], "export", "bundle", str(tmp_path / "b"), "--passphrase", PASSPHRASE), 2)
    assert "@FILE" in line and "env:VAR" in line
    assert not (tmp_path / "b").exists()
    line = clean_error(cli(source["data"], "export", "bundle", str(tmp_path / "b")), 2)  # no terminal to ask at
    assert "--passphrase" in line


def test_a_wrong_passphrase_or_a_damaged_file_changes_nothing(source: dict[str, Path], tmp_path: Path) -> None:
    target = tmp_path / "target"
    wrong = tmp_path / "wrong"
    wrong.write_text("not the passphrase at all")
    line = clean_error(cli(target, "import", "bundle", str(source["bundle"]), "--passphrase", f"@{wrong}"), 1)
    assert "passphrase is wrong or the file is damaged" in line and "Nothing was changed" in line
    damaged = tmp_path / "damaged.bundle"
    content = bytearray(source["bundle"].read_bytes())
    content[-40] ^= 0x01  # one bit of the ciphertext
    damaged.write_bytes(bytes(content))
    line = clean_error(cli(target, "import", "bundle", str(damaged), "--passphrase", f"@{source['phrase']}"), 1)
    assert "passphrase is wrong or the file is damaged" in line
    not_one = tmp_path / "notes.txt"
    not_one.write_text("hello\n")
    line = clean_error(cli(target, "import", "bundle", str(not_one), "--passphrase", f"@{source['phrase']}"), 1)
    assert "not a certify-tui bundle" in line
    assert ok(target, "account", "list", "--json").json() == []
    assert ok(target, "cert", "list", "--json").json() == []


def test_round_trip_is_equivalent_and_renews_without_a_new_registration(
        source: dict[str, Path], pebble: PebbleServer, tmp_path: Path) -> None:
    target = tmp_path / "target"
    env = {**{k: v for k, v in os.environ.items() if k != "CERTIFY_TUI_DATA_DIR"}, "BUNDLE_PASS": PASSPHRASE}
    args = ("import", "bundle", str(source["bundle"]), "--passphrase", "env:BUNDLE_PASS")

    preview = ok(target, *args, "--dry-run", "--json", env=env).json()
    states = {(item["kind"], item["name"]): item["state"] for item in preview["items"]}
    assert states[("certificate", "web")] == "new" and states[("certificate", "later")] == "new"
    assert states[("credential", "hook")] == "new"
    assert states[("setting", "renewal_percent")] == "changed"  # never customised here
    assert [s for (kind, _), s in states.items() if kind == "account"] == ["new"]
    assert HOOK_SECRET not in json.dumps(preview)
    assert ok(target, "cert", "list", "--json").json() == []  # a dry run writes nothing

    imported = ok(target, *args, env=env)
    assert "Imported" in imported.out
    moved = _view(target)
    assert moved == _view(source["data"])
    assert [moved["certs"][name]["status"] for name in ("web", "later", "gone")] == ["valid", "new", "revoked"]
    assert _credential_secrets(target, "hook") == {"secret_header": HOOK_SECRET}
    assert _account_key(target) == _account_key(source["data"])
    for role in ("fullchain.pem", "privkey.pem"):
        assert ((target / "certificates" / "web" / "live" / role).read_bytes()
                == (source["data"] / "certificates" / "web" / "live" / role).read_bytes())

    again = ok(target, *args, "--json", env=env).json()  # nothing left to do
    assert {item["state"] for item in again["items"]} == {"unchanged"}, again["items"]

    log = PebbleLog(pebble)
    renewed = ok(target, "renew", "--force", "web", "--json").json()
    assert [o["action"] for o in renewed] == ["renewed"], renewed
    assert log.issued() == 1
    assert "accounts in memory" not in log.text()  # Pebble logs each registration: there was none
    assert source["marker"].exists()  # the command task came along and ran after the renewal
    assert ok(target, "cert", "show", "web", "--json").json()["serial"] != _view(source["data"])["certs"]["web"]["serial"]


def test_conflicts_are_skipped_unless_replace(source: dict[str, Path], tmp_path: Path) -> None:
    target = tmp_path / "target"
    args = ("import", "bundle", str(source["bundle"]), "--passphrase", f"@{source['phrase']}")
    ok(target, *args)
    ok(target, "credential", "set", "hook", "-o", "url=http://127.0.0.1:9/elsewhere")
    ok(target, "settings", "set", "keep_versions=3")

    preview = ok(target, *args, "--dry-run").out
    assert "conflict (skipped)" in preview and "hook" in preview and "--replace" in preview
    ok(target, *args)  # conflicts skipped: the changes made here stay
    assert ok(target, "credential", "show", "hook", "--json").json()["values"]["url"].endswith("/elsewhere")
    assert ok(target, "settings", "show", "--json").json()["settings"]["keep_versions"] == 3

    ok(target, *args, "--replace")
    assert ok(target, "credential", "show", "hook", "--json").json()["values"]["url"].endswith("/hook")
    assert ok(target, "settings", "show", "--json").json()["settings"]["keep_versions"] == 7
    assert _credential_secrets(target, "hook") == {"secret_header": HOOK_SECRET}


def test_a_failure_during_the_import_leaves_nothing_behind(source: dict[str, Path], tmp_path: Path) -> None:
    """The second certificate's files fail (a broken chain) after the first one's were switched live: the
    transaction rolls back and the files already written are undone."""
    payload = open_bundle(source["bundle"].read_bytes(), PASSPHRASE)
    by_name = {entry["name"]: entry for entry in payload["certificates"]}
    gone_leaf = by_name["gone"]["files"]["fullchain"].split("-----END CERTIFICATE-----")[0]
    web_leaf = by_name["web"]["files"]["fullchain"].split("-----END CERTIFICATE-----")[0]
    # web's own leaf and key (they match), then gone's leaf as if it had issued it: not a chain.
    by_name["web"]["files"]["fullchain"] = (f"{web_leaf}-----END CERTIFICATE-----\n"
                                            f"{gone_leaf}-----END CERTIFICATE-----\n")
    broken = tmp_path / "broken.bundle"
    broken.write_bytes(seal_bundle(payload, PASSPHRASE))
    target = tmp_path / "target"

    preview = ok(target, "import", "bundle", str(broken), "--passphrase", f"@{source['phrase']}", "--dry-run")
    assert "web" in preview.out
    line = clean_error(cli(target, "import", "bundle", str(broken), "--passphrase", f"@{source['phrase']}"), 1)
    assert "Importing the files of web failed" in line and "chain is broken" in line, line
    assert "Nothing was imported" in line
    assert ok(target, "account", "list", "--json").json() == []
    assert ok(target, "cert", "list", "--json").json() == []
    assert ok(target, "credential", "list", "--json").json() == []
    assert ok(target, "settings", "show", "--json").json()["settings"]["renewal_percent"] == 75
    leftovers = [p.name for p in (target / "certificates").iterdir()] if (target / "certificates").exists() else []
    assert [name for name in leftovers if not name.startswith(".")] == [], leftovers
    assert not list((target / "certificates" / ".storing").glob("*"))  # nothing left for repair to do


def at_terminal(data: Path, answers: list[str], *args: str) -> tuple[int, str]:
    """Run certify-tui on a pseudo-terminal, typing each answer after each prompt; (exit code, what it showed)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the real console script, on the terminal
        os.execv(str(CLI), [str(CLI), "--data-dir", str(data), *args])
    shown, deadline = b"", time.monotonic() + 60

    def read() -> bytes:
        if not select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
            os.kill(pid, signal.SIGKILL)
            raise AssertionError(f"no answer from certify-tui; it showed: {shown!r}")
        return os.read(fd, 1024)

    for answer in answers:
        prompts = shown.count(b": ")
        while shown.count(b": ") == prompts:
            shown += read()
        os.write(fd, answer.encode() + b"\n")
    with contextlib.suppress(OSError):  # the terminal closes with the process
        while chunk := read():
            shown += chunk
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), shown.decode(errors="replace")


def test_export_at_a_terminal_asks_twice(source: dict[str, Path], tmp_path: Path) -> None:
    bundle = tmp_path / "typed.bundle"
    code, shown = at_terminal(source["data"], [PASSPHRASE, PASSPHRASE + "?"], "export", "bundle", str(bundle))
    assert code == 2 and "The two passphrases differ: nothing was written." in shown, shown
    assert not bundle.exists()
    code, shown = at_terminal(source["data"], [PASSPHRASE, PASSPHRASE], "export", "bundle", str(bundle))
    assert code == 0 and "Wrote" in shown and PASSPHRASE not in shown, shown  # not echoed
    target = tmp_path / "target"
    code, shown = at_terminal(target, [PASSPHRASE], "import", "bundle", str(bundle), "--dry-run")
    assert code == 0 and "new      certificate  web" in shown, shown
