"""Executing a plan: order, validate, download, store, deploy, and record the outcome.

A request runs the plan built for the certificate under its lease (planning.preview), step by step,
and its events name those steps. A face that showed a plan passes it in: if the certificate changed
since, the request refuses (PlanChanged) before anything is ordered.

The old live files stay in place until the new certificate is complete and matches its key;
a failure at any step leaves them byte-identical and is recorded with a clear message. The
order's URL and key are saved before any challenge is answered, so a killed process resumes
the same order instead of placing a second one.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import peewee

from certify_tui.ca import ari
from certify_tui.ca import order as acme_order
from certify_tui.ca.client import AcmeSession
from certify_tui.certfiles import CertificateFiles, StoredVersion
from certify_tui.challenges.base import ChallengeProvider
from certify_tui.challenges.rules import provider_from, rule_for
from certify_tui.deploy import (
    DeploymentFailed,
    DeploymentTargets,
    deploy_certificate,
    deployment_targets,
    run_before_tasks,
    run_failure_tasks,
)
from certify_tui.errors import CAError, CertifyError, OperationError, StorageError, Transient
from certify_tui.events import ORDER, STORE, Cancelled, ProgressCallback, RequestLog
from certify_tui.keys import generate_key, key_to_pem, load_key
from certify_tui.lifecycle import failover
from certify_tui.lifecycle.accounts import session_for
from certify_tui.lifecycle.certificates import get_certificate
from certify_tui.lifecycle.planning import preview
from certify_tui.lifecycle.settings import get_settings
from certify_tui.oserrors import storage_error
from certify_tui.paths import DataDir, ensure_private_dir, write_private_file
from certify_tui.plan import Plan, PlanChanged
from certify_tui.renewal import leases, policy, repair
from certify_tui.store.models import Account, CertificateVersion, ManagedCertificate

PENDING_KEY = "pending-privkey.pem"


@dataclass(frozen=True)
class RequestResult:
    name: str
    version: StoredVersion
    seconds: float
    deployed: bool = True
    deploy_error: str | None = None
    plan: Plan | None = None  # the plan that ran


_sessions = threading.local()


def cached_session(account: Account) -> AcmeSession:
    """One ACME session per thread and account: a ClientNetwork is not thread-safe, and reusing
    it saves the directory fetch and the TLS handshake on every renewal."""
    cache: dict[tuple[int, str | None, str], AcmeSession] = _sessions.__dict__.setdefault("by_account", {})
    key = (account.id, account.uri, account.directory_url)
    session = cache.get(key)
    if session is None:
        session = cache[key] = session_for(account)
    return session


def request_certificate(data: DataDir, name: str, *, on_event: ProgressCallback | None = None,
                        cancel: threading.Event | None = None, owner: str | None = None,
                        reason: str | None = None, confirm: Callable[[str], bool] | None = None,
                        plan: Plan | None = None, on_plan: Callable[[Plan], None] | None = None) -> RequestResult:
    """Plan the request under the certificate's lease and run that plan.

    `plan`: the plan a face showed; if the certificate changed since (names, rules, key, account, sites,
    tasks), PlanChanged and nothing is ordered. `on_plan` hears the plan about to run, before its first step."""
    with leases.lease(name, owner):
        cert = get_certificate(name)  # read under the lease: another worker may just have renewed it
        log = RequestLog(data.certificate_log(cert.name), on_event, cancel, name=cert.name, confirm=confirm)
        try:
            return _plan_and_run(data, cert, log, reason, plan, on_plan)
        finally:
            log.close()


def _plan_and_run(data: DataDir, cert: ManagedCertificate, log: RequestLog, reason: str | None,
                  previewed: Plan | None, on_plan: Callable[[Plan], None] | None) -> RequestResult:
    """Build the plan, hold it against the previewed one, run it; the outcome is recorded on the certificate."""
    started = datetime.now(UTC)
    cert.last_attempt = started
    cert.save()
    why = f" ({reason})" if reason else ""
    via = failover.attempt_account(cert).account.email  # the primary, or the fallback a failover moved to
    log.step("start", f"request for {len(cert.identifiers)} identifier(s) via {via}{why}")
    planned: Plan | None = None  # once there is one: the failure tasks are the plan's
    try:
        for action in repair.repair_certificate(data, cert):  # what a killed run left behind, before planning
            log.info(f"repair: {action}")
        plan = planned = preview(data, cert)  # a plan that cannot be made is this request's failure, recorded
        if previewed is not None:
            plan.check_unchanged(previewed)
        if on_plan is not None:
            on_plan(plan)
        run_before_tasks(data, cert, log, plan.execution.deployment.tasks)
        stored = _order_and_store(data, cert, plan, log)
    except PlanChanged as exc:
        log.step("failed", exc.message, ok=False)  # nothing was tried: no failure to count
        raise
    except Cancelled as exc:
        # A person's cancel is not a CA failure: no backoff, no failure count; the order stays resumable.
        log.step("failed", exc.message, ok=False)
        cert.last_error = "Cancelled by the user."
        cert.save()
        raise
    except Transient as exc:
        # Busy, retried shortly: the certificate keeps its due time and no backoff starts.
        log.step("failed", exc.message, ok=False)
        cert.last_error = exc.message
        cert.save()
        raise
    except CertifyError as exc:
        _record_failure(cert, exc, log)
        run_failure_tasks(data, cert, exc.message, log, planned.execution.deployment.tasks if planned else None)
        raise
    except Exception as exc:  # noqa: BLE001 - whatever broke, the certificate's status must say so
        error = (storage_error(exc, f"the database {data.database_path}", data.root)
                 or OperationError(f"Unexpected error: {exc.__class__.__name__}: {exc}", detail=repr(exc)))
        _record_failure(cert, error, log)
        raise error from exc
    deploy_error = _deploy(data, cert, stored, plan.execution.deployment, log)
    seconds = (datetime.now(UTC) - started).total_seconds()
    log.step("done", f"certificate {stored.serial} valid until {stored.not_after:%Y-%m-%d %H:%M} UTC "
                     f"({seconds:.2f} s)", ok=True)
    return RequestResult(cert.name, stored, seconds, deploy_error is None, deploy_error, plan)


def _order_and_store(data: DataDir, cert: ManagedCertificate, plan: Plan, log: RequestLog) -> StoredVersion:
    files = CertificateFiles(data.certificates, cert.name)
    pending_key_path = files.base / PENDING_KEY

    attempt = failover.attempt_account(cert)
    if attempt.reason:
        log.info(attempt.reason)
    limited = failover.still_limited(cert, attempt.account, datetime.now(UTC))
    if limited is not None:
        raise limited  # the CA said when to come back: asking earlier only extends the limit
    if cert.pending_order_url and not failover.same_ca(cert.pending_order_url, attempt.account.directory_url):
        _forget_order(cert, pending_key_path)  # placed with another CA before a failover: start afresh here
    session = cached_session(attempt.account)
    replaces = _replaces(session, files, log, failover.issuing_account(cert))
    key_pem = _pending_key(cert, pending_key_path) or _new_key(plan, files, log)
    key = load_key(key_pem)

    def remember_order(url: str) -> None:
        ensure_private_dir(files.base)
        write_private_file(pending_key_path, key_pem)
        cert.pending_order_url = url
        cert.save()

    with log.in_step(ORDER):  # and each identifier's validation, by the identifier its events name
        try:
            issued = acme_order.issue(
                session, list(plan.identifiers), key, _providers(plan), log=log, profile=plan.profile,
                replaces=replaces, preferred_chain=plan.preferred_chain, resume_url=cert.pending_order_url,
                on_order=remember_order)
        except CAError:
            _forget_order(cert, pending_key_path)  # a failed order cannot be resumed; the next try starts fresh
            raise
    log.check_cancelled()  # the last moment a cancel can still leave everything as it was
    with log.in_step(STORE):
        log.step("store", "verifying the chain and key, then switching the live files")
        stored = store_version(data, cert, files, issued.fullchain_pem, key_pem, ari.supports_ari(session),
                               account_id=attempt.account.id)
        with contextlib.suppress(OSError):
            pending_key_path.unlink()  # only now: a crash before the commit resumes the same order
        log.step("store", f"live files updated in {files.live_dir}", ok=True)
    return stored


def _providers(plan: Plan) -> Callable[[str], ChallengeProvider]:
    """The provider answering for each identifier, by the plan's rules: one per rule, so its answers are
    published together (one listener, one DNS batch)."""
    rules = list(plan.execution.rules)
    providers: dict[int, ChallengeProvider] = {}

    def provider_for(identifier: str) -> ChallengeProvider:
        index = plan.execution.rule_of.get(identifier)
        if index is None:  # the CA spelled it differently from the plan (case): the same rules decide
            index = rules.index(rule_for(rules, identifier))
        if index not in providers:
            providers[index] = provider_from(rules[index])
        return providers[index]

    return provider_for


def store_version(data: DataDir, cert: ManagedCertificate, files: CertificateFiles, fullchain_pem: bytes,
                  key_pem: bytes, ari_supported: bool, account_id: int | None = None) -> StoredVersion:
    """Archive the version, then record it and switch `live` in one transaction, so the database and
    `live/` never disagree: the switch runs inside the transaction (a failed switch rolls the row back)
    and a failed commit switches `live` back. A crash at any point leaves the intent mark, and
    repair.repair_interrupted makes `live` follow the database at the next start."""
    mark = repair.mark_storing(data, cert.name)  # StorageError here: nothing has changed yet
    settled = True  # False keeps the mark: only then is there something left for repair to do
    try:
        stored = files.archive_version(fullchain_pem, key_pem)  # removes its own folder on failure
        previous = files.live_folder()
        switched = False
        try:
            with cert._meta.database.atomic():
                cert.pending_order_url = None  # the order is finished with this version
                _record_success(cert, stored, ari_supported, account_id)
                files.switch_live(stored.directory)
                switched = True
        except Exception as exc:
            _reload(cert)  # the rolled-back values, not the ones _record_success set in memory
            if switched and not _switch_back(files, previous):
                settled = False  # live shows an unrecorded version until repair points it back
            else:
                files.discard(stored.directory)
            if isinstance(exc, CertifyError):
                raise
            raise (storage_error(exc, f"the database {data.database_path}", data.root)
                   or StorageError(f"Could not record the new version of {cert.name}: {exc}.",
                                   detail=repr(exc))) from exc
        return stored
    finally:
        if settled:
            repair.clear_mark(mark)


def _switch_back(files: CertificateFiles, previous: str | None) -> bool:
    """Undo a live switch whose transaction did not commit; False leaves it to the next start's repair."""
    try:
        if previous is None:
            files.remove_live()
        else:
            files.switch_live(files.archive / previous)
    except StorageError:
        return False
    return True


def _reload(cert: ManagedCertificate) -> None:
    """Forget the in-memory values of a rolled-back success, so a failure record cannot save them."""
    with contextlib.suppress(peewee.PeeweeException):
        cert.__data__ = dict(type(cert).get_by_id(cert.id).__data__)
    cert.mark_clean()


def _pending_key(cert: ManagedCertificate, path: Path) -> bytes | None:
    if not cert.pending_order_url:
        return None
    try:
        return path.read_bytes()
    except OSError:
        cert.pending_order_url = None  # the key is gone, so the order cannot be finished: start again
        return None


def _new_key(plan: Plan, files: CertificateFiles, log: RequestLog) -> bytes:
    old_key = files.live_key_pem() if plan.reuse_key else None
    if old_key:
        log.info("reusing the current private key")
        return old_key
    log.info(f"generated a new {plan.key_type} key")
    return key_to_pem(generate_key(plan.key_type))


def _forget_order(cert: ManagedCertificate, pending_key_path: Path, *, save: bool = True) -> None:
    with contextlib.suppress(FileNotFoundError):
        pending_key_path.unlink()
    if cert.pending_order_url:
        cert.pending_order_url = None
        if save:
            cert.save()


def _replaces(session: AcmeSession, files: CertificateFiles, log: RequestLog, issuer: Account) -> str | None:
    """The ARI id of the certificate this order replaces, when the CA speaks ARI and issued that certificate
    (another CA does not know it: after a failover, or back to the primary)."""
    if not files.has_live() or not ari.supports_ari(session):
        return None
    if not failover.same_ca(session.directory_url, issuer.directory_url):
        return None
    try:
        return ari.cert_id(files.live_files()["cert"].read_bytes())
    except (OSError, CertifyError) as exc:
        log.info(f"cannot name the certificate being replaced: {exc}")
        return None


def redeploy(data: DataDir, name: str, *, on_event: ProgressCallback | None = None) -> str | None:
    """Deploy the current certificate again without ordering (after fixing a site, adding a task...).

    Returns the deployment error, or None when everything deployed."""
    from certify_tui.lifecycle.certificates import current_version

    cert = get_certificate(name)
    version = current_version(cert)
    files = CertificateFiles(data.certificates, cert.name)
    if version is None or not files.has_live():
        raise OperationError(f"'{name}' has no issued certificate to deploy yet: request it first.")
    stored = StoredVersion(version=version.version, directory=Path(version.archive_dir), serial=version.serial,
                           not_before=version.not_before, not_after=version.not_after,
                           fingerprint_sha256=version.fingerprint_sha256, issuer=version.issuer,
                           files={role: str(path) for role, path in files.live_files().items()})
    log = RequestLog(data.certificate_log(cert.name), on_event, name=cert.name)
    try:
        log.step("start", f"deploying {stored.serial} again (no new order)")
        error = _deploy(data, cert, stored, deployment_targets(cert, get_settings()), log, manual=True)
        log.step("done", "deployed" if error is None else f"deployment failed: {error}", ok=error is None)
        return error
    finally:
        log.close()


def _deploy(data: DataDir, cert: ManagedCertificate, stored: StoredVersion, targets: DeploymentTargets,
            log: RequestLog, manual: bool = False) -> str | None:
    """Deployment failures are the deployment's own status: the certificate stays issued, no reorder."""
    try:
        deploy_certificate(data, cert, stored, log, targets, manual=manual)
    except DeploymentFailed as exc:
        log.step("deploy", exc.message, ok=False)
        cert.deploy_status, cert.deploy_error = "failed", exc.message
        cert.save()
        return exc.message
    cert.deploy_status, cert.deploy_error = "ok", None
    cert.save()
    return None


def _record_success(cert: ManagedCertificate, stored: StoredVersion, ari_supported: bool,
                    account_id: int | None) -> None:
    now = datetime.now(UTC)
    with cert._meta.database.atomic():
        CertificateVersion.create(
            certificate=cert, version=stored.version, serial=stored.serial, not_before=stored.not_before,
            not_after=stored.not_after, fingerprint_sha256=stored.fingerprint_sha256,
            issuer=stored.issuer, archive_dir=str(stored.directory), files=stored.files, account_id=account_id)
        failover.record_success(cert)
        cert.status = "valid"
        cert.revoked_at = cert.revocation_reason = None  # those described the version this one replaces
        cert.date_issued = now
        cert.not_before = stored.not_before
        cert.not_after = stored.not_after
        cert.failure_count = 0
        cert.last_error = None
        due = policy.renewal_due(stored.not_before, stored.not_after, cert.renewal)
        cert.ari_window_start = cert.ari_window_end = cert.ari_renew_at = cert.ari_recheck_at = None
        if ari_supported:
            # The worker's next check fetches the CA's renewal window, then follows its Retry-After.
            cert.next_attempt, cert.renew_reason = now, "check the CA's renewal window (ARI)"
        else:
            cert.next_attempt, cert.renew_reason = due, policy.describe(cert.renewal)
        cert.save()


def _record_failure(cert: ManagedCertificate, error: CertifyError, log: RequestLog) -> None:
    log.step("failed", error.message, ok=False)
    try:
        _save_failure(cert, error)
    except peewee.PeeweeException as exc:  # e.g. the disk is full: the error itself matters more
        logging.getLogger("certify_tui").warning("%s: could not record the failure: %s", cert.name, exc)


def _save_failure(cert: ManagedCertificate, error: CertifyError) -> None:
    now = datetime.now(UTC)
    if failover.record_failure(cert, error, now):  # a rate limit: a wait the CA set, not a failure to count
        cert.save()
        return
    cert.failure_count = (cert.failure_count or 0) + 1
    cert.last_error = error.message
    cert.status = "failed"  # the live files (if any) still work until not_after, which faces show beside it
    lifetime = (cert.not_after - cert.not_before) if cert.not_before and cert.not_after else None
    cert.next_attempt = policy.retry_after_failure(cert.failure_count, now, lifetime)
    cert.renew_reason = f"retry after failure {cert.failure_count}"
    if failover.fails_over_now(cert):
        attempt = failover.attempt_account(cert)  # the next account, at once (round to the primary after the last)
        cert.next_attempt = now
        cert.renew_reason = attempt.reason or f"back to {attempt.account.email} after the fallback accounts failed"
    cert.save()
