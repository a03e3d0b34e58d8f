"""`certify-tui cert import` (issue 12, part 2): certificates made by openssl (a private CA with `openssl ca`, a
PKCS#12 from `openssl pkcs12 -export`) become managed ones whose names come from the certificate, renewed over
ACME (Pebble) when due; a key that does not match, an expired certificate and an unsupported key type each get
a clear message."""

from __future__ import annotations

import json
import os
import pty
import subprocess
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers import add_account, open_core, start_cli, unique

from certify_tui.lifecycle import Core

opened = contextmanager(open_core)


def openssl(*args: str, cwd: Path) -> None:
    proc = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


class PrivateCA:
    """A root and an intermediate made with openssl; leaves signed by the intermediate with `openssl ca`."""

    def __init__(self, folder: Path) -> None:
        self.dir = folder
        folder.mkdir()
        (folder / "issued").mkdir()
        (folder / "index.txt").write_text("")
        (folder / "serial").write_text("1000\n")
        (folder / "ca.cnf").write_text(
            f"[ca]\ndefault_ca = here\n[here]\ndir = {folder}\ndatabase = {folder}/index.txt\n"
            f"new_certs_dir = {folder}/issued\nserial = {folder}/serial\ndefault_md = sha256\n"
            f"policy = any\ncopy_extensions = copy\nunique_subject = no\n[any]\ncommonName = supplied\n"
            f"[intermediate]\nbasicConstraints = critical,CA:true\nkeyUsage = critical,keyCertSign,cRLSign\n")
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "30",
                "-subj", "/CN=Import Test Root", "-keyout", "root.key", "-out", "root.pem", cwd=folder)
        openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-subj", "/CN=Import Test Intermediate", "-keyout", "inter.key", "-out", "inter.csr", cwd=folder)
        self._sign("inter.csr", "inter.pem", "root", "-extensions", "intermediate", "-days", "30")

    def _sign(self, csr: str, out: str, issuer: str, *extra: str) -> None:
        openssl("ca", "-batch", "-notext", "-config", "ca.cnf", "-cert", f"{issuer}.pem", "-keyfile",
                f"{issuer}.key", "-in", csr, "-out", out, *extra, cwd=self.dir)

    def leaf(self, name: str, names: list[str], *, key: tuple[str, ...] = ("ec", "-pkeyopt",
             "ec_paramgen_curve:P-256"), expired: bool = False) -> tuple[Path, Path]:
        san = ",".join(f"DNS:{n}" for n in names)
        openssl("req", "-new", "-newkey", *key, "-nodes", "-subj", f"/CN={names[0]}", "-addext",
                f"subjectAltName={san}", "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=self.dir)
        dates = ("-startdate", "20240101000000Z", "-enddate", "20240401000000Z") if expired else ("-days", "20")
        self._sign(f"{name}.csr", f"{name}.pem", "inter", *dates)
        return self.dir / f"{name}.pem", self.dir / f"{name}.key"


@pytest.fixture
def ca(tmp_path: Path) -> PrivateCA:
    return PrivateCA(tmp_path / "ca")


@pytest.fixture
def account(data_dir: Path, pebble) -> None:
    with opened(data_dir) as core:
        add_account(core, pebble)


def cli(data_dir: Path, *args: str) -> tuple[int, str, str]:
    proc = start_cli(data_dir, "cert", *args)
    out, err = proc.communicate(timeout=120)
    assert "Traceback" not in err, err
    return proc.returncode, out, err


def view(data_dir: Path, name: str) -> dict:
    with opened(data_dir) as core:
        return core.certificate_view(core.get_certificate(name))
    raise AssertionError


def test_cert_import_pem_pair_then_renewed_over_acme(data_dir: Path, pebble, ca: PrivateCA, account: None) -> None:
    host = unique("pem") + ".example.test"
    cert, key = ca.leaf("pem", [host, f"www.{host}"])
    # The chain apart and out of order (root before intermediate): put in order on import.
    (ca.dir / "chain.pem").write_bytes((ca.dir / "root.pem").read_bytes() + (ca.dir / "inter.pem").read_bytes())
    code, out, err = cli(data_dir, "import", "web", "--cert", str(cert), "--key", str(key), "--chain",
                         str(ca.dir / "chain.pem"), "--provider", "standalone", "-o", "address=127.0.0.1",
                         "-o", f"port={pebble.http_port}")
    assert code == 0, err
    assert out.startswith(f"Imported web: {host}, www.{host} (ec256)")
    shown = view(data_dir, "web")
    assert shown["identifiers"] == [host, f"www.{host}"] and shown["status"] == "valid"
    assert shown["issuer"] == "CN=Import Test Intermediate"
    live = Path(shown["files"]["fullchain"]).read_bytes()
    assert live == cert.read_bytes() + (ca.dir / "inter.pem").read_bytes() + (ca.dir / "root.pem").read_bytes()
    assert Path(shown["files"]["privkey"]).stat().st_mode & 0o077 == 0

    proc = start_cli(data_dir, "renew", "web", "--force", "--json")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, out + err
    renewed = view(data_dir, "web")
    assert renewed["serial"] != shown["serial"] and "Pebble" in renewed["issuer"]


def test_cert_import_pfx_with_password_from_env_and_file(data_dir: Path, pebble, ca: PrivateCA,
                                                         account: None, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    host = unique("pfx") + ".example.test"
    cert, key = ca.leaf("pfx", [host], key=("rsa:2048",))
    (tmp_path / "pass.txt").write_text("s3cret pass\n")
    openssl("pkcs12", "-export", "-in", str(cert), "-inkey", str(key), "-certfile", str(ca.dir / "inter.pem"),
            "-passout", f"file:{tmp_path / 'pass.txt'}", "-out", "site.pfx", cwd=ca.dir)
    pfx = str(ca.dir / "site.pfx")

    code, _, err = cli(data_dir, "import", "shop", "--pfx", pfx)  # no terminal: no prompt
    assert code == 2 and "The PFX is protected by a password" in err
    code, _, err = cli(data_dir, "import", "shop", "--pfx", pfx, "--password", "s3cret pass")
    assert code == 2 and "never the password itself" in err
    monkeypatch.setenv("PFX_PASS", "wrong")
    code, _, err = cli(data_dir, "import", "shop", "--pfx", pfx, "--password", "env:PFX_PASS")
    assert code == 2 and "The PFX password is wrong" in err

    monkeypatch.setenv("PFX_PASS", "s3cret pass")
    code, out, err = cli(data_dir, "import", "shop", "--pfx", pfx, "--password", "env:PFX_PASS", "--json")
    assert code == 0, err
    shown = json.loads(out)
    assert shown["identifiers"] == [host] and shown["key_type"] == "rsa2048" and shown["expired"] is False
    assert Path(shown["files"]["chain"]).read_bytes() == (ca.dir / "inter.pem").read_bytes()

    code, out, err = cli(data_dir, "import", "shop2", "--pfx", pfx, "--password", f"@{tmp_path / 'pass.txt'}")
    assert code == 0, err  # the same certificate under another name: a file's password works too

    main, side = pty.openpty()  # a person at a terminal is asked
    try:
        proc = start_cli(data_dir, "cert", "import", "shop3", "--pfx", pfx, stdin=side, start_new_session=True)
        os.close(side)
        asked = ""
        while not asked.endswith("(not shown): "):  # typed after the question (getpass flushes earlier input)
            char = proc.stderr.read(1) if proc.stderr else ""
            assert char, f"no password prompt: {asked!r}"
            asked += char
        os.write(main, b"s3cret pass\n")
        out, err = proc.communicate(timeout=60)
    finally:
        os.close(main)
    assert proc.returncode == 0, asked + err
    assert asked.endswith("PFX password (not shown): ") and "s3cret" not in out + err


def test_cert_import_refuses_what_cannot_be_managed(data_dir: Path, pebble, ca: PrivateCA, account: None) -> None:
    cert, _ = ca.leaf("one", [unique("one") + ".example.test"])
    _, other_key = ca.leaf("two", [unique("two") + ".example.test"])
    code, out, err = cli(data_dir, "import", "mixed", "--cert", str(cert), "--key", str(other_key), "--json")
    assert code == 2 and "The private key does not belong to the certificate" in err
    assert json.loads(out)["field"] == "key"

    ed_cert, ed_key = ca.leaf("ed", [unique("ed") + ".example.test"], key=("ed25519",))
    code, _, err = cli(data_dir, "import", "ed", "--cert", str(ed_cert), "--key", str(ed_key))
    assert code == 2 and "Ed25519 keys are not supported" in err

    big_cert, big_key = ca.leaf("p521", [unique("big") + ".example.test"],
                                key=("ec", "-pkeyopt", "ec_paramgen_curve:P-521"))
    code, _, err = cli(data_dir, "import", "big", "--cert", str(big_cert), "--key", str(big_key))
    assert code == 2 and "The key is secp521r1, which is not supported" in err

    code, _, err = cli(data_dir, "import", "half", "--cert", str(cert))
    assert code == 2 and "Give --cert FILE and --key FILE" in err
    with opened(data_dir) as core:
        assert core.list_certificates() == []  # nothing half-imported


def test_cert_import_expired_is_allowed_and_flagged(data_dir: Path, pebble, ca: PrivateCA, account: None) -> None:
    host = unique("old") + ".example.test"
    cert, key = ca.leaf("old", [host], expired=True)
    code, out, err = cli(data_dir, "import", "old", "--cert", str(cert), "--key", str(key))
    assert code == 0, err
    assert "expired on 2024-04-01: it is due for renewal now" in err
    shown = view(data_dir, "old")
    assert shown["status"] == "expired" and shown["renew_reason"] == "the imported certificate has expired"
    assert datetime.fromisoformat(shown["renews_at"]) <= datetime.now(UTC)  # due at once


def test_cert_import_core_keeps_nothing_when_the_files_are_refused(data_dir: Path, pebble, ca: PrivateCA,
                                                                    account: None) -> None:
    from certify_tui.lifecycle.cert_import import from_pem

    cert, key = ca.leaf("bad", [unique("bad") + ".example.test"])
    bundle = from_pem(cert.read_bytes(), key.read_bytes())
    broken = bundle.__class__(b"not a certificate", bundle.key_pem, bundle.names, bundle.key_type,
                              bundle.not_after)
    core = Core.open(str(data_dir))
    try:
        with pytest.raises(Exception, match="no PEM certificate"):
            core.import_certificate("bad", broken)
        assert core.list_certificates() == []
        assert not (core.data.certificates / "bad").exists()
    finally:
        core.close()
