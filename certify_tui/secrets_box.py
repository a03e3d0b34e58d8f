"""Secrets encrypted at rest: account keys, credentials and secret plug-in options in the database.

A sealed value is a string `sealed:v1:<key id>:<base64 of nonce + AES-GCM ciphertext>`. The key (32 random
bytes) is kept apart from the database, so a copied database or backup alone reveals nothing: it comes from
$CERTIFY_TUI_SECRET_KEY (base64, for fleets sharing one database) or else from a 0600 file `secret.key` in the
data folder, created at the first secret stored. (The OS keyring is not used: not a dependency.)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import threading
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from certify_tui.errors import StorageError
from certify_tui.paths import ensure_private_dir, os_error_reason, write_private_file

ENV_SECRET_KEY = "CERTIFY_TUI_SECRET_KEY"
KEY_FILE_NAME = "secret.key"
PREFIX = "sealed:v1:"
_CONTEXT = b"certify-tui secret v1"  # bound into every ciphertext: a token is only ever one of ours

_lock = threading.Lock()
_key_file: Path | None = None
_cached: tuple[Path | None, str | None, bytes] | None = None  # (file, env value, key) last read


class SecretKeyError(StorageError):
    """The key that sealed the database's secrets is not the one available (or none is)."""


def use_key_file(path: Path) -> None:
    """The key file of the data folder in use (set when the database is opened)."""
    global _key_file, _cached
    with _lock:
        if _key_file != path:
            _key_file, _cached = path, None


def key_file() -> Path | None:
    return _key_file


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def seal(plain: str) -> str:
    """`plain` encrypted with the key (created at first need); a sealed value is returned as it is."""
    if is_sealed(plain):
        return plain
    key = _key(create=True)
    if key is None:  # only without a key file to create one in (never with create=True and a data folder)
        raise StorageError("No secret key is available to encrypt with.")
    nonce = os.urandom(12)
    box = AESGCM(key).encrypt(nonce, plain.encode("utf-8"), _CONTEXT)
    return f"{PREFIX}{_key_id(key)}:{base64.urlsafe_b64encode(nonce + box).decode('ascii')}"


def reveal(value: str) -> str:
    """The plain text of a sealed value (a plain value, as stored by older versions, is returned as it is).
    Raises SecretKeyError, naming the fix, when the key is missing or another one."""
    if not is_sealed(value):
        return value
    key_id, _, body = value[len(PREFIX):].partition(":")
    key = _key(create=False)
    if key is None or _key_id(key) != key_id:
        raise _wrong_key(key is None)
    try:
        raw = base64.urlsafe_b64decode(body.encode("ascii"))
        return AESGCM(key).decrypt(raw[:12], raw[12:], _CONTEXT).decode("utf-8")
    except (InvalidTag, ValueError, binascii.Error):
        raise _wrong_key(False) from None


def try_reveal(value: str) -> str:
    """`reveal`, or the sealed value itself when the key cannot open it: reading a row never fails for a
    secret nobody uses yet; the use (see `reveal`) says what is wrong."""
    try:
        return reveal(value)
    except SecretKeyError:
        return value


def _wrong_key(missing: bool) -> SecretKeyError:
    where = str(_key_file) if _key_file is not None else f"the data folder's {KEY_FILE_NAME}"
    what = "no key is available" if missing else "they were encrypted with another key"
    return SecretKeyError(
        f"Cannot read the secrets in this database ({what}): set {ENV_SECRET_KEY} or restore {where} "
        f"(the key file kept with the database when they were stored).")


def _key_id(key: bytes) -> str:
    return hashlib.sha256(_CONTEXT + key).hexdigest()[:8]


def _key(*, create: bool) -> bytes | None:
    global _cached
    env = os.environ.get(ENV_SECRET_KEY) or None
    with _lock:
        if _cached is not None and _cached[:2] == (_key_file, env):
            return _cached[2]
        if env is not None:
            key: bytes | None = _decode_key(env, ENV_SECRET_KEY)
        else:
            key = _read_key_file(create=create)
        if key is not None:
            _cached = (_key_file, env, key)
        return key


def _decode_key(text: str, source: str) -> bytes:
    text = text.strip()
    for decode in (base64.urlsafe_b64decode, base64.b64decode):
        try:
            key = decode(text.encode("ascii") + b"=" * (-len(text) % 4))
        except (ValueError, binascii.Error):
            continue
        if len(key) == 32:
            return key
    raise StorageError(f"{source} is not a secret key: it must be 32 random bytes in base64 "
                       f"(e.g. the output of: python -c \"import secrets,base64;"
                       f"print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())\").")


def new_key_text() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode("ascii")


def _read_key_file(*, create: bool) -> bytes | None:
    path = _key_file
    if path is None:
        raise StorageError("No data folder is in use, so there is no secret key file; open the database first.")
    try:
        return _decode_key(path.read_text(encoding="ascii"), str(path))
    except FileNotFoundError:
        if not create:
            return None
    except (OSError, UnicodeDecodeError) as exc:
        reason = os_error_reason(exc) if isinstance(exc, OSError) else "not text"
        raise StorageError(f"Cannot read the secret key file {path}: {reason}.") from exc
    text = new_key_text()
    ensure_private_dir(path.parent)
    temp = path.with_name(f".{path.name}.{os.getpid()}.new")
    try:
        write_private_file(temp, (text + "\n").encode("ascii"))
        try:
            os.link(temp, path)  # never replaces: when another process created the key first, its key wins
        except FileExistsError:
            return _decode_key(path.read_text(encoding="ascii"), str(path))
        finally:
            temp.unlink(missing_ok=True)
    except OSError as exc:
        raise StorageError(f"Cannot create the secret key file {path}: {os_error_reason(exc)}.") from exc
    return _decode_key(text, str(path))
