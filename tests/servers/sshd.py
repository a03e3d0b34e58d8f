"""Start a throwaway OpenSSH server on a free loopback port, for the SSH deployment task's tests.

Everything lives in a temporary folder: an Ed25519 host key, the configuration, authorized_keys with
one client key made per server (also in the folder, OpenSSH format, no passphrase), the pid file.
Key authentication only; root may log in with a key (tests run as root in CI containers); SFTP is the
in-process internal-sftp. Each pytest-xdist worker starts its own server.
"""

from __future__ import annotations

import getpass
import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from servers.common import find_executable, free_port, stop_process, tail

START_TIMEOUT = 15.0
PRIVSEP_DIR = Path("/run/sshd")  # Debian's sshd refuses to start as root without it


class SshdNotFound(RuntimeError):
    """sshd is not installed."""


class SshdStartError(RuntimeError):
    """sshd did not come up."""


def find_sshd() -> Path:
    return find_executable("SSHD_BIN", "sshd", SshdNotFound,
                           "install OpenSSH's server (Debian: apt-get install openssh-server)")


def write_key(path: Path, key: ed25519.Ed25519PrivateKey, passphrase: bytes | None = None) -> str:
    """Write `key` in OpenSSH format (0600); return its authorized_keys / known_hosts public line."""
    encryption = (serialization.BestAvailableEncryption(passphrase) if passphrase
                  else serialization.NoEncryption())
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, encryption))
    os.chmod(path, 0o600)
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return public.decode()


def new_key(path: Path, passphrase: bytes | None = None) -> str:
    return write_key(path, ed25519.Ed25519PrivateKey.generate(), passphrase)




class SshdServer:
    """A running sshd; use as a context manager or call start()/stop()."""

    def __init__(self) -> None:
        self.sshd = find_sshd()
        self.host = "127.0.0.1"
        self.port = 0
        self.username = getpass.getuser()
        self.host_public_line = ""  # "ssh-ed25519 AAAA..."
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def workdir(self) -> Path:
        assert self._tmp is not None, "server not started"
        return Path(self._tmp.name)

    @property
    def client_key(self) -> Path:
        """The private key authorized_keys accepts."""
        return self.workdir / "client_ed25519"

    @property
    def log_path(self) -> Path:
        return self.workdir / "sshd.log"

    @property
    def known_hosts_name(self) -> str:
        """How known_hosts names this server (OpenSSH and paramiko: [host]:port for a port other than 22)."""
        return f"[{self.host}]:{self.port}"

    def known_hosts_line(self) -> str:
        return f"{self.known_hosts_name} {self.host_public_line}\n"

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self, attempts: int = 3) -> Self:
        self._tmp = tempfile.TemporaryDirectory(prefix="sshd-")
        d = self.workdir
        os.chmod(d, 0o700)
        self.host_public_line = new_key(d / "host_ed25519")
        (d / "authorized_keys").write_text(new_key(self.client_key) + "\n")
        if os.geteuid() == 0 and not PRIVSEP_DIR.is_dir():
            PRIVSEP_DIR.mkdir(mode=0o755, parents=True, exist_ok=True)
        for attempt in range(1, attempts + 1):
            try:
                self._start_once()
                return self
            except SshdStartError as exc:
                self._stop_proc()
                if attempt == attempts or "address already in use" not in str(exc).lower():
                    self.stop()
                    raise
        raise AssertionError("unreachable")

    def _start_once(self) -> None:
        self.port = free_port()
        d = self.workdir
        conf = d / "sshd_config"
        conf.write_text(self._config())
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        # -D: no daemon; -e: log to stderr (our log file).
        self._proc = subprocess.Popen([str(self.sshd), "-D", "-e", "-f", str(conf), "-p", str(self.port)],
                                      stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, cwd=d)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise SshdStartError(f"sshd exited with {self._proc.returncode}:\n{tail(self.log_path)}")
            if self._banner():
                return
            time.sleep(0.05)
        raise SshdStartError(f"sshd not ready after {START_TIMEOUT:.0f}s:\n{tail(self.log_path)}")

    def _banner(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=1) as s:
                return s.recv(64).startswith(b"SSH-2.0-")
        except OSError:
            return False

    def _config(self) -> str:
        d = self.workdir
        return f"""\
ListenAddress {self.host}
HostKey {d}/host_ed25519
PidFile {d}/sshd.pid
AuthorizedKeysFile {d}/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
UseDNS no
PrintMotd no
LogLevel VERBOSE
Subsystem sftp internal-sftp
"""

    def stop(self) -> None:
        self._stop_proc()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def _stop_proc(self) -> None:
        stop_process(self._proc, self._log)
        self._proc = self._log = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
