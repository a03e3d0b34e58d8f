"""Executing a plan: order, validate, download, store, and record the outcome.

The old live files stay in place until the new certificate is complete and matches its key;
a failure at any step leaves them byte-identical and is recorded with a clear message.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from certify_tui.ca import order as acme_order
from certify_tui.certfiles import CertificateFiles, StoredVersion
from certify_tui.challenges.rules import provider_from, rule_for
from certify_tui.errors import CertifyError, OperationError
from certify_tui.events import Cancelled, ProgressCallback, RequestLog
from certify_tui.keys import generate_key, key_to_pem, load_key
from certify_tui.lifecycle.accounts import session_for
from certify_tui.lifecycle.certificates import get_certificate
from certify_tui.paths import DataDir
from certify_tui.renewal import policy
from certify_tui.store.models import CertificateVersion, ManagedCertificate


@dataclass(frozen=True)
class RequestResult:
    name: str
    version: StoredVersion
    seconds: float


def request_certificate(data: DataDir, name: str, *, on_event: ProgressCallback | None = None,
                        cancel: threading.Event | None = None) -> RequestResult:
    cert = get_certificate(name)
    log = RequestLog(data.certificate_log(cert.name), on_event, cancel, name=cert.name)
    started = datetime.now(UTC)
    cert.last_attempt = started
    cert.save()
    log.step("start", f"request for {len(cert.identifiers)} identifier(s) via {cert.account.email}")
    try:
        stored = _run(data, cert, log)
    except Cancelled as exc:
        # A person's cancel is not a CA failure: no backoff, no failure count.
        log.step("failed", exc.message, ok=False)
        cert.last_error = "Cancelled by the user."
        cert.save()
        raise
    except CertifyError as exc:
        _record_failure(cert, exc, log)
        raise
    except Exception as exc:  # noqa: BLE001 - whatever broke, the certificate's status must say so
        error = OperationError(f"Unexpected error: {exc.__class__.__name__}: {exc}", detail=repr(exc))
        _record_failure(cert, error, log)
        raise error from exc
    seconds = (datetime.now(UTC) - started).total_seconds()
    log.step("done", f"certificate {stored.serial} valid until {stored.not_after:%Y-%m-%d %H:%M} UTC "
                     f"({seconds:.2f} s)", ok=True)
    return RequestResult(cert.name, stored, seconds)


def _run(data: DataDir, cert: ManagedCertificate, log: RequestLog) -> StoredVersion:
    files = CertificateFiles(data.certificates, cert.name)
    old_key = files.live_key_pem() if cert.reuse_key else None
    key = load_key(old_key) if old_key else generate_key(cert.key_type)
    log.info("reusing the current private key" if old_key else f"generated a new {cert.key_type} key")
    rules = cert.challenge_rules
    providers: dict[int, object] = {}

    def provider_for(identifier: str):  # type: ignore[no-untyped-def]
        rule = rule_for(rules, identifier)
        # One provider per rule, so its answers are published together (one listener, one DNS batch).
        return providers.setdefault(rules.index(rule), provider_from(rule))

    session = session_for(cert.account)
    issued = acme_order.issue(session, list(cert.identifiers), key, provider_for, log=log,
                              profile=cert.profile, preferred_chain=cert.preferred_chain)
    log.check_cancelled()  # the last moment a cancel can still leave everything as it was
    log.step("store", "verifying the chain and key, then switching the live files")
    stored = files.install(issued.fullchain_pem, old_key if old_key else key_to_pem(key))
    _record_success(cert, stored)
    log.step("store", f"live files updated in {files.live_dir}", ok=True)
    mode = (cert.deployment or {}).get("mode", "files")
    log.step("deploy", f"deployment mode '{mode}': nothing else to change", ok=True)
    return stored


def _record_success(cert: ManagedCertificate, stored: StoredVersion) -> None:
    now = datetime.now(UTC)
    with cert._meta.database.atomic():
        CertificateVersion.create(
            certificate=cert, version=stored.version, serial=stored.serial, not_before=stored.not_before,
            not_after=stored.not_after, fingerprint_sha256=stored.fingerprint_sha256,
            issuer=stored.issuer, archive_dir=str(stored.directory), files=stored.files)
        cert.status = "valid"
        cert.date_issued = now
        cert.not_before = stored.not_before
        cert.not_after = stored.not_after
        cert.failure_count = 0
        cert.last_error = None
        cert.next_attempt = policy.renewal_due(stored.not_before, stored.not_after, cert.renewal)
        cert.save()


def _record_failure(cert: ManagedCertificate, error: CertifyError, log: RequestLog) -> None:
    now = datetime.now(UTC)
    log.step("failed", error.message, ok=False)
    cert.failure_count = (cert.failure_count or 0) + 1
    cert.last_error = error.message
    cert.status = "failed"
    lifetime = (cert.not_after - cert.not_before) if cert.not_before and cert.not_after else None
    cert.next_attempt = policy.retry_after_failure(cert.failure_count, now, lifetime)
    cert.save()
