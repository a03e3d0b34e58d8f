"""`import bundle`, second half: apply a plan (bundle_plan) in one database transaction.

Accounts (same key and account URL: no new registration), credentials, settings, certificates, then each
certificate's files as its current version (lifecycle.adopt). Any failure rolls the transaction back and
undoes the file switches already made, so an import happens whole or not at all. Certificates that exist
here are leased first: a renewal running now is never mixed with an import."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import peewee

from certify_tui.certfiles import CertificateFiles
from certify_tui.challenges import get_provider
from certify_tui.challenges.rules import check_rule
from certify_tui.deploy.tasks import get_task
from certify_tui.deploy.tasks.credentials import TASK_KIND, task_credential
from certify_tui.errors import CertifyError, OperationError
from certify_tui.keys import check_key_type
from certify_tui.lifecycle.adopt import adopt_version
from certify_tui.lifecycle.bundle_plan import BundleItem, BundlePlan, match_account
from certify_tui.lifecycle.certificates import DEPLOYMENT_MODES, check_names, check_renewal
from certify_tui.lifecycle.revoked import mark_revoked
from certify_tui.lifecycle.settings import DEFAULT_RULE_KEY, update_settings
from certify_tui.model import ChallengeRule, Credential, DeploymentSettings, RenewalPolicy
from certify_tui.notify_channels import NOTIFY_KIND, SmtpLogin
from certify_tui.paths import DataDir, check_certificate_name, ensure_private_dir, write_private_file
from certify_tui.renewal import leases, repair
from certify_tui.store import credentials as credential_store
from certify_tui.store.models import Account, ManagedCertificate, Setting
from certify_tui.store.sealed import seal_rules_json

_SINCE = "one of the same name was added here since the preview: preview again"
CA_BUNDLES = "ca-bundles"  # in the data folder: the CA bundles of imported accounts this machine lacked


@dataclass
class _Adopted:
    """One certificate's files switched inside the transaction, to undo if it does not commit."""

    files: CertificateFiles
    previous: str | None  # the archive folder live showed before, None for none
    directory: Path  # the version archived by the import
    existed: bool  # the certificate's folder was there before


def _local_ca_bundle(data: DataDir, entry: dict[str, Any]) -> str | None:
    """The bundle's CA bundle on this machine: the same path if it holds the same PEM, else a copy."""
    pem = entry.get("ca_bundle_pem")
    if not pem:
        return None
    given = entry.get("ca_bundle")
    with contextlib.suppress(OSError, UnicodeDecodeError, TypeError):
        if given and Path(given).read_text(encoding="utf-8") == pem:
            return str(given)
    folder = ensure_private_dir(data.root / CA_BUNDLES)
    path = folder / f"{hashlib.sha256(pem.encode('utf-8')).hexdigest()[:16]}.pem"
    write_private_file(path, pem.encode("utf-8"))
    return str(path)


def _apply_account(data: DataDir, entry: dict[str, Any], new: bool) -> None:
    row, _ = match_account(entry)
    if new and row is not None:
        raise OperationError(_SINCE)
    account = row or Account()
    for name in ("email", "ca_name", "directory_url", "allow_internal_names", "key_type", "account_key_pem", "uri",
                 "eab_kid", "status", "tos_agreed", "tos_url"):
        setattr(account, name, entry.get(name))
    account.ca_bundle = _local_ca_bundle(data, entry)
    account.save()


def _apply_credential(entry: dict[str, Any], new: bool) -> None:
    credential = Credential(str(entry["name"]), str(entry["provider"]), str(entry["challenge"]),
                            dict(entry.get("values") or {}), dict(entry.get("secrets") or {}))
    if credential.challenge == TASK_KIND:  # the plug-in must be installed here: say so now, not at renewal
        get_task(credential.provider)
    elif credential.challenge == NOTIFY_KIND:  # an SMTP login for the email notifications
        SmtpLogin.validate_options({**credential.values, **credential.secrets})
    else:
        get_provider(credential.challenge, credential.provider)
    credential_store.save_credential(credential, new=new)


def _apply_default_rule(rule: dict[str, Any]) -> None:
    checked = check_rule(ChallengeRule.from_json({**rule, "pattern": "*"}), given=False)
    stored = seal_rules_json([checked.to_json()])[0]
    Setting.insert(key=DEFAULT_RULE_KEY, value=stored).on_conflict(
        conflict_target=[Setting.key], update={Setting.value: stored}).execute()


def _account_of(plan: BundlePlan, ref: str) -> Account:
    entry = next((i.entry for i in plan.items if i.kind == "account" and i.entry.get("ref") == ref), None)
    row = match_account(entry)[0] if entry is not None else None
    if row is None:
        raise OperationError(f"its account ({ref}) is not in the bundle.")
    return row


def _checked_deployment(settings: dict[str, Any]) -> DeploymentSettings:
    deployment = DeploymentSettings.from_json(settings.get("deployment") or {})
    if deployment.mode not in DEPLOYMENT_MODES:
        raise OperationError(f"unknown deployment mode '{deployment.mode}'.")
    for task in deployment.tasks:
        cls = get_task(task.type)  # stored options: typed, not checked against this machine (a path may differ)
        credential = task_credential(task, cls.id)
        cls.validate_options({**(credential.options() if credential else {}), **task.options})
    return deployment


def _apply_certificate(plan: BundlePlan, item: BundleItem) -> ManagedCertificate:
    settings = item.entry["settings"]
    existing = ManagedCertificate.get_or_none(peewee.fn.lower(ManagedCertificate.name) == item.name.lower())
    if item.state == "new" and existing is not None:
        raise OperationError(_SINCE)
    cert = existing or ManagedCertificate(name=check_certificate_name(item.name), status="new")
    account = _account_of(plan, str(settings.get("account")))
    # As the store loads them: typed and known, not re-checked as a person's input against this machine.
    rules = tuple(check_rule(ChallengeRule.from_json(rule), given=False)
                  for rule in settings.get("challenge_rules") or [])
    if not rules:
        raise OperationError("it has no challenge rule.")
    identifiers = check_names(list(settings.get("identifiers") or []), rules, account)
    cert.account, cert.identifiers, cert.primary_identifier = account, identifiers, identifiers[0]
    cert.challenge_rules, cert.deployment = rules, _checked_deployment(settings)
    cert.key_type = check_key_type(str(settings.get("key_type")))
    cert.renewal = check_renewal(RenewalPolicy.from_json(settings.get("renewal")))
    cert.reuse_key, cert.auto_renew = bool(settings.get("reuse_key")), bool(settings.get("auto_renew", True))
    cert.preferred_chain, cert.profile = settings.get("preferred_chain"), settings.get("profile")
    cert.tags = sorted(str(tag) for tag in settings.get("tags") or [])
    cert.fallback_accounts = [_account_of(plan, str(ref)).id for ref in settings.get("fallback_accounts") or []]
    cert.save(force_insert=existing is None)
    return cert


def _keep_revocation(cert: ManagedCertificate, revocation: Any) -> None:
    if not isinstance(revocation, dict):
        return
    try:
        at = datetime.fromisoformat(str(revocation.get("at")))
    except ValueError:  # no time in the bundle: it is revoked all the same
        at = None
    mark_revoked(cert, reason=str(revocation.get("reason") or "unspecified"), at=at,
                 renew=bool(revocation.get("renew")))


@contextlib.contextmanager
def _leased(names: list[str]) -> Iterator[None]:
    """Leases on the certificates that exist here, all or none (Busy names the one being renewed)."""
    owner, held = leases.owner_id(), []
    try:
        for name in names:
            if not leases.acquire(name, owner):
                raise leases.Busy(name, leases.holder(name))
            held.append(name)
        yield
    finally:
        for name in held:
            leases.release(name, owner)


def _undo(adopted: list[_Adopted]) -> set[str]:
    """Live back to what the rolled-back database records; the names it could not (their marks stay, so
    the next start's repair finishes the job)."""
    failed = set()
    for done in reversed(adopted):
        try:
            if done.previous is None:
                done.files.remove_live()
            else:
                done.files.switch_live(done.files.archive / done.previous)
            done.files.discard(done.directory)
            if not done.existed:
                done.files.remove_all()
        except (CertifyError, OSError):
            failed.add(done.files.name)
    return failed


def _apply_item(data: DataDir, plan: BundlePlan, item: BundleItem) -> ManagedCertificate | None:
    try:
        if item.kind == "account":
            _apply_account(data, item.entry, new=item.state == "new")
        elif item.kind == "credential":
            _apply_credential(item.entry, new=item.state == "new")
        elif item.kind == "setting" and item.name == "default challenge rule":
            _apply_default_rule(item.entry)
        elif item.kind == "setting":
            update_settings({item.name: item.entry})
        elif item.kind == "certificate":
            return _apply_certificate(plan, item)
    except CertifyError as exc:
        raise OperationError(f"Importing the {item.kind} {item.name} failed: {exc.message.rstrip('.')}. "
                             f"Nothing was imported.", field=exc.field) from exc
    return None


def apply_import(data: DataDir, plan: BundlePlan) -> dict[str, Any]:
    """Apply what the plan applies (new, changed, and conflicts with replace), whole or not at all."""
    chosen = [item for item in plan.items if plan.applies(item)]
    order = {"account": 0, "credential": 1, "setting": 2, "certificate": 3}
    chosen.sort(key=lambda item: order[item.kind])
    existing = [str(row.name) for item in chosen if item.kind == "certificate"
                for row in ManagedCertificate.select(ManagedCertificate.name)
                .where(peewee.fn.lower(ManagedCertificate.name) == item.name.lower())]
    adopted: list[_Adopted] = []
    marks: list[Path] = []
    left: set[str] = set()  # names whose undo failed: their marks stay for repair
    with _leased(existing):
        try:
            with ManagedCertificate._meta.database.atomic():
                certificates = [(item, _apply_item(data, plan, item)) for item in chosen]
                for item, cert in certificates:
                    if cert is None or not item.take_files:
                        continue
                    files = CertificateFiles(data.certificates, cert.name)
                    previous, existed = files.live_folder(), files.base.is_dir()
                    try:
                        stored = adopt_version(data, cert, item.entry["files"]["fullchain"].encode("ascii"),
                                               item.entry["files"]["privkey"].encode("ascii"))
                    except CertifyError as exc:
                        raise OperationError(f"Importing the files of {cert.name} failed: "
                                             f"{exc.message.rstrip('.')}. Nothing was imported.") from exc
                    adopted.append(_Adopted(files, previous, stored.directory, existed))
                    _keep_revocation(cert, item.entry.get("revocation"))
                    # Until the commit, a crash leaves live ahead of the database: the next start repairs it.
                    marks.append(repair.mark_storing(data, cert.name))
        except BaseException:
            left = _undo(adopted)
            raise
        finally:
            for mark in marks:
                if mark.name not in left:
                    repair.clear_mark(mark)
    return {"applied": [item.to_dict() for item in chosen], "files": len(adopted),
            "skipped_conflicts": sum(1 for item in plan.items if item.state == "conflict" and not plan.replace)}
