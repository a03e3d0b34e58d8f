"""Issued certificates on disk: every version archived, one `live` set that web servers read.

Layout under `<data-dir>/certificates/<name>/`:

    archive/0001-<serial>/{cert,chain,fullchain,privkey}.pem   every issued version, never modified
    live/{cert,chain,fullchain,privkey}.pem                   the current version

`live` changes only after a new version is verified and fully written, and it changes at once:
on POSIX it is a symlink to `archive/<version>` replaced by an atomic rename; where symlinks are
unavailable (Windows) it is a copy swapped with two renames, repaired by `recover()` after a crash.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from certify_tui import paths
from certify_tui.errors import StorageError, UsageError
from certify_tui.oserrors import cause_of, storage_error
from certify_tui.paths import (
    check_path_component,
    ensure_private_dir,
    fsync_directory,
    os_error_reason,
    write_new_file,
)

FILE_NAMES = {"cert": "cert.pem", "chain": "chain.pem", "fullchain": "fullchain.pem", "privkey": "privkey.pem"}
_PEM_CERT_RE = re.compile(rb"-----BEGIN CERTIFICATE-----\r?\n.+?-----END CERTIFICATE-----", re.DOTALL)
_VERSION_RE = re.compile(r"(\d{4,})-[0-9a-f]+")
_SPKI = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


@dataclass(frozen=True)
class StoredVersion:
    version: int
    directory: Path  # the archive folder of this version
    serial: str  # hex lowercase, no colons
    not_before: datetime  # tz-aware UTC
    not_after: datetime
    fingerprint_sha256: str  # hex lowercase, of the leaf's DER
    issuer: str  # RFC 4514
    files: dict[str, str]  # 'cert', 'chain', 'fullchain', 'privkey' -> absolute paths in the live set


def _fail(message: str, exc: BaseException | None = None) -> StorageError:
    return StorageError(message, detail=str(exc) if exc is not None else None)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _verify(fullchain_pem: bytes, key_pem: bytes) -> tuple[x509.Certificate, list[x509.Certificate]]:
    """Parse and cross-check everything before a single byte is written; raise StorageError if unfit."""
    blocks = _PEM_CERT_RE.findall(fullchain_pem)
    if not blocks:
        raise _fail("The issued certificate contains no PEM certificate.")
    try:
        certs = [x509.load_pem_x509_certificate(block) for block in blocks]
    except ValueError as exc:
        raise _fail("The issued certificate chain contains a certificate that cannot be parsed.", exc) from exc
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise _fail("The private key cannot be parsed.", exc) from exc
    leaf = certs[0]
    if key.public_key().public_bytes(*_SPKI) != leaf.public_key().public_bytes(*_SPKI):
        raise _fail("The private key does not match the issued certificate.")
    for child, parent in zip(certs, certs[1:], strict=False):
        if child.issuer != parent.subject:
            raise _fail(f"The certificate chain is broken: {child.subject.rfc4514_string()} "
                        f"was not issued by {parent.subject.rfc4514_string()}.")
        try:
            child.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature) as exc:
            raise _fail(f"The certificate chain is broken: the signature on "
                        f"{child.subject.rfc4514_string()} does not verify.", exc) from exc
    return leaf, certs[1:]


def _remove(path: Path) -> None:
    """Remove a file, a symlink (never its target) or a folder tree."""
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path)


class CertificateFiles:
    def __init__(self, certificates_root: Path, name: str, *, use_symlinks: bool | None = None) -> None:
        self.name = check_path_component(name)
        self.base = Path(os.path.abspath(certificates_root)) / self.name
        self.archive = self.base / "archive"
        self._live_old = self.base / "live.old"
        self._live_new = self.base / "live.new"
        # None: symlinks on POSIX (with a copy fallback if refused); Windows needs privileges for them.
        self.use_symlinks = use_symlinks
        self.recover()

    @property
    def live_dir(self) -> Path:
        return self.base / "live"

    def live_files(self) -> dict[str, Path]:
        return {kind: self.live_dir / file_name for kind, file_name in FILE_NAMES.items()}

    def has_live(self) -> bool:
        try:
            return all(path.is_file() for path in self.live_files().values())
        except OSError as exc:  # e.g. a name longer than the file system allows, or no permission
            raise _fail(f"Could not read the files of {self.name}: {os_error_reason(exc)}.", exc) from exc

    def live_key_pem(self) -> bytes | None:
        try:
            return self.live_files()["privkey"].read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise _fail(f"Could not read the private key of {self.name}: {os_error_reason(exc)}.", exc) from exc

    def recover(self) -> None:
        """Finish or undo a `live` swap interrupted by a crash (copy strategy, or a symlink conversion)."""
        live = self.live_dir
        try:
            if not os.path.lexists(live) and os.path.lexists(self._live_old):
                os.replace(self._live_old, live)  # crashed between the two renames: put the old set back
                fsync_directory(self.base)
            if os.path.lexists(self._live_old):
                _remove(self._live_old)  # crashed after the swap: only the cleanup was missing
            if os.path.lexists(self._live_new):
                _remove(self._live_new)  # an unfinished copy; never became live
            # os.path: a name too long for the file system has no folder, so nothing to repair.
            if os.path.isdir(self.base):
                for stale in self.base.glob(".live.*.tmp"):
                    _remove(stale)  # a temporary symlink that was never renamed onto live
        except OSError as exc:
            raise _fail(f"Could not repair the live files of {self.name}: {os_error_reason(exc)}.", exc) from exc

    def versions(self) -> list[int]:
        return sorted(self._version_dirs())

    def _version_dirs(self) -> dict[int, Path]:
        try:
            entries = list(self.archive.iterdir())
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise _fail(f"Could not list the archive of {self.name}: {os_error_reason(exc)}.", exc) from exc
        found: dict[int, Path] = {}
        for entry in entries:
            match = _VERSION_RE.fullmatch(entry.name)
            if match and entry.is_dir() and not entry.is_symlink():
                found[int(match.group(1))] = entry
        return found

    def install(self, fullchain_pem: bytes, key_pem: bytes) -> StoredVersion:
        """Verify, archive as a new version, then switch `live` to it; StorageError leaves `live` as it was."""
        stored = self.archive_version(fullchain_pem, key_pem)
        try:
            self.switch_live(stored.directory)
        except StorageError:
            self.discard(stored.directory)
            raise
        return stored

    def archive_version(self, fullchain_pem: bytes, key_pem: bytes) -> StoredVersion:
        """Verify and write a new archived version, read back intact; `live` is not touched.

        The caller records the version (database) and then calls `switch_live`; see lifecycle.request."""
        leaf, chain = _verify(fullchain_pem, key_pem)
        cert_pem = _pem(leaf)
        chain_pem = b"".join(_pem(c) for c in chain)
        # Re-encoded so cert + chain == fullchain exactly, whatever spacing the CA used.
        contents = {"cert": cert_pem, "chain": chain_pem, "fullchain": cert_pem + chain_pem, "privkey": key_pem}
        serial = f"{leaf.serial_number:x}"
        serial = serial.rjust(len(serial) + len(serial) % 2, "0")  # whole bytes, as openssl prints it

        ensure_private_dir(self.archive)
        version = max(self.versions(), default=0) + 1
        directory = self.archive / f"{version:04d}-{serial[:16]}"
        try:
            directory.mkdir(mode=0o700)  # exclusive: a concurrent install cannot share the folder
            if not paths.IS_WINDOWS:
                os.chmod(directory, 0o700)
        except OSError as exc:
            raise self._error(f"Could not create {directory}", directory, exc) from exc
        try:
            self._write_set(directory, contents)
            for kind, data in contents.items():  # read back: never point live at a short or corrupt file
                if (directory / FILE_NAMES[kind]).read_bytes() != data:
                    raise _fail(f"The archived {FILE_NAMES[kind]} in {directory} does not read back intact.")
        except (OSError, StorageError) as exc:
            self.discard(directory)
            if isinstance(exc, StorageError):
                raise
            raise self._error(f"Could not store the certificate {self.name}", directory, exc) from exc

        return StoredVersion(
            version=version,
            directory=directory,
            serial=serial,
            not_before=leaf.not_valid_before_utc,
            not_after=leaf.not_valid_after_utc,
            fingerprint_sha256=hashlib.sha256(leaf.public_bytes(serialization.Encoding.DER)).hexdigest(),
            issuer=leaf.issuer.rfc4514_string(),
            files={kind: str(path) for kind, path in self.live_files().items()},
        )

    def switch_live(self, directory: Path) -> None:
        """Point `live` at an archived version (all at once); StorageError leaves `live` as it was."""
        try:
            contents = {kind: (directory / file_name).read_bytes() for kind, file_name in FILE_NAMES.items()}
            self._switch_live(directory, contents)
        except OSError as exc:
            raise self._error(f"Could not switch the live files of {self.name}", self.live_dir, exc) from exc

    def remove_live(self) -> None:
        """Remove the live set (a version that was never recorded); the archive stays."""
        try:
            if os.path.lexists(self.live_dir):
                _remove(self.live_dir)
                fsync_directory(self.base)
        except OSError as exc:
            raise self._error(f"Could not remove {self.live_dir}", self.live_dir, exc) from exc

    def discard(self, directory: Path) -> None:
        """Remove an archived version that never became current (best effort: repair retries it)."""
        shutil.rmtree(directory, ignore_errors=True)

    def live_folder(self) -> str | None:
        """The name of the archive folder `live` shows, or None (no live set, or one matching no version)."""
        version = self._live_version()
        if version is None:
            return None
        directory = self._version_dirs().get(version)
        return directory.name if directory is not None else None

    def folders(self) -> dict[int, Path]:
        """Archived versions by number."""
        return self._version_dirs()

    def is_complete(self, directory: Path) -> bool:
        """Every file of a version is there and the set still verifies (a crash may have cut it short)."""
        try:
            _verify((directory / FILE_NAMES["fullchain"]).read_bytes(),
                    (directory / FILE_NAMES["privkey"]).read_bytes())
            return all((directory / name).is_file() for name in FILE_NAMES.values())
        except (OSError, StorageError):
            return False

    def _error(self, doing: str, path: Path, exc: OSError) -> StorageError:
        return storage_error(exc, str(path)) or _fail(f"{doing}: {os_error_reason(exc)}.", exc)

    @staticmethod
    def _write_set(directory: Path, contents: dict[str, bytes]) -> None:
        """Write a version into a folder nothing reads yet: each file created exclusively with its final
        mode and fsynced, then the folder fsynced once (no temp-and-rename needed before `live` points here)."""
        for kind, data in contents.items():
            write_new_file(directory / FILE_NAMES[kind], data, 0o600 if kind == "privkey" else 0o644)
        fsync_directory(directory)

    def _switch_live(self, directory: Path, contents: dict[str, bytes]) -> None:
        if self.use_symlinks is not False and not (self.use_symlinks is None and paths.IS_WINDOWS):
            temp = self.base / f".live.{secrets.token_hex(6)}.tmp"
            try:
                os.symlink(os.path.join("archive", directory.name), temp, target_is_directory=True)
            except (OSError, NotImplementedError) as exc:
                if isinstance(exc, OSError) and cause_of(exc) is not None:
                    raise  # a full disk or a read-only folder: copies would fail too, and half-way
                if self.use_symlinks:
                    reason = os_error_reason(exc) if isinstance(exc, OSError) else "symlinks are not supported"
                    raise _fail(f"Could not create the live link of {self.name}: {reason}.", exc) from exc
                # Auto mode: this system refuses symlinks (e.g. no privilege); fall back to copies.
            else:
                try:
                    self._replace_live(temp)
                except OSError:
                    temp.unlink(missing_ok=True)
                    raise
                return
        try:
            if os.path.lexists(self._live_new):
                _remove(self._live_new)
            ensure_private_dir(self._live_new)
            self._write_set(self._live_new, contents)
            self._replace_live(self._live_new)
        finally:
            if os.path.lexists(self._live_new):  # only left over on failure; live itself is untouched
                shutil.rmtree(self._live_new, ignore_errors=True)

    def _replace_live(self, new: Path) -> None:
        """Put `new` (a symlink or a complete folder) in place of `live`."""
        live = self.live_dir
        if new.is_symlink() and not (live.is_dir() and not live.is_symlink()):
            os.replace(new, live)  # symlink over symlink (or nothing): one atomic rename
        elif not os.path.lexists(live):
            os.replace(new, live)
        else:
            # A folder cannot be renamed over an existing one atomically: move the old set aside first.
            # A crash in between leaves `live.old` without `live`, which recover() renames back.
            if os.path.lexists(self._live_old):
                _remove(self._live_old)
            os.replace(live, self._live_old)
            try:
                os.replace(new, live)
            except OSError:
                os.replace(self._live_old, live)  # e.g. Windows refused: a server holds a file open
                raise
            fsync_directory(self.base)
            with contextlib.suppress(OSError):  # live is switched; recover() removes leftovers later
                _remove(self._live_old)
        fsync_directory(self.base)

    def _live_version(self) -> int | None:
        live = self.live_dir
        if live.is_symlink():
            match = _VERSION_RE.fullmatch(Path(os.readlink(live)).name)
            return int(match.group(1)) if match else None
        try:
            current = (live / FILE_NAMES["cert"]).read_bytes()
        except OSError:
            return None
        # A copied live set: find the archived version it was copied from (newest first).
        for version, directory in sorted(self._version_dirs().items(), reverse=True):
            try:
                if (directory / FILE_NAMES["cert"]).read_bytes() == current:
                    return version
            except OSError:
                continue
        return None

    def prune(self, keep: int) -> list[Path]:
        """Remove the oldest archived versions beyond the newest `keep`; never the live one."""
        if keep < 0:
            raise UsageError("The number of versions to keep cannot be negative.")
        dirs = self._version_dirs()
        newest = sorted(dirs, reverse=True)[:keep]
        protected = {*newest, self._live_version()}
        removed: list[Path] = []
        for version in sorted(dirs):
            if version in protected:
                continue
            try:
                shutil.rmtree(dirs[version])
            except OSError as exc:
                raise _fail(f"Could not remove {dirs[version]}: {os_error_reason(exc)}.", exc) from exc
            removed.append(dirs[version])
        return removed

    def remove_all(self) -> None:
        """Delete everything stored for this certificate (live and archive)."""
        try:
            if os.path.lexists(self.base):
                shutil.rmtree(self.base)
        except OSError as exc:
            raise _fail(f"Could not remove {self.base}: {os_error_reason(exc)}.", exc) from exc
