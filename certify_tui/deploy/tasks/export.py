"""The `export` task: copy the certificate into a folder, in the formats other software reads.

- pem: cert.pem, chain.pem, fullchain.pem (0644) and privkey.pem (`mode`, default 0640);
- combined: `<name>.pem`, the key followed by the full chain in one file (HAProxy, some appliances);
- pkcs12: `<name>.pfx` with the key, the certificate and the chain (Windows, Java), optionally
  protected by a password.

Every file is replaced atomically: a reader sees the old file or the new one, never half of one.
Files holding a key are created with their final mode, so the key is never readable by others.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from certify_tui import paths
from certify_tui.deploy.base import DeploymentFailed, DeploymentTask, TaskContext
from certify_tui.errors import StorageError, UsageError
from certify_tui.plugins import Param, StepLogger

FORMATS = ("pem", "combined", "pkcs12")
ALIASES = {"pfx": "pkcs12", "p12": "pkcs12", "haproxy": "combined"}
CERT_MODE = 0o644


def parse_formats(text: str) -> tuple[str, ...]:
    parts = (part.strip().lower() for part in text.split(",") if part.strip())
    chosen = tuple(dict.fromkeys(ALIASES.get(part, part) for part in parts))
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        raise UsageError(f"export: option 'formats' must be a comma-separated list of {', '.join(FORMATS)}"
                         + (f", not '{unknown[0]}'." if unknown else "."))
    return chosen


def parse_mode(text: str) -> int:
    try:
        mode = int(str(text).strip(), 8)
    except ValueError:
        mode = -1
    if not 0 <= mode <= 0o777:
        raise UsageError(f"export: option 'mode' must be an octal permission such as 0640, not '{text}'.")
    return mode


class ExportTask(DeploymentTask):
    id = "export"
    listing_order = 10
    title = "Export files"
    description = "Copies the certificate and key into a folder as PEM files, a combined PEM or a PKCS#12 (.pfx)."
    params = (
        Param("path", "Folder", type="path", required=True,
              help="Where the files go; created if missing."),
        Param("formats", "Formats", default="pem",
              help="Comma-separated: pem (cert.pem, chain.pem, fullchain.pem, privkey.pem), combined "
                   "(<name>.pem: key + full chain, for HAProxy), pkcs12 or pfx (<name>.pfx)."),
        Param("pkcs12_password", "PKCS#12 password", secret=True,
              help="Protects the .pfx file; empty: no password."),
        Param("owner", "Owner", help="User owning the files (POSIX only), e.g. haproxy."),
        Param("group", "Group", help="Group owning the files (POSIX only), e.g. ssl-cert."),
        Param("mode", "Key file mode", default="0640",
              help="Permissions of the files holding the key (octal); certificates are 0644."),
        *DeploymentTask.COMMON_PARAMS,
    )

    @classmethod
    def validate_options(cls, raw: Mapping[str, Any]) -> dict[str, Any]:
        values = super().validate_options(raw)
        parse_formats(values["formats"])
        parse_mode(values["mode"])
        if not values["path"].strip():
            raise UsageError("export: option 'path' (Folder) cannot be empty.")
        return values

    def describe(self) -> str:
        return f"export {', '.join(parse_formats(self.options['formats']))} to {self.options['path']}"

    def run(self, context: TaskContext, log: StepLogger) -> None:
        folder = Path(os.path.expanduser(self.options["path"]))
        formats = parse_formats(self.options["formats"])
        key_mode = parse_mode(self.options["mode"])
        files = context.files
        cert, chain, fullchain, key = (_read(p) for p in (files.cert, files.chain, files.fullchain, files.privkey))
        uid, gid = self._ownership(log)

        outputs: list[tuple[str, bytes, int]] = []
        if "pem" in formats:
            outputs += [("cert.pem", cert, CERT_MODE), ("chain.pem", chain, CERT_MODE),
                        ("fullchain.pem", fullchain, CERT_MODE), ("privkey.pem", key, key_mode)]
        if "combined" in formats:
            outputs.append((f"{files.name}.pem", _ensure_newline(key) + fullchain, key_mode))
        if "pkcs12" in formats:
            outputs.append((f"{files.name}.pfx", self._pkcs12(files.name, key, fullchain), key_mode))

        if not folder.is_dir():
            try:
                folder.mkdir(mode=0o755, parents=True)
            except OSError as exc:
                raise DeploymentFailed(f"Cannot create the export folder {folder}: "
                                       f"{paths.os_error_reason(exc)}.") from None
            log.info(f"created the export folder {folder}")
        for filename, data, mode in outputs:
            target = folder / filename
            try:
                paths.atomic_write(target, data, mode=mode)
            except StorageError as exc:
                raise DeploymentFailed(exc.message) from None
            if uid != -1 or gid != -1:
                try:
                    os.chown(target, uid, gid)
                except OSError as exc:
                    raise DeploymentFailed(f"Cannot change the owner of {target}: "
                                           f"{paths.os_error_reason(exc)}.") from None
        log.info(f"exported {', '.join(name for name, _, _ in outputs)} to {folder}")

    def _ownership(self, log: StepLogger) -> tuple[int, int]:
        owner, group = (self.options.get("owner") or "").strip(), (self.options.get("group") or "").strip()
        if not owner and not group:
            return -1, -1
        if paths.IS_WINDOWS or not hasattr(os, "chown"):
            log.info("export: owner and group are ignored on Windows (access there is set by ACLs)")
            return -1, -1
        return _lookup(owner, "user"), _lookup(group, "group")

    def _pkcs12(self, name: str, key_pem: bytes, fullchain_pem: bytes) -> bytes:
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.serialization import pkcs12

        from certify_tui.keys import load_key

        try:
            key = load_key(key_pem)  # ECDSA or RSA, as every key we write
            certs = x509.load_pem_x509_certificates(fullchain_pem)
        except ValueError as exc:
            raise DeploymentFailed(f"Cannot build the PKCS#12 file: the certificate files are not valid PEM "
                                   f"({exc}).") from None
        except UsageError as exc:
            raise DeploymentFailed(f"Cannot build the PKCS#12 file: {exc.message}") from None
        password = (self.options.get("pkcs12_password") or "").encode()
        encryption = (serialization.BestAvailableEncryption(password) if password
                      else serialization.NoEncryption())
        return pkcs12.serialize_key_and_certificates(name.encode(), key, certs[0], certs[1:] or None,
                                                     encryption)


def _read(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise DeploymentFailed(f"Cannot read {path}: {paths.os_error_reason(exc)}.") from None


def _ensure_newline(data: bytes) -> bytes:
    return data if data.endswith(b"\n") else data + b"\n"


def _lookup(name: str, kind: str) -> int:
    if not name:
        return -1
    if name.isdigit():
        return int(name)
    import grp
    import pwd

    try:
        return pwd.getpwnam(name).pw_uid if kind == "user" else grp.getgrnam(name).gr_gid
    except KeyError:
        raise DeploymentFailed(f"There is no {kind} named '{name}' on this machine.") from None
