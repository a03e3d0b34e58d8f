"""The bundle file: one plain header line (format, version, key-derivation parameters), then AES-GCM.

The key is derived from a passphrase with scrypt (salt and parameters in the header); the whole JSON payload
is encrypted with AES-256-GCM, the header bytes bound in as associated data, so a header changed by hand (a
weaker parameter, another salt) fails like a wrong passphrase. A wrong passphrase and a damaged file cannot be
told apart by design: both are "cannot be decrypted", one line, nothing changed.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from certify_tui.errors import OperationError, UsageError

FORMAT = "certify-tui-bundle"
VERSION = 1
# scrypt's interactive-login strength from RFC 7914 section 2, doubled: 64 MiB and about 0.3 s to derive.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**16, 8, 1
# What a header may ask for: a damaged or hostile header must not make the import use gigabytes.
_MAX_N, _MAX_R, _MAX_P = 2**20, 32, 16
MIN_PASSPHRASE = 8  # characters: the only thing between the file and the account keys in it


class BundleUnreadable(OperationError):
    """Not a bundle, a damaged one, or the wrong passphrase: nothing was read from it."""


def check_passphrase(passphrase: str) -> str:
    if len(passphrase) < MIN_PASSPHRASE:
        raise UsageError(f"The passphrase is too short: use at least {MIN_PASSPHRASE} characters (it protects "
                         f"the account keys and secrets in the bundle).", field="passphrase")
    return passphrase


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _derive(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))


def seal_bundle(payload: dict[str, Any], passphrase: str) -> bytes:
    """The file's bytes: header line + newline + nonce and ciphertext (raw)."""
    check_passphrase(passphrase)
    salt, nonce = os.urandom(16), os.urandom(12)
    header = json.dumps({"format": FORMAT, "version": VERSION, "cipher": "AES-256-GCM",
                         "kdf": {"name": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P, "salt": _b64(salt)}},
                        sort_keys=True, separators=(",", ":")).encode("ascii")
    key = _derive(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return header + b"\n" + nonce + AESGCM(key).encrypt(nonce, body, header)


def read_header(data: bytes) -> dict[str, Any]:
    """The plain header, checked (format, version, bounded parameters); BundleUnreadable otherwise."""
    line, newline, _ = data.partition(b"\n")
    try:
        header = json.loads(line.decode("ascii")) if newline else None
    except (UnicodeDecodeError, ValueError):
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise BundleUnreadable("This file is not a certify-tui bundle (made by `certify-tui export bundle`).")
    if header.get("version") != VERSION:
        raise BundleUnreadable(f"This bundle has format version {header.get('version')!r}, which this version "
                               f"of certify-tui cannot read (it reads version {VERSION}): upgrade certify-tui.")
    kdf = header.get("kdf")
    ok = (isinstance(kdf, dict) and kdf.get("name") == "scrypt" and header.get("cipher") == "AES-256-GCM"
          and all(type(kdf.get(k)) is int for k in "nrp")
          and 2 <= kdf["n"] <= _MAX_N and kdf["n"] & (kdf["n"] - 1) == 0 and 1 <= kdf["r"] <= _MAX_R
          and 1 <= kdf["p"] <= _MAX_P and isinstance(kdf.get("salt"), str))
    if not ok:
        raise BundleUnreadable("This bundle's header is damaged (its key-derivation parameters are not valid).")
    return header


def open_bundle(data: bytes, passphrase: str) -> dict[str, Any]:
    """The payload; BundleUnreadable (one line) for a wrong passphrase or a damaged file."""
    header = read_header(data)
    line, _, sealed = data.partition(b"\n")
    kdf = header["kdf"]
    try:
        salt = base64.b64decode(kdf["salt"], validate=True)
        key = _derive(passphrase, salt, kdf["n"], kdf["r"], kdf["p"])
        body = AESGCM(key).decrypt(sealed[:12], sealed[12:], line)
        payload = json.loads(body.decode("utf-8"))
    except (InvalidTag, ValueError, binascii.Error, MemoryError):
        raise BundleUnreadable("The bundle cannot be decrypted: the passphrase is wrong or the file is damaged. "
                               "Nothing was changed.") from None
    if not isinstance(payload, dict):
        raise BundleUnreadable("The bundle's content is damaged (not an installation). Nothing was changed.")
    return payload
