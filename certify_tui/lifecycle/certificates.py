"""Managed certificates: add, list, show, remove (previews: see planning.py)."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

import peewee
from peewee import fn

from certify_tui.certfiles import CertificateFiles
from certify_tui.challenges.rules import check_rule, make_rule, redacted, rule_for
from certify_tui.errors import CertifyError, NotFoundError, UsageError, about, safe_text
from certify_tui.identifiers import check_identifiers
from certify_tui.keys import DEFAULT_KEY_TYPE, check_key_type
from certify_tui.lifecycle.accounts import find_account
from certify_tui.lifecycle.failover import failover_view
from certify_tui.lifecycle.settings import get_default_rule, get_settings
from certify_tui.lifecycle.tags import check_tags, has_tags
from certify_tui.model import (
    DEPLOYMENT_BINDINGS,
    RENEWAL_KINDS,
    ChallengeRule,
    DeploymentSettings,
    RenewalPolicy,
    TaskConfig,
)
from certify_tui.paths import DataDir, check_certificate_name, check_path_component
from certify_tui.renewal import policy
from certify_tui.store.models import Account, CertificateVersion, ManagedCertificate

log = logging.getLogger(__name__)

BINDING_CHOICES = {  # DEPLOYMENT_BINDINGS as faces offer them
    "update": "Update: only sites that already have TLS",
    "add-or-update": "Add or update: also give HTTP-only sites a TLS listener",
}
DEPLOYMENT_MODES = {
    "auto": "Auto: every discovered nginx/Apache site whose names this certificate covers",
    "single": "Single site: one chosen nginx/Apache site",
    "files": "Files only: the live files are kept current, no server is changed",
    "none": "None: certificates are stored in the archive and live folders only",
}


def check_names(names: list[str], rules: Sequence[ChallengeRule], account: Account) -> list[str]:
    with about("domains"):  # the rule errors (no rule matches, a wildcard without dns-01) name "rules"
        return check_identifiers(names, allow_internal=account.allow_internal_names,
                                 challenge_for=lambda n: rule_for(rules, n).challenge)


@dataclass
class CertificateSpec:
    """The editable settings of a managed certificate: what a face collects, what the core validates."""

    name: str
    domains: list[str]
    account: str | None = None  # email or id; None = the only account
    challenge: str = "http-01"  # with provider/options: the default rule when `rules` is empty
    provider: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    credential: str | None = None  # a stored credential's name, for that default rule
    rules: list[ChallengeRule] = field(default_factory=list)  # first match wins
    key_type: str = DEFAULT_KEY_TYPE
    reuse_key: bool = False
    preferred_chain: str | None = None
    profile: str | None = None
    renewal: RenewalPolicy | None = None  # None: the app's default renewal percent
    auto_renew: bool = True
    deployment_mode: str = "files"
    deployment_site: str | None = None  # the site id for the "single" mode
    deployment_binding: str = "update"  # auto/single: "add-or-update" may add a TLS listener to an HTTP site
    tasks: list[TaskConfig] | None = None  # run in order; None keeps the stored ones
    tags: list[str] | None = None  # free labels (see tags.py); None keeps the stored ones
    fallback_accounts: list[str] | None = None  # accounts (ids or emails) to fail over to, in order; None keeps them


def check_tasks(tasks: Sequence[TaskConfig]) -> tuple[TaskConfig, ...]:
    """Each task's type must exist and its options match the type's declared parameters."""
    if not tasks:
        return ()
    from certify_tui.deploy.tasks import get_task
    from certify_tui.deploy.tasks.credentials import task_credential

    checked = []
    for index, task in enumerate(tasks):
        with about(f"tasks[{index}]"):
            cls = get_task(task.type)
            credential = task_credential(task, cls.id)
            own = dict(task.options or {})
            if credential is None:
                checked.append(TaskConfig(cls.id, cls.validate_input(own), task.title or cls.title))
                continue
            # Checked together, stored apart: the task keeps only its own options, so rotation reaches it.
            values = cls.validate_input({**credential.options(), **own})
            checked.append(TaskConfig(cls.id, {k: v for k, v in values.items() if k in own},
                                      task.title or cls.title, credential.name))
    return tuple(checked)


def task_view(number: int, task: TaskConfig) -> dict[str, Any]:
    """One task as faces list it (numbered from 1), secrets masked; the runner's defaults filled in."""
    from certify_tui.deploy.tasks import get_task

    try:
        cls = get_task(task.type)
        options = cls.redact(task.options)
        title = task.title or cls.title
    except UsageError:  # a type no longer installed: shown as stored, every value masked
        options, title = dict.fromkeys(task.options, "********"), task.title or task.type
    return {"number": number, "type": task.type, "title": title,
            "trigger": task.options.get("trigger", "success"), "retries": task.options.get("retries", 0),
            "retry_delay": task.options.get("retry_delay", 5),
            "stop_on_failure": task.options.get("stop_on_failure", True), "options": options,
            "credential": task.credential}


def deployment_view(deployment: DeploymentSettings) -> dict[str, Any]:
    """The deployment in its stored shape, each task's secrets masked (and its number, trigger... added)."""
    view = deployment.to_json()
    view["tasks"] = [task_view(number, task) for number, task in enumerate(deployment.tasks, 1)]
    return view


def renewal_policy(kind: str, value: object) -> RenewalPolicy:
    """The policy a person gives (the value may be text as typed): percent 1-99, or more than 0 days
    before expiry or after issuance; a clear error otherwise."""
    if kind not in RENEWAL_KINDS:
        raise UsageError("Renewal must be one of: percent of the lifetime, days before expiry, or days after "
                         "issuance.", field="renewal")
    what = kind.replace("_", " ")
    try:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise TypeError(value)  # true is not 1
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(value)  # nan, inf
    except (TypeError, ValueError):
        raise UsageError(f"Renewal {what} must be a number, not '{value}'.", field="renewal") from None
    if kind == "percent" and not 1 <= number <= 99:
        raise UsageError("Renewal percent must be between 1 and 99 (75 renews a 90-day certificate on day 67).",
                         field="renewal")
    if kind != "percent" and number <= 0:
        raise UsageError(f"Renewal {what} must be more than 0.", field="renewal")
    return RenewalPolicy(kind, int(number) if number.is_integer() else number)  # 30 days, not 30.0


def check_renewal(renewal: RenewalPolicy | None) -> RenewalPolicy:
    """The policy validated; None is the default for new certificates (the renewal percent setting)."""
    if renewal is None:
        return RenewalPolicy("percent", get_settings()["renewal_percent"])
    return renewal_policy(renewal.kind, renewal.value)


def build_certificate(spec: CertificateSpec, existing: ManagedCertificate | None = None) -> ManagedCertificate:
    """Validate a spec into an (unsaved) model; every rule violation is a UsageError naming its field."""
    name = _checked_name(spec.name, existing)
    with about("account"):
        acct = find_account(spec.account)
    rules = _checked_rules(spec)
    identifiers = check_names(spec.domains, rules, acct)
    renewal = check_renewal(spec.renewal)
    cert = existing or ManagedCertificate(status="new")
    deployment = _checked_deployment(spec, cert.deployment)
    with about("key_type"):
        key_type = check_key_type(spec.key_type)
    tags = list(cert.tags or []) if spec.tags is None else check_tags(spec.tags)
    fallbacks = (list(cert.fallback_accounts or []) if spec.fallback_accounts is None
                 else _checked_fallbacks(spec.fallback_accounts, acct))
    for key, value in dict(
        name=name, account=acct, primary_identifier=identifiers[0], identifiers=identifiers,
        challenge_rules=tuple(rules), key_type=key_type, reuse_key=spec.reuse_key,
        preferred_chain=(spec.preferred_chain or None), profile=(spec.profile or None),
        deployment=deployment, renewal=renewal,
        auto_renew=spec.auto_renew, tags=tags, fallback_accounts=fallbacks,
    ).items():
        setattr(cert, key, value)
    return cert


def _checked_fallbacks(refs: Sequence[str], primary: Account) -> list[int]:
    """Each fallback a known active account other than the primary, once; stored as ids, in order."""
    ids: list[int] = []
    with about("fallback_accounts"):
        for ref in refs:
            account = find_account(ref)
            if account.id == primary.id:
                raise UsageError(f"{ref} is this certificate's own account: a fallback account must be another "
                                 "one (at another CA).")
            if account.id not in ids:
                ids.append(account.id)
    return ids


def _checked_name(given: str, existing: ManagedCertificate | None) -> str:
    name = given.strip()
    with about("name"):
        if existing is not None and name == existing.name:
            check_path_component(name)  # a name stored before the length limit may be kept
        else:
            check_certificate_name(name)
    # Case-insensitive, like the file systems of Windows and macOS (the store's index enforces it too).
    clash = ManagedCertificate.select(ManagedCertificate.name).where(_same_name(name))
    if existing is not None:
        clash = clash.where(ManagedCertificate.id != existing.id)
    other = clash.first()
    if other is not None:
        raise UsageError(_exists_message(name, other.name), field="name")
    return name


def _checked_rules(spec: CertificateSpec) -> list[ChallengeRule]:
    """The spec's rules, or its single challenge/provider/options, or the configured default; validated."""
    if spec.rules:
        rules = []
        for index, rule in enumerate(spec.rules):
            with about(f"rules[{index}]"):
                rules.append(check_rule(rule))
        return rules
    with about("rules[0]"):
        if spec.provider is None and not spec.options and spec.challenge == "http-01" and not spec.credential:
            return [get_default_rule()]  # nothing said about validation: the configured default
        return [make_rule(spec.challenge, spec.provider, spec.options, credential=spec.credential)]


def _checked_deployment(spec: CertificateSpec, stored: DeploymentSettings) -> DeploymentSettings:
    if spec.deployment_mode not in DEPLOYMENT_MODES:
        raise UsageError(f"Unknown deployment mode '{spec.deployment_mode}'; "
                         f"choose one of: {', '.join(DEPLOYMENT_MODES)}.", field="deployment_mode")
    if spec.deployment_mode == "single" and not spec.deployment_site:
        raise UsageError("The 'single site' deployment needs a site: choose one (certify-tui sites lists them).",
                         field="deployment_site")
    if spec.deployment_binding not in DEPLOYMENT_BINDINGS:
        raise UsageError(f"Unknown deployment binding '{spec.deployment_binding}'; "
                         f"choose one of: {', '.join(DEPLOYMENT_BINDINGS)}.", field="deployment_binding")
    return DeploymentSettings(mode=spec.deployment_mode,
                              site=spec.deployment_site if spec.deployment_mode == "single" else None,
                              tasks=stored.tasks if spec.tasks is None else check_tasks(spec.tasks),
                              binding=spec.deployment_binding)


def _same_name(name: str) -> peewee.Expression:
    """Names equal without regard to case, folded by the database (as its unique index on lower(name) does)."""
    return fn.LOWER(ManagedCertificate.name) == fn.LOWER(name)


def _exists_message(name: str, existing: str) -> str:
    if existing == name:
        return f"A certificate named '{name}' already exists."
    return f"A certificate named '{existing}' already exists (names differ only in case: choose another name)."


def _save_unique(cert: ManagedCertificate, **kwargs: Any) -> None:
    """Save; another process adding the same name (in any case) since our check loses cleanly."""
    try:
        with ManagedCertificate._meta.database.atomic():
            cert.save(**kwargs)
    except peewee.IntegrityError:
        clash = ManagedCertificate.select(ManagedCertificate.name).where(_same_name(cert.name))
        if cert.id is not None and not kwargs.get("force_insert"):
            clash = clash.where(ManagedCertificate.id != cert.id)
        other = clash.first()
        if other is None:  # another constraint failed: not ours to explain
            raise
        raise UsageError(_exists_message(cert.name, other.name), field="name") from None


def add_certificate(data: DataDir, spec: CertificateSpec) -> ManagedCertificate:
    cert = build_certificate(spec)
    _save_unique(cert, force_insert=True)
    return cert


def update_certificate(data: DataDir, name: str, spec: CertificateSpec) -> ManagedCertificate:
    """Change settings; renaming moves nothing on disk, so it is refused once files exist."""
    cert = get_certificate(name)
    if spec.name.strip() != cert.name and CertificateFiles(data.certificates, cert.name).has_live():
        raise UsageError(f"'{cert.name}' already has certificate files: it cannot be renamed.")
    cert = build_certificate(spec, existing=cert)
    _save_unique(cert)
    return cert


def set_rule(data: DataDir, name: str, pattern: str, challenge: str, provider: str | None,
             options: dict[str, Any] | None, *, remove: bool = False,
             credential: str | None = None) -> list[ChallengeRule]:
    cert = get_certificate(name)
    pattern = pattern.strip()
    rules = list(cert.challenge_rules)
    index = next((i for i, r in enumerate(rules) if r.pattern == pattern), None)
    if remove:
        if index is None:
            raise UsageError(f"'{name}' has no rule for '{pattern}'.", field="rules")
        rules.pop(index)
        if not rules:
            raise UsageError("A certificate needs at least one rule; replace it instead of removing it.",
                             field="rules")
    else:
        catch_all = next((i for i, r in enumerate(rules) if r.pattern == "*"), len(rules))
        position = index if index is not None else catch_all if pattern != "*" else len(rules)
        with about(f"rules[{position}]"):
            rule = make_rule(challenge, provider, options, pattern, credential=credential)
        if index is not None:
            rules[index] = rule
        else:
            rules.insert(position, rule)  # a new rule goes before the catch-all
    spec = spec_of(cert)
    spec.rules = rules
    return list(update_certificate(data, name, spec).challenge_rules)


def spec_of(cert: ManagedCertificate) -> CertificateSpec:
    """The spec a face edits, from a stored certificate."""
    return CertificateSpec(
        name=cert.name, domains=list(cert.identifiers), account=str(cert.account.id),
        rules=list(cert.challenge_rules), key_type=cert.key_type, reuse_key=cert.reuse_key,
        preferred_chain=cert.preferred_chain, profile=cert.profile, renewal=cert.renewal,
        auto_renew=cert.auto_renew, deployment_mode=cert.deployment.mode, deployment_site=cert.deployment.site,
        deployment_binding=cert.deployment.binding, tasks=list(cert.deployment.tasks), tags=list(cert.tags or []),
        fallback_accounts=[str(i) for i in cert.fallback_accounts or []],
    )


class CertificateRow(NamedTuple):
    """The columns of the certificate list, read in one query (10,000 rows in well under a second)."""

    name: str
    primary: str
    name_count: int  # how many names it covers
    status: str
    not_after: datetime | None
    renews_at: datetime | None  # planned renewal (or retry) time, see policy.planned_renewal
    last_error: str | None
    auto_renew: bool


def certificate_rows() -> list[CertificateRow]:
    m = ManagedCertificate
    fields = (m.name, m.primary_identifier, m.identifiers, m.status, m.not_before, m.not_after, m.renewal,
              m.ari_renew_at, m.next_attempt, m.failure_count, m.last_error, m.auto_renew, m.rate_limited_until)
    rows = []
    # execute(): peewee's stubs type tuples() rows as models; here they are plain tuples.
    query: Iterable[tuple[Any, ...]] = m.select(*fields).order_by(m.name).tuples().execute()
    for (name, primary, identifiers, status, not_before, not_after, renewal, ari_at, next_attempt, failures,
         error, auto, limited) in query:
        renews_at = policy.planned_renewal(status=status, not_before=not_before, not_after=not_after,
                                           renewal=renewal, ari_renew_at=ari_at, next_attempt=next_attempt,
                                           failure_count=failures, rate_limited_until=limited)
        rows.append(CertificateRow(name, primary, len(identifiers), status, not_after, renews_at, error, auto))
    return rows


def renews_at(cert: ManagedCertificate) -> datetime | None:
    return policy.planned_renewal(status=cert.status, not_before=cert.not_before, not_after=cert.not_after,
                                  renewal=cert.renewal, ari_renew_at=cert.ari_renew_at,
                                  next_attempt=cert.next_attempt, failure_count=cert.failure_count or 0,
                                  rate_limited_until=cert.rate_limited_until)


def list_certificates(tags: Sequence[str] = ()) -> list[ManagedCertificate]:
    """Every certificate, or those carrying all of `tags` (filtered here: a JSON list in any database)."""
    found = ManagedCertificate.select().order_by(ManagedCertificate.name)
    return [cert for cert in found if has_tags(cert.tags, tags)] if tags else list(found)


def get_certificate(name: str) -> ManagedCertificate:
    """The certificate called `name`, in any case ('web' finds 'Web'); the exact spelling wins when a
    database from before case-insensitive names holds both."""
    # The account comes in the same query: nearly every use case reads it.
    found = list(ManagedCertificate.select(ManagedCertificate, Account).join(Account)
                 .where(_same_name(name)).limit(10))
    exact = [c for c in found if c.name == name]
    if exact:
        return exact[0]
    if len(found) == 1:
        return found[0]
    if not found:
        raise NotFoundError(f"No certificate named '{name}'.")
    spellings = ", ".join(sorted(f"'{c.name}'" for c in found))
    raise UsageError(f"Several certificates are named '{name}' in different case ({spellings}): give the exact name.")


def current_version(cert: ManagedCertificate) -> CertificateVersion | None:
    version: CertificateVersion | None = (CertificateVersion.select().where(CertificateVersion.certificate == cert)
            .order_by(CertificateVersion.version.desc()).first())
    return version


def remove_certificate(data: DataDir, name: str, *, delete_files: bool = True) -> ManagedCertificate:
    """Stop managing it (and delete its files); returns the removed certificate (its exact name)."""
    cert = get_certificate(name)
    cert.delete_instance(recursive=True)
    if delete_files:
        try:
            check_path_component(cert.name)
        except UsageError:
            # A name from an older version that is no safe folder name: this app never stored files under it,
            # and deleting what such a path points to (say 'a/../b') could hit someone else's.
            log.warning("not deleting files for %r: not a safe folder name", cert.name)
            return cert
        CertificateFiles(data.certificates, cert.name).remove_all()
    return cert


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


# What can go wrong reading one certificate's state: its files (a name too long for the file system, no
# permission), a name an older version stored that is no safe folder name, a stored value that cannot be parsed.
_VIEW_FAILURES = (CertifyError, OSError, ValueError, LookupError, TypeError, peewee.DoesNotExist)


def certificate_view(data: DataDir, cert: ManagedCertificate) -> dict[str, Any]:
    """Everything a face shows about one certificate (secrets masked), `problem` None.

    Never raises for one broken certificate, so one never breaks a list (CLI, API, status): its view
    then has status 'error' and `problem` says why."""
    try:
        return _full_view(data, cert)
    except _VIEW_FAILURES as exc:
        problem = exc.message if isinstance(exc, CertifyError) else f"{type(exc).__name__}: {safe_text(exc)}"
        log.warning("cannot show certificate %r: %s", cert.name, problem)
        view: dict[str, Any] = dict.fromkeys(_VIEW_KEYS)
        view.update(name=cert.name, identifiers=list(cert.identifiers or []),
                    primary_identifier=cert.primary_identifier, status="error", problem=problem,
                    failure_count=cert.failure_count, last_error=cert.last_error)
        return view


def _full_view(data: DataDir, cert: ManagedCertificate) -> dict[str, Any]:
    version = current_version(cert)
    files = CertificateFiles(data.certificates, cert.name)
    account: Account = cert.account
    return {
        "name": cert.name,
        "identifiers": list(cert.identifiers),
        "primary_identifier": cert.primary_identifier,
        "status": cert.status,
        "account": account.email,
        "ca": account.ca_name or account.directory_url,
        "key_type": cert.key_type,
        "reuse_key": cert.reuse_key,
        "preferred_chain": cert.preferred_chain,
        "profile": cert.profile,
        "challenge_rules": [redacted(r).to_json() for r in cert.challenge_rules],
        "deployment": deployment_view(cert.deployment),
        "renewal": cert.renewal.to_json(),
        "auto_renew": cert.auto_renew,
        "tags": list(cert.tags or []),
        "serial": version.serial if version else None,
        "fingerprint_sha256": version.fingerprint_sha256 if version else None,
        "issuer": version.issuer if version else None,
        "not_before": _iso(cert.not_before),
        "not_after": _iso(cert.not_after),
        "date_issued": _iso(cert.date_issued),
        "last_attempt": _iso(cert.last_attempt),
        "renews_at": _iso(renews_at(cert)),
        "next_attempt": _iso(cert.next_attempt),
        "renew_reason": cert.renew_reason,
        "revoked_at": _iso(cert.revoked_at),
        "revocation_reason": cert.revocation_reason,
        "deploy_status": cert.deploy_status,
        "deploy_error": cert.deploy_error,
        "ari_window": ({"start": _iso(cert.ari_window_start), "end": _iso(cert.ari_window_end)}
                       if cert.ari_window_start else None),
        "failure_count": cert.failure_count,
        "last_error": cert.last_error,
        **failover_view(cert, version),
        "versions": CertificateVersion.select().where(CertificateVersion.certificate == cert).count(),
        "files": {role: str(path) for role, path in files.live_files().items()} if files.has_live() else None,
        "problem": None,
    }


_VIEW_KEYS = ("name", "identifiers", "primary_identifier", "status", "account", "ca", "key_type", "reuse_key",
              "preferred_chain", "profile", "challenge_rules", "deployment", "renewal", "auto_renew", "tags", "serial",
              "fingerprint_sha256", "issuer", "not_before", "not_after", "date_issued", "last_attempt",
              "renews_at", "next_attempt", "renew_reason", "revoked_at", "revocation_reason", "deploy_status",
              "deploy_error", "ari_window", "failure_count", "last_error", "fallback_accounts", "ca_failure_count",
              "rate_limited_until", "issued_by", "versions", "files", "problem")
