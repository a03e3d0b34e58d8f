"""`export bundle`: the whole installation as one payload (accounts with their keys, credentials with their
secrets, certificates with their settings, tasks and current files, the settings), encrypted to a file.

Every secret is read in plain text here (a value the secret key cannot open is an error now, not garbage in
the bundle); the file is written 0600, atomically."""

from __future__ import annotations

import hashlib
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from certify_tui.bundle.crypto import check_passphrase, seal_bundle
from certify_tui.certfiles import CertificateFiles
from certify_tui.errors import OperationError, UsageError
from certify_tui.lifecycle.settings import DEFAULT_RULE_KEY, get_settings
from certify_tui.paths import DataDir, os_error_reason, write_private_file
from certify_tui.secrets_box import reveal
from certify_tui.store.credentials import get_credential
from certify_tui.store.models import Account, Credential, ManagedCertificate, Setting
from certify_tui.store.sealed import open_rules_json, require_open


def account_ref(account: Account) -> str:
    """How certificates in a bundle name their account: the same on both sides of a move."""
    return f"{account.directory_url} {account.uri or account.email}"


def account_entry(account: Account) -> dict[str, Any]:
    bundle_pem = None
    if account.ca_bundle:
        try:
            bundle_pem = Path(account.ca_bundle).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = os_error_reason(exc) if isinstance(exc, OSError) else "not text"
            raise OperationError(f"Account {account.email}: cannot read its CA bundle {account.ca_bundle}: "
                                 f"{reason}.") from exc
    return {"ref": account_ref(account), "email": account.email, "ca_name": account.ca_name,
            "directory_url": account.directory_url, "ca_bundle": account.ca_bundle, "ca_bundle_pem": bundle_pem,
            "allow_internal_names": account.allow_internal_names, "key_type": account.key_type,
            "account_key_pem": reveal(account.account_key_pem), "uri": account.uri, "eab_kid": account.eab_kid,
            "status": account.status, "tos_agreed": account.tos_agreed, "tos_url": account.tos_url}


def credential_entry(name: str) -> dict[str, Any]:
    credential = get_credential(name)  # the secrets opened, or the error naming the missing key
    return {"name": credential.name, "challenge": credential.challenge, "provider": credential.provider,
            "values": dict(credential.values), "secrets": dict(credential.secrets)}


def certificate_settings(cert: ManagedCertificate) -> dict[str, Any]:
    """What a certificate is, apart from its files and state: compared as a whole by the import's plan."""
    deployment = cert.deployment.to_json()
    deployment["tasks"] = [{**task, "options": require_open(task["options"])} for task in deployment["tasks"]]
    rules = [{**rule, "options": require_open(rule["options"])}
             for rule in open_rules_json([rule.to_json() for rule in cert.challenge_rules])]
    return {"account": account_ref(cert.account), "primary_identifier": cert.primary_identifier,
            "identifiers": list(cert.identifiers), "challenge_rules": rules, "key_type": cert.key_type,
            "reuse_key": cert.reuse_key, "preferred_chain": cert.preferred_chain, "profile": cert.profile,
            "deployment": deployment, "renewal": cert.renewal.to_json(), "auto_renew": cert.auto_renew,
            "tags": sorted(cert.tags or []), **_fallbacks(cert)}


def _fallbacks(cert: ManagedCertificate) -> dict[str, Any]:
    """Its fallback accounts by ref, in order (left out when none, so older bundles compare the same)."""
    if not cert.fallback_accounts:
        return {}
    by_id = {a.id: a for a in Account.select().where(Account.id.in_(cert.fallback_accounts))}
    return {"fallback_accounts": [account_ref(by_id[i]) for i in cert.fallback_accounts if i in by_id]}


def certificate_files(data: DataDir, cert: ManagedCertificate) -> dict[str, str] | None:
    """The current (live) full chain and key, or None before the first version."""
    files = CertificateFiles(data.certificates, cert.name)
    if not files.has_live():
        return None
    live = files.live_files()
    try:
        return {"fullchain": live["fullchain"].read_text(encoding="ascii"),
                "privkey": live["privkey"].read_text(encoding="ascii")}
    except (OSError, UnicodeDecodeError) as exc:
        reason = os_error_reason(exc) if isinstance(exc, OSError) else "not PEM text"
        raise OperationError(f"{cert.name}: cannot read its current files: {reason}.") from exc


def revocation_entry(cert: ManagedCertificate) -> dict[str, Any] | None:
    """A revoked current version stays revoked after the move (and due, if it was)."""
    if cert.status != "revoked":
        return None
    return {"reason": cert.revocation_reason or "unspecified",
            "at": cert.revoked_at.isoformat() if cert.revoked_at else None, "renew": cert.next_attempt is not None}


def settings_entry() -> dict[str, Any]:
    row = Setting.get_or_none(Setting.key == DEFAULT_RULE_KEY)
    rule = None
    if row is not None and row.value:
        stored = open_rules_json([row.value])[0]
        rule = {**stored, "options": require_open(stored.get("options") or {})}
    return {"app": get_settings(), "default_rule": rule}


def collect(data: DataDir) -> dict[str, Any]:
    """The installation as a bundle payload (plain: it is encrypted before it leaves this process)."""
    certificates = []
    for cert in ManagedCertificate.select().order_by(ManagedCertificate.name):
        certificates.append({"name": cert.name, "settings": certificate_settings(cert),
                             "files": certificate_files(data, cert), "revocation": revocation_entry(cert)})
    return {
        "exported_at": datetime.now(UTC).isoformat(), "host": socket.gethostname(),
        "accounts": [account_entry(a) for a in Account.select().order_by(Account.id)],
        "credentials": [credential_entry(c.name) for c in Credential.select().order_by(Credential.name)],
        "certificates": certificates,
        "settings": settings_entry(),
    }


def export_bundle(data: DataDir, target: str, passphrase: str) -> dict[str, Any]:
    """Write the encrypted bundle to `target` (0600, atomically); a summary of what it holds."""
    path = Path(os.path.expanduser(target)).absolute()
    if path.is_dir():
        raise UsageError(f"{path} is a folder: give the bundle's file name.", field="file")
    if not path.parent.is_dir():
        raise UsageError(f"The folder {path.parent} does not exist.", field="file")
    check_passphrase(passphrase)  # before reading every secret
    payload = collect(data)
    sealed = seal_bundle(payload, passphrase)
    write_private_file(path, sealed)
    return {"file": str(path), "bytes": len(sealed), "sha256": hashlib.sha256(sealed).hexdigest(),
            "accounts": len(payload["accounts"]), "credentials": len(payload["credentials"]),
            "certificates": len(payload["certificates"]),
            "certificate_files": sum(1 for c in payload["certificates"] if c["files"]),
            "tasks": sum(len(c["settings"]["deployment"]["tasks"]) for c in payload["certificates"])}
