"""Reading a certbot configuration folder (default /etc/letsencrypt): its lineages and its accounts.

Only read: certbot's files are never changed. A lineage is `renewal/<name>.conf`; its current files are
`live/<name>/{fullchain,privkey}.pem` (symlinks into `archive/<name>/`). An account is
`accounts/<server>/.../<id>/{private_key.json,regr.json,meta.json}`: the key as a JWK, the account URL in
regr.json's `uri`, the contact (if certbot kept it) in its `body`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import josepy as jose
from cryptography.hazmat.primitives import serialization

from certify_tui.errors import UsageError
from certify_tui.keys import key_to_pem, key_type_of, load_key
from certify_tui.lifecycle.certbot_conf import ConfSection, read_conf

DEFAULT_CONFIG_DIR = "/etc/letsencrypt"


class LineageError(UsageError):
    """One lineage cannot be read or imported; the others go on."""


@dataclass(frozen=True)
class CertbotAccount:
    id: str
    server: str
    folder: Path
    key_pem: bytes
    key_type: str
    uri: str
    email: str | None  # from regr.json's contact; recent certbots keep none
    tos_url: str | None


@dataclass(frozen=True)
class Lineage:
    name: str
    conf_path: Path
    conf: ConfSection
    fullchain_path: Path
    privkey_path: Path

    @property
    def params(self) -> ConfSection:
        return self.conf.section("renewalparams")


def check_config_dir(config_dir: str | None) -> Path:
    folder = Path(config_dir or DEFAULT_CONFIG_DIR).expanduser().absolute()
    if not (folder / "renewal").is_dir():
        raise UsageError(f"{folder} is not a certbot configuration folder (it has no renewal/ folder): "
                         f"give the folder certbot uses (its --config-dir) with --config-dir DIR.", field="config_dir")
    return folder


def lineage_confs(folder: Path) -> list[Path]:
    """The lineages' renewal configurations, by name."""
    return sorted(p for p in (folder / "renewal").glob("*.conf") if p.is_file())


def read_lineage(folder: Path, conf_path: Path) -> Lineage:
    name = conf_path.name[: -len(".conf")]
    conf = read_conf(conf_path)
    live = folder / "live" / name
    # The live folder of the configuration folder given (it may be a copy); the paths written in the
    # configuration when the live folder is not there.
    fullchain = _existing(live / "fullchain.pem", conf.text("fullchain"))
    privkey = _existing(live / "privkey.pem", conf.text("privkey"))
    if fullchain is None or privkey is None:
        raise LineageError(f"{name}: no current certificate and key in {live} (fullchain.pem, privkey.pem).")
    return Lineage(name, conf_path, conf, fullchain, privkey)


def _existing(preferred: Path, fallback: str | None) -> Path | None:
    if preferred.is_file():
        return preferred
    if fallback and Path(fallback).is_file():
        return Path(fallback)
    return None


def read_bytes(path: Path, what: str, lineage: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise LineageError(f"{lineage}: cannot read its {what} {path}: {exc.strerror or exc}.") from None


def find_account(folder: Path, account_id: str, server: str, lineage: str) -> CertbotAccount:
    """The account a lineage names (renewalparams `account`), under accounts/<server>/..."""
    if not account_id:
        raise LineageError(f"{lineage}: its renewal configuration names no account.")
    candidates = [p for p in (folder / "accounts").rglob(account_id) if (p / "regr.json").is_file()]
    if not candidates:
        raise LineageError(f"{lineage}: certbot's account {account_id} is not under {folder / 'accounts'}.")
    account_folder = candidates[0]
    try:
        regr = json.loads((account_folder / "regr.json").read_text(encoding="utf-8"))
        jwk = jose.JWK.json_loads((account_folder / "private_key.json").read_text(encoding="utf-8"))
        key = load_key(jwk.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()))
    except (OSError, ValueError, jose.DeserializationError, AttributeError) as exc:
        raise LineageError(f"{lineage}: certbot's account {account_id} cannot be read ({exc}).") from None
    uri = regr.get("uri") if isinstance(regr, dict) else None
    if not isinstance(uri, str) or not uri:
        raise LineageError(f"{lineage}: certbot's account {account_id} has no account URL in regr.json.")
    body = regr.get("body") if isinstance(regr.get("body"), dict) else {}
    emails = [c[len("mailto:"):] for c in body.get("contact") or [] if isinstance(c, str) and c.startswith("mailto:")]
    tos = regr.get("terms_of_service")
    return CertbotAccount(account_id, server, account_folder, key_to_pem(key), key_type_of(key), uri,
                          emails[0] if emails else None, tos if isinstance(tos, str) else None)
