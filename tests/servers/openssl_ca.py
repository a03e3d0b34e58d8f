"""A private CA made with `openssl ca` (index.txt, serials, CRLs), its CRL served over HTTP and
`openssl ocsp` as its OCSP responder: the real pieces a revocation check talks to.

The HTTP server also takes notification webhooks (POST /hook), so a test can see what was sent.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from servers.common import find_executable, free_port, stop_process, tail, wait_for


class OpenSSLNotFound(Exception):
    pass


CONFIG = """\
[ca]
default_ca = test_ca

[test_ca]
dir = {dir}
database = $dir/index.txt
new_certs_dir = $dir/newcerts
serial = $dir/serial
crlnumber = $dir/crlnumber
certificate = $dir/ca.pem
private_key = $dir/ca.key
default_md = sha256
default_days = 30
default_crl_days = 1
policy = policy_any
unique_subject = no
copy_extensions = none

[policy_any]
commonName = supplied

[ocsp_and_crl]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:${{ENV::LEAF_NAME}}
authorityInfoAccess = OCSP;URI:{ocsp_url}
crlDistributionPoints = URI:{crl_url}

[ocsp_only]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:${{ENV::LEAF_NAME}}
authorityInfoAccess = OCSP;URI:{ocsp_url}

[crl_only]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:${{ENV::LEAF_NAME}}
crlDistributionPoints = URI:{crl_url}
"""


class _Server(ThreadingHTTPServer):
    crl_path: Path
    crl_gets: int
    hooks: list[dict[str, Any]]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - http.server hook
        if self.path != "/ca.crl":
            self.send_error(404)
            return
        self.server.crl_gets += 1
        body = self.server.crl_path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "application/pkix-crl")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802 - http.server hook (apprise's json:// notifications)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.hooks.append(json.loads(body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass


class OpenSSLCA:
    """`start()` makes the CA, publishes an empty CRL and starts the responder; `stop()` ends both servers.

    `ocsp_url`/`crl_url` may point elsewhere (a closed port) to make certificates whose sources are down."""

    def __init__(self, workdir: Path, *, ocsp_url: str | None = None, crl_url: str | None = None) -> None:
        self.openssl = find_executable("OPENSSL", "openssl", OpenSSLNotFound,
                                       "install it: scripts/install-test-packages.sh")
        self.dir = workdir
        self.http = _Server(("127.0.0.1", 0), _Handler)
        self.http.crl_path, self.http.crl_gets, self.http.hooks = workdir / "ca.crl", 0, []
        self.ocsp_port = free_port()
        self.ocsp_url = ocsp_url or f"http://127.0.0.1:{self.ocsp_port}/"
        self.crl_url = crl_url or f"http://127.0.0.1:{self.http.server_address[1]}/ca.crl"
        self.hook_url = f"json://127.0.0.1:{self.http.server_address[1]}/hook"
        self.config = workdir / "openssl.cnf"
        self._thread: threading.Thread | None = None
        self._responder: subprocess.Popen[bytes] | None = None
        self._responder_log = workdir / "ocsp.log"
        self._signer = ("ca.pem", "ca.key")  # what the responder signs its answers with

    @property
    def crl_gets(self) -> int:
        return self.http.crl_gets

    @property
    def notifications(self) -> list[dict[str, Any]]:
        return self.http.hooks

    def run(self, *args: str | Path, env: dict[str, str] | None = None) -> str:
        done = subprocess.run([str(self.openssl), *map(str, args)], capture_output=True, text=True, cwd=self.dir,
                              env={**os.environ, "LEAF_NAME": "unused.example.test", **(env or {})}, timeout=60)
        if done.returncode != 0:
            raise AssertionError(f"openssl {' '.join(map(str, args))} failed: {done.stderr}")
        return done.stdout

    def start(self) -> OpenSSLCA:
        (self.dir / "newcerts").mkdir(parents=True)
        (self.dir / "index.txt").write_text("")
        (self.dir / "serial").write_text("1000\n")
        (self.dir / "crlnumber").write_text("01\n")
        self.config.write_text(CONFIG.format(dir=self.dir, ocsp_url=self.ocsp_url, crl_url=self.crl_url))
        self.run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", "ca.key", "-out", "ca.pem", "-days", "30", "-subj", "/CN=Revocation Test CA",
                 "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        self.publish_crl()
        self._thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self._thread.start()
        self._start_responder()
        return self

    def _start_responder(self) -> None:
        """A real responder process, signing with the CA's own key (unless impersonated). OpenSSL 3.0's reads index.txt once, so it
        is restarted (same port) whenever the CA's database changes."""
        stop_process(self._responder)
        self._responder = subprocess.Popen(
            [str(self.openssl), "ocsp", "-index", "index.txt", "-port", str(self.ocsp_port), "-CA", "ca.pem",
             "-rsigner", self._signer[0], "-rkey", self._signer[1], "-ndays", "1"],
            cwd=self.dir, stdout=self._responder_log.open("wb"), stderr=subprocess.STDOUT)
        wait_for(self._responder_listens, timeout=15, what=f"openssl ocsp on port {self.ocsp_port}")

    def _responder_listens(self) -> bool:
        # Its log, not a probe connection: OpenSSL 3.0's responder hangs on a connection closed unasked.
        if self._responder is not None and self._responder.poll() is not None:
            raise AssertionError(f"openssl ocsp exited: {tail(self._responder_log)}")
        return b"waiting for OCSP client connections" in self._responder_log.read_bytes()

    def stop(self) -> None:
        stop_process(self._responder)
        self.http.shutdown()
        self.http.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def issue(self, name: str, *, extensions: str = "ocsp_and_crl") -> tuple[bytes, bytes, Path]:
        """A leaf for `name` signed by `openssl ca`: (fullchain PEM, key PEM, the leaf's file for revoke)."""
        key, csr, leaf = (self.dir / f"{name}.{ext}" for ext in ("key", "csr", "pem"))
        self.run("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", key, "-out", csr, "-subj", f"/CN={name}")
        self.run("ca", "-batch", "-config", self.config, "-extensions", extensions, "-notext", "-in", csr,
                 "-out", leaf, env={"LEAF_NAME": name})
        self._start_responder()
        return leaf.read_bytes() + (self.dir / "ca.pem").read_bytes(), key.read_bytes(), leaf

    def revoke(self, leaf: Path, reason: str) -> None:
        """Revoke in the CA's database (what the responder answers from) and publish a new CRL."""
        self.run("ca", "-config", self.config, "-revoke", leaf, "-crl_reason", reason)
        self.publish_crl()
        self._start_responder()

    def impersonate_responder(self) -> None:
        """From now on the responder signs with a key the CA never certified (a forged answer)."""
        self.run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", "impostor.key", "-out", "impostor.pem", "-days", "30", "-subj", "/CN=Revocation Test CA")
        self._signer = ("impostor.pem", "impostor.key")
        self._start_responder()

    def publish_crl(self) -> None:
        self.run("ca", "-config", self.config, "-gencrl", "-out", "ca.crl.pem")
        self.run("crl", "-in", "ca.crl.pem", "-outform", "DER", "-out", "ca.crl.tmp")
        (self.dir / "ca.crl.tmp").replace(self.dir / "ca.crl")  # the server never reads half a file
