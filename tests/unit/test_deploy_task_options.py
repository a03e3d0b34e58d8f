"""Deployment tasks without servers: the registry, option checks, preview lines, the export task's files.

(Named test_deploy_task_options.py: tests/ has no __init__.py, so a second test_deploy_tasks.py next to
the integration one would clash on import.)
"""

from __future__ import annotations

import datetime as dt
import os
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from certify_tui.deploy import DeploymentFailed
from certify_tui.deploy.base import DeployedFiles, DeploymentTask, TaskContext
from certify_tui.deploy.tasks import all_tasks, get_task, task_types
from certify_tui.deploy.tasks.command import task_environment
from certify_tui.deploy.tasks.runner import prepare, run_tasks, selected
from certify_tui.errors import UsageError
from certify_tui.events import RequestLog
from certify_tui.plugins import SECRET_MASK

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits and owners")
PEM = serialization.Encoding.PEM


# --- a tiny certificate set ----------------------------------------------------------------------


def _cert(subject: str, key, issuer: str, issuer_key, *, ca: bool) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=90))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    return builder.sign(issuer_key, hashes.SHA256())


def make_files(folder: Path, name: str = "site", domains: tuple[str, ...] = ("example.com", "www.example.com")
               ) -> DeployedFiles:
    """A leaf and its intermediate written as the four live files."""
    root_key, inter_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    inter = _cert("Tiny Intermediate", inter_key, "Tiny Root", root_key, ca=True)
    leaf = _cert(domains[0], leaf_key, "Tiny Intermediate", inter_key, ca=False)
    folder.mkdir(parents=True, exist_ok=True)
    cert, chain = leaf.public_bytes(PEM), inter.public_bytes(PEM)
    key = leaf_key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    paths = {"cert": cert, "chain": chain, "fullchain": cert + chain, "privkey": key}
    for role, data in paths.items():
        (folder / f"{role}.pem").write_bytes(data)
    return DeployedFiles(name=name, identifiers=domains, cert=folder / "cert.pem", chain=folder / "chain.pem",
                         fullchain=folder / "fullchain.pem", privkey=folder / "privkey.pem",
                         serial=format(leaf.serial_number, "x"), not_after=leaf.not_valid_after_utc.isoformat())


@pytest.fixture
def files(tmp_path: Path) -> DeployedFiles:
    return make_files(tmp_path / "live")


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- registry and declarations -------------------------------------------------------------------


def test_registry_lists_every_task_in_order() -> None:
    assert [cls.id for cls in task_types()] == ["export", "command", "service", "webhook", "ssh"]
    assert set(all_tasks()) == {"export", "command", "service", "webhook", "ssh"}
    assert get_task("ssh") is all_tasks()["ssh"]
    with pytest.raises(UsageError, match="Unknown deployment task type 'ftp'.*export, command"):
        get_task("ftp")
    with pytest.raises(UsageError, match="needs a type"):
        get_task("")


@pytest.mark.parametrize("cls", task_types(), ids=lambda c: c.id)
def test_every_task_declares_the_common_options(cls: type[DeploymentTask]) -> None:
    assert issubclass(cls, DeploymentTask)
    assert cls.title and cls.description
    assert cls.params[-len(DeploymentTask.COMMON_PARAMS):] == DeploymentTask.COMMON_PARAMS
    keys = [p.key for p in cls.params]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize(("type_id", "options", "message"), [
    ("export", {}, "option 'path' .* is required"),
    ("export", {"path": "/x", "formats": "pem,zip"}, "not 'zip'"),
    ("export", {"path": "/x", "formats": " , "}, "formats"),
    ("export", {"path": "/x", "mode": "0999"}, "octal permission"),
    ("export", {"path": "/x", "mode": "rw-r-----"}, "octal permission"),
    ("command", {"command": "echo 'unterminated"}, "not a valid command line"),
    ("command", {"command": "   "}, "cannot be empty"),
    ("command", {"command": "true", "timeout": 0}, "between 1"),
    ("service", {}, "service's name .* or a custom command"),
    ("service", {"name": "--now"}, "not a valid service name"),
    ("service", {"name": "nginx; reboot"}, "not a valid service name"),
    ("service", {"name": "nginx", "action": "stop"}, "one of reload, restart"),
    ("webhook", {"url": "ftp://example.com/"}, "http:// or https://"),
    ("webhook", {"url": "https:///path"}, "http:// or https://"),
    ("webhook", {"url": "https://example.com", "secret_header": "a\r\nX-Evil: 1"}, "line breaks"),
    ("ssh", {"host": "h", "username": "u", "key_file": "/k"}, "'remote_dir' .* is required"),
    ("ssh", {"host": "h", "username": "u", "key_file": "/k", "remote_dir": "/r", "files": "pfx"}, "not 'pfx'"),
    ("ssh", {"host": " ", "username": "u", "key_file": "/k", "remote_dir": "/r"}, "cannot be empty"),
    ("ssh", {"host": "h", "username": "u", "key_file": "/k", "remote_dir": "/r", "port": 0}, "between 1"),
    ("command", {"command": "true", "trigger": "sometimes"}, "success, failure, always, manual"),
    ("command", {"command": "true", "retries": 11}, "between 0 and 10"),
    ("command", {"command": "true", "colour": "red"}, "unknown option 'colour'"),
])
def test_invalid_options_are_refused(type_id: str, options: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        get_task(type_id)(options)


def test_defaults_are_filled_in() -> None:
    ssh = get_task("ssh")({"host": "h", "username": "u", "key_file": "/k", "remote_dir": "/r"})
    assert ssh.options["port"] == 22
    assert ssh.options["files"] == "fullchain,privkey"
    assert ssh.options["insecure_accept_new"] is False
    assert ssh.options["known_hosts"] == "~/.ssh/known_hosts"
    assert ssh.options["trigger"] == "success" and ssh.options["stop_on_failure"] is True
    export = get_task("export")({"path": "/x"})
    assert export.options["formats"] == "pem" and export.options["mode"] == "0640"
    assert get_task("command")({"command": "true"}).options["timeout"] == 60
    assert get_task("webhook")({"url": "https://h/"}).options["timeout"] == 10
    assert get_task("service")({"name": "nginx"}).options["action"] == "reload"


def test_preview_lines_hold_no_secrets() -> None:
    webhook = get_task("webhook")({"url": "https://user:pw@hooks.example.com/T0KEN/abc?sig=s3cret",
                                   "secret_header": "Bearer hunter2"})
    assert webhook.describe() == "POST the outcome to https://hooks.example.com"
    ssh = get_task("ssh")({"host": "backup.example.com", "port": 2222, "username": "deploy", "key_file": "/k",
                           "key_passphrase": "hunter2", "remote_dir": "/etc/ssl", "remote_command": "x --token=abc"})
    assert ssh.describe() == ("copy fullchain, privkey to deploy@backup.example.com:2222:/etc/ssl, "
                              "then run a remote command")
    export = get_task("export")({"path": "/srv/out", "formats": "pkcs12,combined", "pkcs12_password": "hunter2"})
    assert export.describe() == "export pkcs12, combined to /srv/out"
    aliases = get_task("export")({"path": "/srv/out", "formats": "PEM, pfx, p12, haproxy"})
    assert aliases.describe() == "export pem, pkcs12, combined to /srv/out"
    command = get_task("command")({"command": "/opt/bin/push.sh --password hunter2"})
    assert command.describe() == "run push.sh"
    assert get_task("service")({"name": "nginx"}).describe() == "reload nginx (systemctl)"
    assert get_task("service")({"name": "x", "command": "rc-service x restart"}).describe() == "reload x with rc-service"
    for task in (webhook, ssh, export, command):
        assert "hunter2" not in task.describe() and "s3cret" not in task.describe()
    assert get_task("ssh").redact(ssh.options)["key_passphrase"] == SECRET_MASK
    assert get_task("webhook").redact(webhook.options)["secret_header"] == SECRET_MASK


def test_task_environment(files: DeployedFiles) -> None:
    env = task_environment(TaskContext(files, succeeded=False, error="CA said no"))
    assert env == {
        "CERTIFY_NAME": "site", "CERTIFY_DOMAINS": "example.com www.example.com",
        "CERTIFY_PRIMARY_DOMAIN": "example.com", "CERTIFY_CERT": str(files.cert), "CERTIFY_CHAIN": str(files.chain),
        "CERTIFY_FULLCHAIN": str(files.fullchain), "CERTIFY_KEY": str(files.privkey),
        "CERTIFY_SERIAL": files.serial, "CERTIFY_NOT_AFTER": files.not_after, "CERTIFY_RESULT": "failure",
        "CERTIFY_ERROR": "CA said no",
    }


# --- runner: selection and checks ----------------------------------------------------------------


@pytest.mark.parametrize(("trigger", "succeeded", "manual", "runs"), [
    ("success", True, False, True), ("success", False, False, False), ("success", True, True, True),
    ("failure", True, False, False), ("failure", False, False, True),
    ("always", True, False, True), ("always", False, False, True),
    ("manual", True, False, False), ("manual", True, True, True),
])
def test_trigger_selection(files: DeployedFiles, trigger: str, succeeded: bool, manual: bool, runs: bool) -> None:
    assert selected(trigger, TaskContext(files, succeeded), manual) is runs


def test_invalid_stored_task_raises_before_anything_runs(files: DeployedFiles, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    tasks = [{"type": "command", "options": {"command": f"touch {marker}"}},
             {"type": "webhook", "options": {"url": "gopher://x"}, "title": "Tell the team"}]
    with pytest.raises(UsageError, match=r"Deployment task 2 \(Tell the team\): webhook: option 'url'"):
        run_tasks(tasks, TaskContext(files, True), RequestLog())
    assert not marker.exists()
    with pytest.raises(UsageError, match="Deployment task 1 .*Unknown deployment task type 'ftp'"):
        prepare([{"type": "ftp", "options": {}}])
    assert [title for title, _ in prepare([{"type": "command", "options": {"command": "true"}}])] == ["Run a command"]


# --- export --------------------------------------------------------------------------------------


def _export(files: DeployedFiles, folder: Path, **options) -> RequestLog:
    log = RequestLog()
    get_task("export")({"path": str(folder), **options}).run(TaskContext(files, True), log)
    return log


@posix_only
def test_export_pem_files_with_modes(files: DeployedFiles, tmp_path: Path) -> None:
    out = tmp_path / "out" / "nested"  # created, parents too
    log = _export(files, out)
    for role in ("cert", "chain", "fullchain", "privkey"):
        assert (out / f"{role}.pem").read_bytes() == getattr(files, role).read_bytes()
    assert {p.name: mode_of(p) for p in out.iterdir()} == {
        "cert.pem": 0o644, "chain.pem": 0o644, "fullchain.pem": 0o644, "privkey.pem": 0o640}
    assert any("exported cert.pem, chain.pem, fullchain.pem, privkey.pem" in e.message for e in log.events)
    # Again with a stricter mode: the files are replaced, no temporary file is left behind.
    _export(files, out, mode="0600")
    assert mode_of(out / "privkey.pem") == 0o600
    assert sorted(p.name for p in out.iterdir()) == ["cert.pem", "chain.pem", "fullchain.pem", "privkey.pem"]


def test_export_combined_file_is_key_and_chain(files: DeployedFiles, tmp_path: Path) -> None:
    _export(files, tmp_path, formats="combined")
    combined = (tmp_path / "site.pem").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["site.pem"]
    key = serialization.load_pem_private_key(combined, password=None)
    certs = x509.load_pem_x509_certificates(combined)
    assert certs == x509.load_pem_x509_certificates(files.fullchain.read_bytes()) and len(certs) == 2
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert key.public_key().public_bytes(*spki) == certs[0].public_key().public_bytes(*spki)
    if os.name == "posix":
        assert mode_of(tmp_path / "site.pem") == 0o640
        # OpenSSL reads it as HAProxy would: the key and the certificates from one file.
        for tool in (["openssl", "pkey", "-noout", "-in"], ["openssl", "x509", "-noout", "-in"]):
            subprocess.run([*tool, str(tmp_path / "site.pem")], check=True, capture_output=True)


def test_export_pkcs12_with_password(files: DeployedFiles, tmp_path: Path) -> None:
    _export(files, tmp_path, formats="pkcs12", pkcs12_password="correct horse")
    data = (tmp_path / "site.pfx").read_bytes()
    key, cert, extra = pkcs12.load_key_and_certificates(data, b"correct horse")
    assert cert == x509.load_pem_x509_certificate(files.cert.read_bytes())
    assert extra == x509.load_pem_x509_certificates(files.chain.read_bytes())
    assert key is not None
    for wrong in (None, b"wrong"):
        with pytest.raises(ValueError):
            pkcs12.load_key_and_certificates(data, wrong)
    loaded = pkcs12.load_pkcs12(data, b"correct horse")
    assert loaded.cert is not None and loaded.cert.friendly_name == b"site"


def test_export_pkcs12_without_password(files: DeployedFiles, tmp_path: Path) -> None:
    _export(files, tmp_path, formats="pem,pkcs12")
    key, cert, extra = pkcs12.load_key_and_certificates((tmp_path / "site.pfx").read_bytes(), None)
    assert key is not None and cert is not None and len(extra) == 1
    assert (tmp_path / "privkey.pem").exists()


@posix_only
@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="changing owners needs root")
def test_export_owner_and_group(files: DeployedFiles, tmp_path: Path) -> None:
    _export(files, tmp_path, formats="pem,combined", owner="4242", group="root")
    for path in tmp_path.iterdir():
        if path.is_file():
            assert (path.stat().st_uid, path.stat().st_gid) == (4242, 0), path


def test_export_failures_are_clear(files: DeployedFiles, tmp_path: Path) -> None:
    with pytest.raises(DeploymentFailed, match="There is no user named 'no-such-user-xyz'"):
        _export(files, tmp_path / "a", owner="no-such-user-xyz")
    files.chain.unlink()
    with pytest.raises(DeploymentFailed, match=r"Cannot read .*chain\.pem"):
        _export(files, tmp_path / "b")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(DeploymentFailed, match="Cannot create the export folder"):
        _export(make_files(tmp_path / "live2"), blocker / "sub")
