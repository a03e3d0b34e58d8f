"""Deployment tasks against real things: processes, a local HTTP server, a real OpenSSH server, the runner."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shlex
import socket
import stat
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import paramiko
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID
from servers.sshd import SshdNotFound, SshdServer, new_key, write_key

from certify_tui.deploy import DeploymentFailed
from certify_tui.deploy.base import DeployedFiles, TaskContext
from certify_tui.deploy.tasks import get_task
from certify_tui.deploy.tasks.runner import TaskOutcome, run_tasks
from certify_tui.deploy.tasks.ssh import fingerprint
from certify_tui.errors import UsageError
from certify_tui.events import RequestLog

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX shell commands")
PEM = serialization.Encoding.PEM


# --- fixtures ------------------------------------------------------------------------------------


def _cert(subject: str, key, issuer: str, issuer_key, *, ca: bool) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    return (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=90))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .sign(issuer_key, hashes.SHA256()))


@pytest.fixture
def files(tmp_path: Path) -> DeployedFiles:
    root_key, inter_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    inter = _cert("Tiny Intermediate", inter_key, "Tiny Root", root_key, ca=True)
    leaf = _cert("example.com", leaf_key, "Tiny Intermediate", inter_key, ca=False)
    live = tmp_path / "live"
    live.mkdir()
    cert, chain = leaf.public_bytes(PEM), inter.public_bytes(PEM)
    key = leaf_key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    for role, data in {"cert": cert, "chain": chain, "fullchain": cert + chain, "privkey": key}.items():
        (live / f"{role}.pem").write_bytes(data)
    return DeployedFiles(name="site", identifiers=("example.com", "www.example.com"), cert=live / "cert.pem",
                         chain=live / "chain.pem", fullchain=live / "fullchain.pem", privkey=live / "privkey.pem",
                         serial=format(leaf.serial_number, "x"), not_after=leaf.not_valid_after_utc.isoformat())


def messages(log: RequestLog) -> list[str]:
    return [e.message for e in log.events]


def run(type_id: str, deployed: DeployedFiles, /, *, succeeded: bool = True, error: str | None = None,
        **options: Any) -> RequestLog:
    log = RequestLog()
    get_task(type_id)(options).run(TaskContext(deployed, succeeded, error), log)
    return log


def sh(script: str) -> str:
    """A command line running `script` with the POSIX shell, without the task's shell option."""
    return shlex.join(["sh", "-c", script])


# --- command -------------------------------------------------------------------------------------


@posix_only
def test_command_sees_its_environment(files: DeployedFiles, tmp_path: Path) -> None:
    out = tmp_path / "env.json"
    script = tmp_path / "dump.py"
    script.write_text("import json, os, sys\n"
                      "json.dump({k: v for k, v in os.environ.items() if k.startswith('CERTIFY_')}, "
                      "open(sys.argv[1], 'w'))\nprint('dumped', os.getcwd())\n")
    log = run("command", files, succeeded=False, error="boom", command=f"{sys.executable} {script} '{out}'",
              working_dir=str(tmp_path))
    env = json.loads(out.read_text())
    assert env["CERTIFY_NAME"] == "site"
    assert env["CERTIFY_DOMAINS"] == "example.com www.example.com"
    assert env["CERTIFY_PRIMARY_DOMAIN"] == "example.com"
    assert env["CERTIFY_FULLCHAIN"] == str(files.fullchain) and env["CERTIFY_KEY"] == str(files.privkey)
    assert env["CERTIFY_CERT"] == str(files.cert) and env["CERTIFY_CHAIN"] == str(files.chain)
    assert env["CERTIFY_SERIAL"] == files.serial and env["CERTIFY_NOT_AFTER"] == files.not_after
    assert (env["CERTIFY_RESULT"], env["CERTIFY_ERROR"]) == ("failure", "boom")
    # The output, labelled with the program only (its arguments may hold secrets).
    assert f"{Path(sys.executable).name}: dumped {tmp_path}" in messages(log)


@posix_only
def test_command_failure_names_the_exit_code(files: DeployedFiles) -> None:
    log = RequestLog()
    task = get_task("command")({"command": sh("echo about to fail; echo on stderr >&2; exit 7")})
    with pytest.raises(DeploymentFailed) as caught:
        task.run(TaskContext(files, True), log)
    assert caught.value.message == ("The command 'sh' failed with exit code 7; its output is in the "
                                    "certificate's log.")
    assert messages(log) == ["sh: about to fail", "sh: on stderr"]


@posix_only
def test_command_output_is_capped(files: DeployedFiles) -> None:
    log = run("command", files, command="seq 1 1000")
    lines = messages(log)
    assert len(lines) == 41
    assert lines[0] == "seq: 1" and lines[19] == "seq: 20" and lines[-1] == "seq: 1000"
    assert lines[20] == "seq: (960 more line(s) not shown)"


@posix_only
def test_command_shell_option_and_timeout(files: DeployedFiles, tmp_path: Path) -> None:
    out = tmp_path / "piped"
    run("command", files, command=f"echo $CERTIFY_NAME | tr a-z A-Z > '{out}'", shell=True)
    assert out.read_text() == "SITE\n"
    started = time.monotonic()
    # The shell's child (sleep) holds the output pipe: the whole tree is stopped, not waited for.
    with pytest.raises(DeploymentFailed, match="did not finish within 1 s and was stopped"):
        run("command", files, command="echo started; sleep 30; echo never", shell=True, timeout=1)
    assert time.monotonic() - started < 10


@posix_only
def test_command_does_not_wait_for_a_background_child(files: DeployedFiles) -> None:
    started = time.monotonic()
    run("command", files, command="sleep 20 & echo forked", shell=True, timeout=30)
    assert time.monotonic() - started < 10


def test_command_missing_program_and_folder(files: DeployedFiles, tmp_path: Path) -> None:
    with pytest.raises(DeploymentFailed, match="The command 'no-such-program-xyz' could not be started"):
        run("command", files, command="no-such-program-xyz --secret hunter2")
    with pytest.raises(DeploymentFailed, match="the working folder .*nowhere does not exist"):
        run("command", files, command="true", working_dir=str(tmp_path / "nowhere"))


# --- service -------------------------------------------------------------------------------------


@posix_only
def test_service_uses_systemctl_from_path(files: DeployedFiles, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    fake = bin_dir / "systemctl"  # a real program standing in for systemd's, recording its arguments
    fake.write_text(f"#!/bin/sh\necho \"$@\" >> '{calls}'\n[ \"$2\" = broken ] && exit 5\nexit 0\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    run("service", files, name="nginx")
    run("service", files, name="haproxy", action="restart")
    assert calls.read_text().splitlines() == ["reload nginx", "restart haproxy"]
    with pytest.raises(DeploymentFailed, match="systemctl reload broken failed with exit code 5"):
        run("service", files, name="broken")


@posix_only
def test_service_custom_command_and_no_systemctl(files: DeployedFiles, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "reloaded"
    run("service", files, name="nginx", command=sh(f"echo $CERTIFY_NAME reloaded > '{out}'"))
    assert out.read_text() == "site reloaded\n"
    with pytest.raises(DeploymentFailed, match="The reload command 'sh' failed with exit code 3"):
        run("service", files, command=sh("exit 3"))
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(DeploymentFailed, match="Cannot reload nginx: systemctl is not available on this "
                                               "machine; set a custom command"):
        run("service", files, name="nginx")


# --- webhook -------------------------------------------------------------------------------------


class _Hook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.received.append({"path": self.path, "headers": dict(self.headers),  # type: ignore[attr-defined]
                                     "body": json.loads(body)})
        status = 500 if self.path.startswith("/fail") else 302 if self.path.startswith("/moved") else 204
        self.send_response(status)
        if status == 302:
            self.send_header("Location", "/ok")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_webhook_posts_the_outcome(files: DeployedFiles, hook: ThreadingHTTPServer) -> None:
    url = f"http://127.0.0.1:{hook.server_port}/ok/T0KEN"
    log = run("webhook", files, url=url, secret_header="Bearer hunter2")
    (request,) = hook.received  # type: ignore[attr-defined]
    assert request["path"] == "/ok/T0KEN"
    assert request["headers"]["Authorization"] == "Bearer hunter2"
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["body"] == {"name": "site", "identifiers": ["example.com", "www.example.com"],
                               "result": "success", "error": None, "serial": files.serial,
                               "not_after": files.not_after, "host": socket.gethostname()}
    assert f"webhook at http://127.0.0.1:{hook.server_port} answered 204" in messages(log)
    assert not any("T0KEN" in m or "hunter2" in m for m in messages(log))


def test_webhook_failure_outcome_and_no_header(files: DeployedFiles, hook: ThreadingHTTPServer) -> None:
    run("webhook", files, succeeded=False, error="rate limited", url=f"http://127.0.0.1:{hook.server_port}/ok")
    (request,) = hook.received  # type: ignore[attr-defined]
    assert "Authorization" not in request["headers"]
    assert (request["body"]["result"], request["body"]["error"]) == ("failure", "rate limited")


def test_webhook_errors(files: DeployedFiles, hook: ThreadingHTTPServer) -> None:
    base = f"http://127.0.0.1:{hook.server_port}"
    with pytest.raises(DeploymentFailed, match=f"The webhook at {base} answered 500 Internal Server Error"):
        run("webhook", files, url=f"{base}/fail?token=s3cret")
    with pytest.raises(DeploymentFailed, match="answered 302"):  # a redirect is not followed
        run("webhook", files, url=f"{base}/moved")
    assert [r["path"] for r in hook.received] == ["/fail?token=s3cret", "/moved"]  # type: ignore[attr-defined]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]  # bound, not listening: refused
        with pytest.raises(DeploymentFailed, match=f"Cannot connect to the webhook at http://127.0.0.1:{closed}"):
            run("webhook", files, url=f"http://127.0.0.1:{closed}/x")


# --- ssh -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sshd() -> Iterator[SshdServer]:
    try:
        server = SshdServer()
    except SshdNotFound as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{exc}; CI must provide sshd", pytrace=False)
        pytest.skip(str(exc))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def known_hosts(sshd: SshdServer, tmp_path: Path) -> Path:
    path = tmp_path / "known_hosts"
    path.write_text(sshd.known_hosts_line())
    return path


def ssh_options(sshd: SshdServer, remote: Path, known_hosts: Path, **extra: Any) -> dict[str, Any]:
    return {"host": sshd.host, "port": sshd.port, "username": sshd.username, "key_file": str(sshd.client_key),
            "known_hosts": str(known_hosts), "remote_dir": str(remote), **extra}


def _host_fingerprint(sshd: SshdServer) -> str:
    return fingerprint(paramiko.Ed25519Key(filename=str(sshd.workdir / "host_ed25519")))


def test_ssh_copies_files(files: DeployedFiles, sshd: SshdServer, known_hosts: Path, tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    remote.mkdir()
    (remote / "fullchain.pem").write_text("old")
    log = run("ssh", files, **ssh_options(sshd, remote, known_hosts, files="cert,chain,fullchain,privkey"))
    for role in ("cert", "chain", "fullchain", "privkey"):
        assert (remote / f"{role}.pem").read_bytes() == getattr(files, role).read_bytes()
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in remote.iterdir()}
    assert modes == {"cert.pem": 0o644, "chain.pem": 0o644, "fullchain.pem": 0o644, "privkey.pem": 0o600}
    where = f"{sshd.username}@{sshd.host}:{sshd.port}"
    assert f"ssh: copied cert.pem, chain.pem, fullchain.pem, privkey.pem to {where}{remote}" in messages(log)


def test_ssh_remote_command(files: DeployedFiles, sshd: SshdServer, known_hosts: Path, tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    remote.mkdir()
    log = run("ssh", files, **ssh_options(sshd, remote, known_hosts,
                                          remote_command=f"wc -c < {remote}/privkey.pem; echo done >&2"))
    size = files.privkey.stat().st_size
    assert [m for m in messages(log) if m.startswith("remote:")] == [f"remote: {size}", "remote: done"]
    assert sorted(p.name for p in remote.iterdir()) == ["fullchain.pem", "privkey.pem"]  # the default roles
    with pytest.raises(DeploymentFailed, match="The remote command on .* failed with exit code 3"):
        run("ssh", files, **ssh_options(sshd, remote, known_hosts, remote_command="echo broken; exit 3"))
    with pytest.raises(DeploymentFailed, match="did not finish within 1 s"):
        run("ssh", files, **ssh_options(sshd, remote, known_hosts, remote_command="sleep 20", timeout=1))


def test_ssh_unknown_host_key(files: DeployedFiles, sshd: SshdServer, tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    remote.mkdir()
    known = tmp_path / "dot-ssh" / "known_hosts"  # neither the folder nor the file exists yet
    printed = _host_fingerprint(sshd)
    with pytest.raises(DeploymentFailed) as caught:
        run("ssh", files, **ssh_options(sshd, remote, known))
    assert caught.value.message == (f"The host key of {sshd.known_hosts_name} (ssh-ed25519 {printed}) is not in "
                                    f"{known}; check the fingerprint and add it there, or allow accepting a new "
                                    "host key.")
    assert not any(remote.iterdir()) and not known.exists()

    log = run("ssh", files, **ssh_options(sshd, remote, known, insecure_accept_new=True))
    assert (remote / "privkey.pem").exists()
    assert known.read_text() == sshd.known_hosts_line()
    assert any(printed in m and "accepted the new host key" in m for m in messages(log))
    run("ssh", files, **ssh_options(sshd, remote, known))  # recorded: now known without the option


def test_ssh_changed_host_key_is_refused(files: DeployedFiles, sshd: SshdServer, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    other = new_key(tmp_path / "other_host_key")
    known.write_text(f"{sshd.known_hosts_name} {other}\n")
    for accept in (False, True):
        with pytest.raises(DeploymentFailed, match=re.escape(f"has CHANGED (it is now {_host_fingerprint(sshd)})")):
            run("ssh", files, **ssh_options(sshd, tmp_path, known, insecure_accept_new=accept))


def test_ssh_key_problems(files: DeployedFiles, sshd: SshdServer, known_hosts: Path, tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    remote.mkdir()
    stranger = tmp_path / "stranger"
    new_key(stranger)
    with pytest.raises(DeploymentFailed, match=f"refused the key {stranger} \\(is its public key in the server's "
                                               f"authorized_keys for {sshd.username}\\?\\)"):
        run("ssh", files, **ssh_options(sshd, remote, known_hosts, key_file=str(stranger)))
    with pytest.raises(DeploymentFailed, match="The SSH key file .*missing does not exist"):
        run("ssh", files, **ssh_options(sshd, remote, known_hosts, key_file=str(tmp_path / "missing")))
    garbage = tmp_path / "garbage"
    garbage.write_text("not a key")
    with pytest.raises(DeploymentFailed, match="Cannot load the SSH key .*not a supported private key"):
        run("ssh", files, **ssh_options(sshd, remote, known_hosts, key_file=str(garbage)))
    assert not any(remote.iterdir())


def test_ssh_encrypted_key(files: DeployedFiles, sshd: SshdServer, known_hosts: Path, tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    remote.mkdir()
    key = ed25519.Ed25519PrivateKey.generate()
    encrypted = tmp_path / "encrypted"
    public = write_key(encrypted, key, passphrase=b"open sesame")
    with open(sshd.workdir / "authorized_keys", "a") as handle:
        handle.write(public + "\n")
    with pytest.raises(DeploymentFailed, match="is encrypted: set its passphrase"):
        run("ssh", files, **ssh_options(sshd, remote, known_hosts, key_file=str(encrypted)))
    with pytest.raises(DeploymentFailed, match="wrong passphrase"):
        run("ssh", files, **ssh_options(sshd, remote, known_hosts, key_file=str(encrypted), key_passphrase="nope"))
    run("ssh", files, **ssh_options(sshd, remote, known_hosts, key_file=str(encrypted),
                                    key_passphrase="open sesame"))
    assert (remote / "fullchain.pem").read_bytes() == files.fullchain.read_bytes()


def test_ssh_connection_problems(files: DeployedFiles, sshd: SshdServer, known_hosts: Path,
                                 tmp_path: Path) -> None:
    with pytest.raises(DeploymentFailed, match=r"The remote folder .*nowhere does not exist on"):
        run("ssh", files, **ssh_options(sshd, tmp_path / "nowhere", known_hosts))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
        with pytest.raises(DeploymentFailed, match=f"Cannot connect to .*@127.0.0.1:{closed}"):
            run("ssh", files, **ssh_options(sshd, tmp_path, known_hosts, port=closed))


# --- runner --------------------------------------------------------------------------------------


def command(script: str, **options: Any) -> dict[str, Any]:
    return {"type": "command", "options": {"command": sh(script), **options}}


def append_to(path: Path, word: str, **options: Any) -> dict[str, Any]:
    return {"title": word, **command(f"echo {word} >> '{path}'", **options)}


@posix_only
def test_runner_triggers_and_manual_tasks(files: DeployedFiles, tmp_path: Path) -> None:
    ran = tmp_path / "ran"
    tasks = [append_to(ran, "on-success"), append_to(ran, "on-failure", trigger="failure"),
             append_to(ran, "always", trigger="always"), append_to(ran, "by-hand", trigger="manual")]

    def words(succeeded: bool, manual: bool = False) -> tuple[list[str], list[TaskOutcome]]:
        ran.unlink(missing_ok=True)
        outcomes = run_tasks(tasks, TaskContext(files, succeeded), RequestLog(), manual=manual)
        return (ran.read_text().split() if ran.exists() else []), outcomes

    listed, outcomes = words(True)
    assert listed == ["on-success", "always"]
    assert [(o.title, o.ok, o.skipped) for o in outcomes] == [("on-success", True, False), ("always", True, False)]
    assert words(False)[0] == ["on-failure", "always"]
    assert words(True, manual=True)[0] == ["on-success", "always", "by-hand"]


@posix_only
def test_runner_retries(files: DeployedFiles, tmp_path: Path) -> None:
    counter = tmp_path / "count"
    # Fails on the first run, succeeds on the second.
    flaky = command(f"n=$(cat '{counter}' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '{counter}'; "
                    "[ $n -ge 2 ]", retries=3, retry_delay=7)
    slept: list[float] = []
    log = RequestLog()
    (outcome,) = run_tasks([flaky], TaskContext(files, True), log, sleep=slept.append)
    assert (outcome.ok, outcome.attempts, outcome.message) == (True, 2, "done on attempt 2 of 4")
    assert slept == [7] and counter.read_text() == "2\n"
    steps = [(e.step, e.message, e.ok) for e in log.events if e.step == "task"]
    assert steps == [
        ("task", "Run a command: run sh", None),
        ("task", "Run a command: attempt 1 of 4 failed: The command 'sh' failed with exit code 1; its output is "
                 "in the certificate's log.; retrying in 7 s", None),
        ("task", "Run a command: done on attempt 2 of 4", True),
    ]
    slept.clear()
    (outcome,) = run_tasks([command("exit 2", retries=2, retry_delay=1)], TaskContext(files, True), RequestLog(),
                           sleep=slept.append)
    assert (outcome.ok, outcome.attempts, outcome.skipped) == (False, 3, False)
    assert outcome.message.startswith("The command 'sh' failed with exit code 2") and slept == [1, 1]


@posix_only
def test_runner_stop_on_failure(files: DeployedFiles, tmp_path: Path) -> None:
    ran = tmp_path / "ran"
    tasks = [append_to(ran, "first"), {"title": "broken", **command("exit 4")}, append_to(ran, "third"),
             append_to(ran, "never-selected", trigger="failure"), append_to(ran, "fourth")]
    log = RequestLog()
    outcomes = run_tasks(tasks, TaskContext(files, True), log, sleep=lambda _: None)
    assert [(o.title, o.ok, o.skipped) for o in outcomes] == [
        ("first", True, False), ("broken", False, False), ("third", False, True), ("fourth", False, True)]
    assert outcomes[2].message == "skipped ('broken' failed)"
    assert ran.read_text().split() == ["first"]
    assert ("broken: The command 'sh' failed with exit code 4; its output is in the certificate's log.", False) in [
        (e.message, e.ok) for e in log.events]

    # Without stop_on_failure the following tasks still run.
    ran.unlink()
    tasks[1] = {"title": "broken", **command("exit 4", stop_on_failure=False)}
    outcomes = run_tasks(tasks, TaskContext(files, True), RequestLog())
    assert [(o.title, o.ok) for o in outcomes] == [("first", True), ("broken", False), ("third", True),
                                                  ("fourth", True)]
    assert ran.read_text().split() == ["first", "third", "fourth"]


def test_runner_reports_every_kind_of_task(files: DeployedFiles, hook: ThreadingHTTPServer, tmp_path: Path) -> None:
    tasks = [{"type": "export", "options": {"path": str(tmp_path / "out"), "formats": "pem,pkcs12"}},
             {"type": "webhook", "options": {"url": f"http://127.0.0.1:{hook.server_port}/fail",
                                             "stop_on_failure": False}, "title": "Tell the team"},
             {"type": "webhook", "options": {"url": f"http://127.0.0.1:{hook.server_port}/ok"}}]
    outcomes = run_tasks(tasks, TaskContext(files, True), RequestLog())
    assert [(o.title, o.type, o.ok) for o in outcomes] == [
        ("Export files", "export", True), ("Tell the team", "webhook", False), ("Call a webhook", "webhook", True)]
    assert (tmp_path / "out" / "site.pfx").exists()
    with pytest.raises(UsageError):
        run_tasks([{"type": "webhook", "options": {}}], TaskContext(files, True), RequestLog())
