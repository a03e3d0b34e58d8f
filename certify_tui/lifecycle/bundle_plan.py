"""`import bundle`, first half: what a bundle would change here, item by item, before anything is written.

Each account, credential, certificate and setting is new, unchanged, changed (the bundle's is safe to take:
nothing set here is lost, e.g. a newer certificate with the same settings, a setting never customised here),
in conflict (same name, different content: skipped unless --replace), or skipped (unusable here, e.g. a
configuration file this machine does not have). Certificate files are verified here, before the import."""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import peewee
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from certify_tui.bundle.crypto import BundleUnreadable, open_bundle
from certify_tui.challenges.rules import make_rule
from certify_tui.errors import CertifyError, OperationError, UsageError
from certify_tui.lifecycle.bundle_export import certificate_settings
from certify_tui.lifecycle.certificates import current_version
from certify_tui.lifecycle.settings import DEFAULT_RULE_KEY, AppSettings, get_settings
from certify_tui.paths import os_error_reason
from certify_tui.secrets_box import reveal
from certify_tui.store.credentials import get_credential
from certify_tui.store.models import Account, ManagedCertificate, Setting
from certify_tui.store.sealed import open_rules_json

STATES = ("new", "changed", "conflict", "unchanged", "skipped")
_SPKI = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
_ACCOUNT_FIELDS = ("email", "ca_name", "allow_internal_names", "key_type", "eab_kid", "status", "tos_agreed",
                   "tos_url")


@dataclass
class BundleItem:
    kind: str  # account, credential, certificate, setting
    name: str
    state: str  # one of STATES
    detail: str = ""  # why, for people; never a secret value
    entry: Any = field(default=None, repr=False)  # the bundle's entry (secrets in it): never shown
    take_files: bool = False  # a certificate: its files become the current version here

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "name": self.name, "state": self.state, "detail": self.detail}


@dataclass
class BundlePlan:
    file: str
    exported_at: str
    host: str
    items: list[BundleItem]
    replace: bool = False  # conflicts are applied too

    def applies(self, item: BundleItem) -> bool:
        return item.state in ("new", "changed") or (item.state == "conflict" and self.replace)

    def counts(self) -> dict[str, int]:
        found = Counter(item.state for item in self.items)
        return {state: found[state] for state in STATES}

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "exported_at": self.exported_at, "host": self.host, "replace": self.replace,
                "items": [{**item.to_dict(), "applied": self.applies(item)} for item in self.items],
                "counts": self.counts()}


def read_bundle(path_text: str, passphrase: str) -> tuple[Path, dict[str, Any]]:
    path = Path(os.path.expanduser(path_text)).absolute()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"The bundle {path} does not exist.", field="file") from None
    except OSError as exc:
        raise UsageError(f"Cannot read the bundle {path}: {os_error_reason(exc)}.", field="file") from None
    return path, open_bundle(data, passphrase)


def _entries(payload: dict[str, Any], key: str) -> list[dict[str, Any]]:
    found = payload.get(key)
    if not isinstance(found, list) or not all(isinstance(e, dict) for e in found):
        raise BundleUnreadable(f"The bundle's {key} are damaged (not a list). Nothing was changed.")
    return found


def match_account(entry: dict[str, Any]) -> tuple[Account | None, bool]:
    """The local account the bundle's one is (same CA and account URL), else one it would clash with (same
    email at the same CA); the flag says which."""
    query = Account.select().where(Account.directory_url == entry.get("directory_url"))
    if entry.get("uri"):
        same: Account | None = query.where(Account.uri == entry["uri"]).first()
        if same is not None:
            return same, True
    clash: Account | None = query.where(Account.email == entry.get("email")).first()
    return clash, False


def _bundle_pem_differs(row: Account, entry: dict[str, Any]) -> bool:
    wanted = entry.get("ca_bundle_pem")
    if not wanted:
        return bool(row.ca_bundle)
    try:
        return not row.ca_bundle or Path(row.ca_bundle).read_text(encoding="utf-8") != wanted
    except (OSError, UnicodeDecodeError):
        return True


def _account_item(entry: dict[str, Any]) -> BundleItem:
    name = f"{entry.get('email')} at {entry.get('directory_url')}"
    if not entry.get("account_key_pem") or not entry.get("directory_url") or not entry.get("email"):
        raise BundleUnreadable(f"The bundle's account {name} is damaged (no key or CA). Nothing was changed.")
    row, same = match_account(entry)
    if row is None:
        return BundleItem("account", name, "new", f"account URL {entry.get('uri') or '-'}", entry)
    if not same:
        return BundleItem("account", name, "conflict", f"an account for {row.email} at this CA exists here with "
                          f"another account URL ({row.uri or '-'})", entry)
    if reveal(row.account_key_pem).strip() != str(entry["account_key_pem"]).strip():
        return BundleItem("account", name, "conflict", "the same account URL with another account key here "
                          "(rolled over on one side)", entry)
    differs = [f for f in _ACCOUNT_FIELDS if getattr(row, f) != entry.get(f)]
    if _bundle_pem_differs(row, entry):
        differs.append("ca_bundle")
    if differs:
        return BundleItem("account", name, "changed", f"same account; takes its {', '.join(differs)}", entry)
    return BundleItem("account", name, "unchanged", "", entry)


def _credential_item(entry: dict[str, Any]) -> BundleItem:
    name = str(entry.get("name") or "")
    try:
        local = get_credential(name)
    except UsageError:  # NotFoundError: not here yet
        return BundleItem("credential", name, "new", f"{entry.get('challenge')} {entry.get('provider')}", entry)
    same = (local.provider, local.challenge, local.values, local.secrets) == (
        entry.get("provider"), entry.get("challenge"), entry.get("values"), entry.get("secrets"))
    if same:
        return BundleItem("credential", name, "unchanged", "", entry)
    what = "provider" if (local.provider, local.challenge) != (entry.get("provider"), entry.get("challenge")) \
        else "values" if local.values != entry.get("values") else "secret values"
    return BundleItem("credential", name, "conflict", f"a credential named {local.name} here has other {what}",
                      entry)


def verify_files(name: str, files: dict[str, Any]) -> x509.Certificate:
    """The leaf of a bundled full chain whose key matches it; OperationError naming the certificate if not."""
    try:
        chain = x509.load_pem_x509_certificates(str(files["fullchain"]).encode("ascii"))
        key = serialization.load_pem_private_key(str(files["privkey"]).encode("ascii"), password=None)
    except (KeyError, ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise OperationError(f"The bundle's files of {name} cannot be read ({exc}). Nothing was changed.") from None
    if key.public_key().public_bytes(*_SPKI) != chain[0].public_key().public_bytes(*_SPKI):
        raise OperationError(f"The bundle's key of {name} does not match its certificate. Nothing was changed.")
    return chain[0]


def _files_note(name: str, files: dict[str, Any] | None, local: ManagedCertificate | None) -> tuple[bool, str]:
    """(take the bundle's files?, why) for a certificate whose settings are the same."""
    if not files:
        return False, ""
    leaf = verify_files(name, files)
    expires = leaf.not_valid_after_utc
    version = current_version(local) if local is not None else None
    if version is None:
        return True, f"its certificate (expires {expires:%Y-%m-%d})"
    fingerprint = hashlib.sha256(leaf.public_bytes(serialization.Encoding.DER)).hexdigest()
    if fingerprint == version.fingerprint_sha256:
        return False, ""
    if expires > version.not_after:
        return True, f"a newer certificate (expires {expires:%Y-%m-%d}, here {version.not_after:%Y-%m-%d})"
    return False, f"the certificate here is as new or newer (expires {version.not_after:%Y-%m-%d})"


def _normal(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _certificate_item(entry: dict[str, Any]) -> BundleItem:
    name = str(entry.get("name") or "")
    settings = entry.get("settings")
    if not name or not isinstance(settings, dict):
        raise BundleUnreadable(f"The bundle's certificate {name!r} is damaged. Nothing was changed.")
    files = entry.get("files")
    local = ManagedCertificate.get_or_none(peewee.fn.lower(ManagedCertificate.name) == name.lower())
    if local is None:
        take, _ = _files_note(name, files, None)
        domains = ", ".join(settings.get("identifiers") or [])
        return BundleItem("certificate", name, "new", domains + (" with its current files" if take else ""),
                          entry, take)
    take, why = _files_note(name, files, local)
    mine = certificate_settings(local)
    differs = [key for key in sorted(set(mine) | set(settings)) if _normal(mine.get(key)) != _normal(settings.get(key))]
    if differs:
        return BundleItem("certificate", name, "conflict", f"{local.name} here has other {', '.join(differs)}"
                          + (f"; the bundle has {why}" if take else ""), entry, take)
    if take:
        return BundleItem("certificate", name, "changed", f"same settings; takes {why}", entry, take)
    return BundleItem("certificate", name, "unchanged", why, entry)


def _setting_items(entry: Any) -> list[BundleItem]:
    if not isinstance(entry, dict) or not isinstance(entry.get("app", {}), dict):
        raise BundleUnreadable("The bundle's settings are damaged. Nothing was changed.")
    current = get_settings()
    items = []
    for param in AppSettings.params:
        if param.key not in entry.get("app", {}):
            continue
        try:
            value = AppSettings.validate_options({param.key: entry["app"][param.key]})[param.key]
        except CertifyError as exc:
            items.append(BundleItem("setting", param.key, "skipped", exc.message))
            continue
        shown = "(secret)" if param.secret else repr(value)
        if value == current[param.key]:
            items.append(BundleItem("setting", param.key, "unchanged"))
            continue
        try:
            AppSettings.check_input({param.key: value})  # a configuration file this machine has, say
        except CertifyError as exc:
            items.append(BundleItem("setting", param.key, "skipped", f"{shown} is not usable here: {exc.message}"))
            continue
        state = "changed" if current[param.key] == param.default else "conflict"
        here = "the default" if state == "changed" else "(secret)" if param.secret else repr(current[param.key])
        items.append(BundleItem("setting", param.key, state, f"{shown}, here {here}", value))
    items.append(_default_rule_item(entry.get("default_rule")))
    return items


def _default_rule_item(rule: Any) -> BundleItem:
    name = "default challenge rule"
    row = Setting.get_or_none(Setting.key == DEFAULT_RULE_KEY)
    here = open_rules_json([row.value])[0] if row is not None and row.value else None
    if rule is None:
        return BundleItem("setting", name, "unchanged", "the bundle has none")
    default = _normal(make_rule("http-01").to_json())
    current = _normal(here) if here is not None else default
    if current == _normal(rule):
        return BundleItem("setting", name, "unchanged")
    shown = f"{rule.get('challenge')} {rule.get('provider') or ''}".strip()
    state = "changed" if current == default else "conflict"
    return BundleItem("setting", name, state, shown + ("" if state == "changed" else ", another one here"), rule)


def plan_import(path_text: str, passphrase: str, *, replace: bool = False) -> BundlePlan:
    """Read, decrypt and compare: what importing would do. Nothing is written."""
    path, payload = read_bundle(path_text, passphrase)
    items = [_account_item(e) for e in _entries(payload, "accounts")]
    items += [_credential_item(e) for e in _entries(payload, "credentials")]
    items += _setting_items(payload.get("settings"))
    items += [_certificate_item(e) for e in _entries(payload, "certificates")]
    exported = payload.get("exported_at")
    return BundlePlan(str(path), str(exported or ""), str(payload.get("host") or ""), items, replace)

