"""`import certbot`: certbot's lineages become managed certificates, renewed with certbot's own accounts.

For each lineage: its account (same key, same account URL: never a new registration), a managed certificate
with the lineage's names and key type, its current files adopted as the current version (copied: certbot's
files are never changed), validation, hooks and renewal threshold mapped (certbot_mapping). A lineage already
imported is reported, not imported twice; one that cannot be imported is reported and the others go on."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509

from certify_tui.ca.presets import resolve_ca
from certify_tui.certfiles import CertificateFiles
from certify_tui.errors import CertifyError, NotFoundError, UsageError
from certify_tui.events import app_log
from certify_tui.keys import KEY_TYPES, key_to_pem, key_type_of, load_key, split_pem_chain
from certify_tui.lifecycle import certificates, credentials
from certify_tui.lifecycle.accounts import check_ca_bundle
from certify_tui.lifecycle.adopt import adopt_version
from certify_tui.lifecycle.cert_import import certificate_names
from certify_tui.lifecycle.certbot_files import (
    CertbotAccount,
    Lineage,
    LineageError,
    check_config_dir,
    find_account,
    lineage_confs,
    read_bytes,
    read_lineage,
)
from certify_tui.lifecycle.certbot_mapping import Mapping, hook_scripts, map_lineage
from certify_tui.lifecycle.certificates import CertificateSpec
from certify_tui.paths import DataDir
from certify_tui.store import credentials as credential_store
from certify_tui.store.models import Account

TAG = "certbot"  # on every certificate imported from certbot: a second run recognises them
DISABLE_CERTBOT = (
    "certbot still renews these lineages: stop it so that only certify-tui does.",
    "  systemd:  systemctl disable --now certbot.timer   (snap: snap stop --disable certbot.renew)",
    "  cron:     remove or comment out the certbot line in /etc/cron.d/certbot (or root's crontab)",
)


@dataclass
class LineagePlan:
    """What a lineage becomes (`action`: import, imported, already imported, conflict, unsupported, failed)."""

    lineage: str
    action: str
    message: str | None = None
    names: list[str] = field(default_factory=list)
    key_type: str | None = None
    not_after: datetime | None = None
    account: CertbotAccount | None = None
    existing_account: int | None = None  # our account with certbot's URL, if already here
    mapping: Mapping | None = None
    seconds: float | None = None  # the import's time, once done
    fullchain_pem: bytes = b""
    key_pem: bytes = b""

    @property
    def expired(self) -> bool:
        return self.not_after is not None and self.not_after <= datetime.now(UTC)

    def to_dict(self) -> dict[str, Any]:
        mapping = self.mapping
        return {
            "lineage": self.lineage, "action": self.action, "message": self.message, "names": self.names,
            "key_type": self.key_type, "not_after": self.not_after.isoformat() if self.not_after else None,
            "expired": self.expired,
            "account": None if self.account is None else {
                "certbot_id": self.account.id, "uri": self.account.uri, "server": self.account.server,
                "email": self.account.email, "existing": self.existing_account},
            "rules": [r.to_json() for r in mapping.rules] if mapping else [],
            "credential": mapping.credential.to_dict() if mapping and mapping.credential else None,
            "tasks": [t.to_json() for t in mapping.tasks] if mapping else [],
            "renewal": mapping.renewal.to_json() if mapping and mapping.renewal else None,
            "auto_renew": mapping.auto_renew if mapping else None,
            "not_mapped": list(mapping.not_mapped) if mapping else [],
            "seconds": self.seconds,
        }


@dataclass
class CertbotImport:
    config_dir: str
    lineages: list[LineagePlan]
    dry_run: bool

    def to_dict(self) -> dict[str, Any]:
        return {"config_dir": self.config_dir, "dry_run": self.dry_run,
                "lineages": [p.to_dict() for p in self.lineages]}


def plan_import(config_dir: str | None) -> CertbotImport:
    """Read every lineage and say what it would become; nothing is written, nothing is asked of the CA."""
    folder = check_config_dir(config_dir)
    scripts = hook_scripts(folder)
    accounts: dict[str, CertbotAccount] = {}  # lineages share accounts: each is read (and its key loaded) once
    plans = []
    for conf_path in lineage_confs(folder):
        name = conf_path.name[: -len(".conf")]
        try:
            plans.append(_plan_lineage(folder, read_lineage(folder, conf_path), scripts, accounts))
        except CertifyError as exc:
            plans.append(LineagePlan(name, "unsupported", exc.message.removeprefix(f"{name}: ")))
    return CertbotImport(str(folder), plans, dry_run=True)


def _plan_lineage(folder: Path, lineage: Lineage, scripts: dict[str, list[Path]],
                  accounts: dict[str, CertbotAccount]) -> LineagePlan:
    params = lineage.params
    fullchain = read_bytes(lineage.fullchain_path, "certificate", lineage.name)
    key_pem = read_bytes(lineage.privkey_path, "private key", lineage.name)
    try:
        key_type = key_type_of(load_key(key_pem))
    except (UsageError, ValueError, TypeError):
        raise LineageError(f"{lineage.name}: its private key is not an ECDSA or RSA key this app can use.") from None
    if key_type not in KEY_TYPES:
        raise LineageError(f"{lineage.name}: key type {key_type} is not supported "
                           f"(one of {', '.join(KEY_TYPES)} is).")
    leaf = _leaf(fullchain, lineage.name)
    server = params.text("server") or ""
    account_id = params.text("account") or ""
    account = accounts.get(account_id) or find_account(folder, account_id, server, lineage.name)
    accounts[account_id] = account
    plan = LineagePlan(lineage.name, "import", names=certificate_names(leaf), key_type=key_type,
                       not_after=leaf.not_valid_after_utc, account=account,
                       mapping=map_lineage(lineage.name, params, lineage.conf, scripts),
                       fullchain_pem=fullchain, key_pem=key_pem)
    known = Account.select(Account.id).where(Account.uri == account.uri).first()
    plan.existing_account = known.id if known else None
    try:
        existing = certificates.get_certificate(lineage.name)
    except NotFoundError:
        existing = None
    if existing is not None:
        if TAG in (existing.tags or []):
            plan.action, plan.message = "already imported", f"already imported as '{existing.name}'"
        else:
            plan.action = "conflict"
            plan.message = f"a certificate named '{existing.name}' already exists here (not from certbot)"
    if plan.action == "import" and plan.expired:
        plan.message = "the certificate has expired: imported anyway, and renewed at once"
    return plan


def _leaf(fullchain: bytes, lineage: str) -> x509.Certificate:
    blocks = split_pem_chain(fullchain)
    try:
        return x509.load_pem_x509_certificate(blocks[0])
    except (IndexError, ValueError):
        raise LineageError(f"{lineage}: its fullchain.pem holds no PEM certificate.") from None


def run_import(data: DataDir, config_dir: str | None, *, dry_run: bool = False, ca_bundle: str | None = None,
               allow_internal_names: bool = False) -> CertbotImport:
    """Plan, then (unless `dry_run`) import every lineage planned for it; each plan says what happened."""
    bundle = check_ca_bundle(ca_bundle)
    result = plan_import(config_dir)
    result.dry_run = dry_run
    if dry_run:
        return result
    for plan in result.lineages:
        if plan.action != "import":
            continue
        started = time.perf_counter()
        try:
            _import_lineage(data, plan, bundle, allow_internal_names)
            plan.action = "imported"
        except CertifyError as exc:
            plan.action, plan.message = "failed", exc.message.removeprefix(f"{plan.lineage}: ")
        plan.seconds = round(time.perf_counter() - started, 3)
    return result


def _import_lineage(data: DataDir, plan: LineagePlan, bundle: str | None, allow_internal: bool) -> None:
    assert plan.account is not None and plan.mapping is not None  # an "import" plan has both
    account = _account(plan.account, bundle, allow_internal)
    mapping = plan.mapping
    if mapping.credential is not None:
        _ensure_credential(plan.lineage, mapping.credential.name, mapping.credential.provider,
                           mapping.credential.options)
    spec = CertificateSpec(
        name=plan.lineage, domains=plan.names, account=str(account.id), rules=mapping.rules,
        key_type=plan.key_type or "ec256", reuse_key=mapping.reuse_key, preferred_chain=mapping.preferred_chain,
        profile=mapping.profile, renewal=mapping.renewal, auto_renew=mapping.auto_renew, deployment_mode="files",
        tasks=mapping.tasks)
    cert = certificates.add_certificate(data, spec)
    try:
        cert.tags = sorted({*(cert.tags or []), TAG})
        cert.save()
        adopt_version(data, cert, plan.fullchain_pem, plan.key_pem)
    except BaseException:
        # All or nothing for this lineage: no certificate left without its files.
        cert.delete_instance(recursive=True)
        CertificateFiles(data.certificates, cert.name).remove_all()
        raise
    app_log.info("imported certbot lineage %s as %s", plan.lineage, cert.name)


def _ensure_credential(lineage: str, name: str, provider: str, options: dict[str, Any]) -> None:
    """The credential made from the same certbot file by an earlier lineage (or run) is reused."""
    if name.lower() in (n.lower() for n in credential_store.credential_names()):
        existing = credential_store.get_credential(name)
        if existing.provider != provider:
            raise LineageError(f"{lineage}: a credential named '{name}' exists for another provider "
                               f"({existing.provider}): rename it, then import again.")
        return
    try:
        credentials.add_credential(name, provider, options)
    except UsageError as exc:
        raise LineageError(f"{lineage}: its dns-rfc2136 credentials: {exc.message}") from None


def _account(found: CertbotAccount, bundle: str | None, allow_internal: bool) -> Account:
    """Our account for certbot's (the same URL and key); made once, after the CA confirmed it."""
    existing: Account | None = Account.select().where(Account.uri == found.uri).first()
    if existing is not None:
        return existing
    from certify_tui.ca.client import AcmeSession  # the ACME stack, loaded only for a real import

    ca_name, directory_url = resolve_ca(found.server)
    session = AcmeSession(directory_url, load_key(found.key_pem), ca_bundle=bundle, account_uri=found.uri)
    state = session.post_as_get(found.uri).json()  # signed by certbot's key: proves key and URL belong together
    if state.get("status", "valid") != "valid":
        raise LineageError(f"certbot's account {found.id} is {state.get('status')} at {directory_url}: "
                           f"it cannot renew.")
    contacts = [c[len("mailto:"):] for c in state.get("contact") or [] if str(c).startswith("mailto:")]
    email = found.email or (contacts[0] if contacts else f"certbot-{found.id[:12]}")
    clash = Account.select(Account.id).where((Account.email == email) & (Account.directory_url == directory_url))
    if clash.exists():
        raise LineageError(f"An account for {email} at {directory_url} already exists here with another key: "
                           f"certbot's account {found.id} cannot be stored next to it.")
    account = Account.create(
        email=email, ca_name=ca_name, directory_url=directory_url, ca_bundle=bundle,
        allow_internal_names=allow_internal, key_type=found.key_type,
        account_key_pem=key_to_pem(load_key(found.key_pem)).decode(), uri=found.uri, status="valid",
        tos_agreed=True, tos_url=found.tos_url)
    app_log.info("imported certbot account %s (%s) at %s", found.id, found.uri, directory_url)
    return account
