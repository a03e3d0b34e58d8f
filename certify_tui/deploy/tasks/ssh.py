"""The `ssh` task: copy the certificate files to another machine over SFTP, then optionally run a command there.

Key authentication only (no passwords, no agent). The server's host key must already be in the
known_hosts file; with `insecure_accept_new` an unknown key is accepted once and recorded there
(trust on first use), and a key that changed is always refused.

Each file is uploaded under a temporary name and renamed over the old one (posix-rename when the
server offers it), so a service reading it never sees half a file; key files are made 0600 before
a single byte is written.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import secrets
import socket
import stat
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from certify_tui.deploy.base import DeploymentFailed, DeploymentTask, TaskContext
from certify_tui.deploy.tasks.command import log_output
from certify_tui.errors import UsageError
from certify_tui.plugins import Param, StepLogger

if TYPE_CHECKING:
    import paramiko

ROLES = ("cert", "chain", "fullchain", "privkey")
KEY_ROLES = frozenset({"privkey"})
DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"
MAX_OUTPUT_BYTES = 1 << 20


def parse_roles(text: str) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(part.strip().lower() for part in text.split(",") if part.strip()))
    unknown = [r for r in chosen if r not in ROLES]
    if unknown or not chosen:
        raise UsageError(f"ssh: option 'files' must be a comma-separated list of {', '.join(ROLES)}"
                         + (f", not '{unknown[0]}'." if unknown else "."))
    return chosen


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH's SHA256 fingerprint, as `ssh-keygen -lf` and ssh's own prompt show it."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


class SshTask(DeploymentTask):
    id = "ssh"
    listing_order = 50
    title = "Copy over SSH"
    description = ("Copies the certificate files to another machine over SFTP (key authentication), "
                   "then optionally runs a command there.")
    params = (
        Param("host", "Host", required=True, help="The machine to copy to (name or address)."),
        Param("port", "Port", type="int", default=22, minimum=1, maximum=65535),
        Param("username", "User", required=True),
        Param("key_file", "Private key file", type="path", required=True, exists="file",
              help="The SSH private key to log in with (key authentication only)."),
        Param("key_passphrase", "Key passphrase", secret=True, help="If the private key is encrypted."),
        Param("known_hosts", "known_hosts file", type="path", default=DEFAULT_KNOWN_HOSTS,
              help="Where the server's host key is checked."),
        Param("insecure_accept_new", "Accept an unknown host key", type="bool", default=False,
              help="Trust the server's key the first time and record it in known_hosts (a changed key is "
                   "still refused). Safer: add the key to known_hosts yourself."),
        Param("remote_dir", "Remote folder", required=True, help="An existing folder on the server."),
        Param("files", "Files", default="fullchain,privkey",
              help="Comma-separated: cert, chain, fullchain, privkey; each is copied as <role>.pem."),
        Param("remote_command", "Remote command",
              help="Run on the server after the copy (e.g. 'systemctl reload nginx'); a non-zero exit fails "
                   "the task."),
        Param("timeout", "Timeout (s)", type="int", default=60, minimum=1, maximum=3600,
              help="For connecting, and for the remote command."),
        *DeploymentTask.COMMON_PARAMS,
    )

    @classmethod
    def validate_options(cls, raw: Mapping[str, Any]) -> dict[str, Any]:
        values = super().validate_options(raw)
        parse_roles(values["files"])
        for key in ("host", "username", "key_file", "remote_dir"):
            values[key] = values[key].strip()
            if not values[key]:
                raise UsageError(f"ssh: option '{key}' cannot be empty.")
        return values

    def describe(self) -> str:
        o = self.options
        port = f":{o['port']}" if o["port"] != 22 else ""
        then = ", then run a remote command" if o.get("remote_command") else ""
        return f"copy {', '.join(parse_roles(o['files']))} to {o['username']}@{o['host']}{port}:{o['remote_dir']}{then}"

    # -- running -------------------------------------------------------------------------------

    def run(self, context: TaskContext, log: StepLogger) -> None:
        import paramiko

        o = self.options
        uploads = [(f"{role}.pem", _read(getattr(context.files, role)), 0o600 if role in KEY_ROLES else 0o644)
                   for role in parse_roles(o["files"])]
        key = self._load_key()
        where = f"{o['username']}@{o['host']}:{o['port']}"
        client = paramiko.SSHClient()
        try:
            self._connect(client, key, where, log)
            sftp = client.open_sftp()
            try:
                self._upload(sftp, uploads, where, log)
            finally:
                sftp.close()
            if o.get("remote_command"):
                self._remote_command(client, where, log)
        except DeploymentFailed:
            raise
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise DeploymentFailed(f"The SSH session with {where} failed: {_reason(exc)}.") from None
        finally:
            client.close()

    def _load_key(self) -> paramiko.PKey:
        import paramiko

        path = Path(os.path.expanduser(self.options["key_file"]))
        passphrase = self.options.get("key_passphrase") or None
        try:
            return paramiko.PKey.from_path(path, passphrase.encode() if passphrase else None)
        except FileNotFoundError:
            raise DeploymentFailed(f"The SSH key file {path} does not exist.") from None
        except OSError as exc:
            raise DeploymentFailed(f"Cannot read the SSH key {path}: {exc.strerror or exc}.") from None
        except (paramiko.PasswordRequiredException, TypeError) as exc:
            # cryptography says "password was not provided" with a TypeError; paramiko with its own exception.
            if passphrase is None and ("password" in str(exc).lower()
                                       or isinstance(exc, paramiko.PasswordRequiredException)):
                raise DeploymentFailed(f"The SSH key {path} is encrypted: set its passphrase in the task.") from None
            raise DeploymentFailed(f"Cannot load the SSH key {path} (not a supported private key).") from None
        except (paramiko.SSHException, ValueError):
            what = "wrong passphrase, or not" if passphrase else "not"
            raise DeploymentFailed(f"Cannot load the SSH key {path} ({what} a supported private key).") from None

    def _connect(self, client: paramiko.SSHClient, key: paramiko.PKey, where: str, log: StepLogger) -> None:
        import paramiko

        o = self.options
        known_hosts = Path(os.path.expanduser(o["known_hosts"]))
        if known_hosts.is_file():
            try:
                client.load_host_keys(str(known_hosts))
            except (OSError, paramiko.SSHException) as exc:
                raise DeploymentFailed(f"Cannot read the known_hosts file {known_hosts}: {_reason(exc)}.") from None
        client.set_missing_host_key_policy(_host_key_policy(known_hosts, o["insecure_accept_new"], log))
        try:
            client.connect(o["host"], port=o["port"], username=o["username"], pkey=key, allow_agent=False,
                           look_for_keys=False, timeout=o["timeout"], banner_timeout=o["timeout"],
                           auth_timeout=o["timeout"])
        except DeploymentFailed:
            raise
        except paramiko.BadHostKeyException as exc:
            raise DeploymentFailed(f"The host key of {o['host']} has CHANGED (it is now {fingerprint(exc.key)}); "
                                   f"if that is expected, remove its old entry from {known_hosts}.") from None
        except paramiko.AuthenticationException:
            raise DeploymentFailed(f"{where} refused the key {o['key_file']} (is its public key in the "
                                   f"server's authorized_keys for {o['username']}?).") from None
        except socket.gaierror:
            raise DeploymentFailed(f"Cannot resolve the SSH host {o['host']}.") from None
        except TimeoutError:
            raise DeploymentFailed(f"{where} did not answer within {o['timeout']} s.") from None
        except paramiko.ssh_exception.NoValidConnectionsError:
            raise DeploymentFailed(f"Cannot connect to {where}: connection refused.") from None
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise DeploymentFailed(f"Cannot connect to {where}: {_reason(exc)}.") from None
        log.info(f"ssh: logged in to {where}")

    def _upload(self, sftp: paramiko.SFTPClient, uploads: list[tuple[str, bytes, int]], where: str,
                log: StepLogger) -> None:
        remote_dir = self.options["remote_dir"].rstrip("/") or "/"
        try:
            attrs = sftp.stat(remote_dir)
        except OSError:
            raise DeploymentFailed(f"The remote folder {remote_dir} does not exist on {where}.") from None
        if attrs.st_mode is not None and not stat.S_ISDIR(attrs.st_mode):
            raise DeploymentFailed(f"{remote_dir} on {where} is not a folder.")
        pending: list[str] = []
        try:
            for name, data, mode in uploads:
                final = f"{remote_dir.rstrip('/')}/{name}"
                temp = f"{remote_dir.rstrip('/')}/.{name}.{secrets.token_hex(6)}.tmp"
                pending.append(temp)
                try:
                    with sftp.open(temp, "wb") as handle:
                        handle.chmod(mode)  # before any byte: a key is never readable by others
                        handle.set_pipelined(True)
                        handle.write(data)
                except OSError as exc:
                    raise DeploymentFailed(f"Cannot write {final} on {where}: {_reason(exc)}.") from None
                _replace(sftp, temp, final, where)
                pending.remove(temp)
        finally:
            for temp in pending:
                with contextlib.suppress(OSError):
                    sftp.remove(temp)
        log.info(f"ssh: copied {', '.join(name for name, _, _ in uploads)} to {where}{remote_dir}")

    def _remote_command(self, client: paramiko.SSHClient, where: str, log: StepLogger) -> None:
        timeout = self.options["timeout"]
        transport = client.get_transport()
        assert transport is not None
        channel = transport.open_session(timeout=timeout)
        try:
            channel.set_combine_stderr(True)
            channel.settimeout(1.0)
            channel.exec_command(self.options["remote_command"])
            deadline = time.monotonic() + timeout
            chunks: list[bytes] = []
            size = 0
            while True:
                if time.monotonic() > deadline:
                    log_output(b"".join(chunks), "remote", log)
                    raise DeploymentFailed(f"The remote command on {where} did not finish within {timeout} s.")
                try:
                    chunk = channel.recv(65536)
                except TimeoutError:
                    continue
                if not chunk:
                    break
                if size < MAX_OUTPUT_BYTES:
                    chunks.append(chunk)
                    size += len(chunk)
            remaining = max(0.0, deadline - time.monotonic())
            if not channel.status_event.wait(remaining):
                raise DeploymentFailed(f"The remote command on {where} did not finish within {timeout} s.")
            status = channel.recv_exit_status()
        finally:
            channel.close()
        log_output(b"".join(chunks), "remote", log)
        if status != 0:
            what = "was ended by a signal" if status == -1 else f"failed with exit code {status}"
            raise DeploymentFailed(f"The remote command on {where} {what}; its output is in the certificate's log.")
        log.info(f"ssh: the remote command on {where} succeeded")


def _host_key_policy(known_hosts: Path, accept_new: bool, log: StepLogger) -> paramiko.MissingHostKeyPolicy:
    """Unknown host key: refuse, naming its fingerprint; or (accept_new) record it in known_hosts and go on.
    Built here, not at module level: paramiko is imported only when a task runs."""
    import paramiko

    class HostKeyPolicy(paramiko.MissingHostKeyPolicy):
        def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
            printed = f"{key.get_name()} {fingerprint(key)}"
            if not accept_new:
                raise DeploymentFailed(f"The host key of {hostname} ({printed}) is not in {known_hosts}; "
                                       "check the fingerprint and add it there, or allow accepting a new "
                                       "host key.")
            line = paramiko.hostkeys.HostKeyEntry([hostname], key).to_line()
            if line is None:  # paramiko's answer for an entry without names or key; this one has both
                raise DeploymentFailed(f"Cannot write a known_hosts line for {hostname}.")
            try:
                known_hosts.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                fd = os.open(known_hosts, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                with os.fdopen(fd, "a", encoding="utf-8") as handle:
                    handle.write(line)
            except OSError as exc:
                raise DeploymentFailed(f"Cannot record the host key of {hostname} in {known_hosts}: "
                                       f"{exc.strerror or exc}.") from None
            client.get_host_keys().add(hostname, key.get_name(), key)
            log.info(f"ssh: accepted the new host key of {hostname} ({printed}) and recorded it in "
                     f"{known_hosts}")

    return HostKeyPolicy()


def _replace(sftp: paramiko.SFTPClient, temp: str, final: str, where: str) -> None:
    try:
        sftp.posix_rename(temp, final)
        return
    except OSError:
        pass  # the server has no posix-rename extension (or it failed): plain SFTP rename below
    with contextlib.suppress(OSError):
        sftp.remove(final)  # SFTP's own rename refuses to overwrite
    try:
        sftp.rename(temp, final)
    except OSError as exc:
        raise DeploymentFailed(f"Cannot put {final} in place on {where}: {_reason(exc)}.") from None


def _read(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise DeploymentFailed(f"Cannot read {path}: {exc.strerror or exc}.") from None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
