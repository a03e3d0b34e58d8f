"""The use cases every face calls: accounts, certificates, preview, request, remove.

The TUI, the CLI and the local API hold a `Core` and call its methods; nothing else in the
package is their business.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import peewee

from certify_tui.ca.presets import PRESETS, CAPreset
from certify_tui.challenges import CHALLENGE_TYPES, ChallengeProvider, http_share, providers_for
from certify_tui.errors import StorageError, UsageError
from certify_tui.events import ProgressCallback
from certify_tui.identifiers import check_name
from certify_tui.keys import KEY_TYPES
from certify_tui.lifecycle import (
    accounts,
    certificates,
    credentials,
    database,
    notify_settings,
    planning,
    settings,
    tasks,
)
from certify_tui.lifecycle.certificates import CertificateRow, CertificateSpec
from certify_tui.lifecycle.spec_changes import CertificateChanges, apply_changes
from certify_tui.lifecycle.transfer import TransferUseCases
from certify_tui.logfiles import PrivateFileHandler
from certify_tui.model import ChallengeRule, Credential, TaskConfig
from certify_tui.oserrors import is_read_only_folder, storage_error
from certify_tui.paths import DataDir, os_error_reason
from certify_tui.plan import Plan
from certify_tui.plugins import Param
from certify_tui.renewal.repair import repair_interrupted
from certify_tui.store import close_database, database_url_for, open_database
from certify_tui.store.models import Account, ManagedCertificate
from certify_tui.store.readonly import open_read_only
from certify_tui.store.restore import RestorePlan, RestoreResult
from certify_tui.store.url import DatabaseURL, parse_database_url

if TYPE_CHECKING:
    from certify_tui.cert_test import Check
    from certify_tui.deploy.base import DeploymentTask
    from certify_tui.deploy.tasks.runner import TaskOutcome
    from certify_tui.lifecycle.renew import RenewOutcome
    from certify_tui.lifecycle.request import RequestResult
    from certify_tui.lifecycle.revocation_check import RevocationRun
    from certify_tui.lifecycle.revoke import RevokeResult
    from certify_tui.notify import DeliveryResult

_app_handler: PrivateFileHandler | None = None


@dataclass
class Core(TransferUseCases):
    data: DataDir
    db: peewee.Database
    target: DatabaseURL | None = None  # the parsed --database URL (None: built by hand, e.g. in tests)
    read_only: bool = False  # the data folder is on a read-only file system: commands that write fail

    @classmethod
    def open(cls, data_dir: str | None = None, database: str | None = None, *, connect: bool = True) -> Core:
        """Open the data folder and its database. `connect=False` leaves an SQLite file untouched (not even
        checked or locked), for `db check/backup/restore`, which must work on a damaged or missing one."""
        data = DataDir.resolve(data_dir)
        # Parsed before anything is created: a refused URL leaves no trace anywhere.
        target = parse_database_url(database or database_url_for(data.database_path))
        read_only = data.root.is_dir() and is_read_only_folder(data.root)
        if not read_only:
            data.create()
        _log_to_file(data)
        # The built-in http-01 listener is shared with this data folder's other processes (service + CLI).
        http_share.use_data_folder(data.root)
        if connect or target.path is None:
            db = _open_db(data, target, explicit=database is not None, read_only=read_only)
        else:
            db = peewee.SqliteDatabase(str(target.path), autoconnect=False)  # never bound to the models
        if connect and not read_only:
            repair_interrupted(data)  # a killed or failed store: make live/ agree with the database
        return cls(data, db, target, read_only)

    def close(self) -> None:
        close_database()

    # -- the database itself (db check / backup / restore) -------------------------------------------
    def _target(self) -> DatabaseURL:
        return self.target or parse_database_url(database_url_for(self.data.database_path))

    def check_database(self) -> database.DatabaseCheck:
        """Integrity (full check), schema version, counts, and what each backup holds."""
        return database.check_database(self.data, self._target(), self.db)

    def backup_database(self, to: str | None = None) -> database.BackupDone:
        """An online backup: to `to` (a new file), else the data folder's rotated `certify.db.bak`."""
        return database.backup_database(self.data, self._target(), to)

    def restore_plan(self, source: str | None = None) -> RestorePlan:
        """What `restore_database` would put back (the given backup, else the newest good one) and replace."""
        return database.restore_plan(self.data, self._target(), source)

    def restore_database(self, plan: RestorePlan) -> RestoreResult:
        """Put the planned backup in place; the file it replaces is kept as `<db>.damaged-<time>`.

        Needs the database to itself: open this Core with `connect=False` (an open one holds the shared lock)."""
        return database.restore_database(plan)

    # -- accounts ---------------------------------------------------------------------------------
    def add_account(self, **kwargs: Any) -> Account:
        return accounts.add_account(**kwargs)

    def list_accounts(self) -> list[Account]:
        return accounts.list_accounts()

    def find_account(self, ref: str | None) -> Account:
        return accounts.find_account(ref)

    def deactivate_account(self, ref: str) -> Account:
        return accounts.deactivate_account(ref)

    def change_account_email(self, ref: str, email: str) -> Account:
        """The contact changed at the CA, then stored."""
        return accounts.change_account_email(ref, email)

    def roll_over_account_key(self, ref: str) -> Account:
        """A new account key (RFC 8555 key change), stored once the CA accepted it."""
        return accounts.roll_over_account_key(ref, self.data.root)

    def account_view(self, account: Account) -> dict[str, Any]:
        return accounts.account_view(account)

    def terms_of_service(self, ca: str, ca_bundle: str | None = None) -> tuple[str | None, bool]:
        """(terms-of-service URL, needs EAB) from the CA's directory, to show before agreeing."""
        return accounts.terms_of_service(ca, ca_bundle)

    # -- vocabularies a face offers as choices -----------------------------------------------------
    @staticmethod
    def ca_presets() -> dict[str, CAPreset]:
        return dict(PRESETS)

    @staticmethod
    def key_types() -> dict[str, str]:
        return dict(KEY_TYPES)

    @staticmethod
    def challenge_providers() -> dict[str, list[type[ChallengeProvider]]]:
        """Providers by challenge type; each declares its parameters (`params`) for forms."""
        return {c: providers_for(c) for c in CHALLENGE_TYPES}

    @staticmethod
    def deployment_modes() -> dict[str, str]:
        return dict(certificates.DEPLOYMENT_MODES)

    @staticmethod
    def deployment_task_types() -> list[type[DeploymentTask]]:
        """Deployment task plug-ins; each declares its parameters (`params`) for forms."""
        from certify_tui.deploy.tasks import task_types

        return task_types()

    def discover_sites(self, nginx_config: str | None = None, apache_config: str | None = None) -> list[Any]:
        """Web server sites (nginx server blocks, Apache virtual hosts) from the given or configured files."""
        from certify_tui.deploy.sites import discover_sites

        current = self.settings()
        return discover_sites(nginx_config or current.get("nginx_config") or None,
                              apache_config or current.get("apache_config") or None)

    def check_domain(self, name: str, account: str | None = None) -> str:
        """Normalise one name as typed (IDNA, case); UsageError with the reason if it can never be valid."""
        try:
            acct = accounts.find_account(account)
            allow_internal = acct.allow_internal_names
        except UsageError:
            allow_internal = False
        return check_name(name, allow_internal=allow_internal)

    def check_domains(self, names: list[str], rules: list[ChallengeRule] | None = None,
                      account: str | None = None) -> list[str]:
        """Validate a whole list (duplicates, wildcard rules, the 100 limit) as `add` would."""
        spec = CertificateSpec(name="draft", domains=names, account=account, rules=rules or [])
        return list(certificates.build_certificate(spec).identifiers)

    # -- certificates -----------------------------------------------------------------------------
    def add_certificate(self, spec: CertificateSpec | None = None, **kwargs: Any) -> ManagedCertificate:
        """Add from a spec, or from the spec's fields as keywords."""
        return certificates.add_certificate(self.data, spec or CertificateSpec(**kwargs))

    def update_certificate(self, name: str, spec: CertificateSpec) -> ManagedCertificate:
        return certificates.update_certificate(self.data, name, spec)

    def set_challenge_rule(self, name: str, pattern: str, challenge: str, provider: str | None = None,
                           options: dict[str, Any] | None = None, *, remove: bool = False,
                           credential: str | None = None) -> list[ChallengeRule]:
        """Add or replace the rule for `pattern` (new ones go before the catch-all '*'), or remove it; with
        `credential`, the stored credential of that name fills the provider's options when the rule runs."""
        return certificates.set_rule(self.data, name, pattern, challenge, provider, options, remove=remove,
                                     credential=credential)

    def certificate_spec(self, name: str) -> CertificateSpec:
        return certificates.spec_of(certificates.get_certificate(name))

    def change_certificate(self, name: str, changes: CertificateChanges) -> ManagedCertificate:
        """Change only what `changes` sets (`cert set`, the API's PATCH); validated like the editor's save."""
        return self.update_certificate(name, apply_changes(self.certificate_spec(name), changes))

    # -- stored credentials (the CLI's `credential ...` calls lifecycle.credentials the same way) ------
    def add_credential(self, name: str, provider: str, options: dict[str, Any],
                       challenge: str = "dns-01") -> Credential:
        """Store a provider's parameters under `name` (secrets sealed); checked as `credential add` checks."""
        return credentials.add_credential(name, provider, options, challenge)

    @staticmethod
    def credential_names(challenge: str | None = None, provider: str | None = None) -> list[str]:
        """The stored credentials' names, those for one challenge type and provider if given."""
        return credentials.credential_names(challenge, provider)

    # -- deployment tasks, numbered from 1 ---------------------------------------------------------
    def list_tasks(self, name: str) -> list[TaskConfig]:
        return tasks.list_tasks(name)

    def add_task(self, name: str, task: TaskConfig) -> list[TaskConfig]:
        return tasks.add_task(self.data, name, task)

    def remove_task(self, name: str, number: int) -> TaskConfig:
        return tasks.remove_task(self.data, name, number)

    def move_task(self, name: str, number: int, to: int) -> list[TaskConfig]:
        return tasks.move_task(self.data, name, number, to)

    def run_task(self, name: str, number: int, *, on_event: ProgressCallback | None = None) -> TaskOutcome:
        """Run task `number` now (a manual one too) against the live files; its outcome, ok or not."""
        return tasks.run_task(self.data, name, number, on_event=on_event)

    def preview_spec(self, spec: CertificateSpec, editing: str | None = None) -> Plan:
        """The plan for unsaved settings (the editor's Preview step); nothing is stored.

        `editing` names the stored certificate these settings would change."""
        existing = certificates.get_certificate(editing) if editing else None
        return planning.preview(self.data, certificates.build_certificate(spec, existing=existing))

    def certificate_rows(self) -> list[CertificateRow]:
        return certificates.certificate_rows()

    def settings(self) -> dict[str, Any]:
        return settings.get_settings()

    @staticmethod
    def settings_params() -> tuple[Param, ...]:
        """The declared settings, for forms."""
        return settings.AppSettings.params

    def default_rule(self) -> ChallengeRule:
        """The challenge rule new certificates start with."""
        return settings.get_default_rule()

    def set_default_rule(self, challenge: str, provider: str | None = None,
                         options: dict[str, Any] | None = None) -> ChallengeRule:
        return settings.set_default_rule(challenge, provider, options)

    def send_test_notification(self) -> DeliveryResult:
        """One test message to every configured channel (`settings test-notification`, the TUI's button)."""
        return notify_settings.test_notification()

    def notify_channels(self) -> dict[str, Any]:
        """The notification channels configured, without secrets (`settings notify show`)."""
        return notify_settings.notify_view()

    def set_email_channel(self, host: str, **options: Any) -> dict[str, Any]:
        """Email through an SMTP server (`settings notify email`); see notify_settings.set_email."""
        return notify_settings.set_email(host, **options)

    def set_webhook_channel(self, url: str) -> dict[str, Any]:
        return notify_settings.set_webhook(url)

    def remove_notify_channel(self, kind: str) -> dict[str, Any]:
        """Stop "email", "webhook", "urls" (apprise) or "all"."""
        return notify_settings.remove_channel(kind)

    def update_settings(self, changes: dict[str, Any]) -> dict[str, Any]:
        if "alert_expiry_days" in changes:
            from certify_tui.lifecycle.alerts_policy import parse_days

            parse_days(changes["alert_expiry_days"])  # "14,7,3,1" or off: a clear error now
        if changes.get("notify_urls"):
            from certify_tui import notify

            notify.check_notify_urls(changes["notify_urls"])  # a clear error now, not a silent failure later
        notify_settings.check_channel_changes(changes)
        return settings.update_settings(changes)

    def list_certificates(self, tags: list[str] | None = None) -> list[ManagedCertificate]:
        """Every certificate, or those carrying all of `tags`."""
        return certificates.list_certificates(tags or ())

    def get_certificate(self, name: str) -> ManagedCertificate:
        return certificates.get_certificate(name)

    def certificate_view(self, cert: ManagedCertificate) -> dict[str, Any]:
        return certificates.certificate_view(self.data, cert)

    def remove_certificate(self, name: str, *, delete_files: bool = True) -> ManagedCertificate:
        """Returns the removed certificate (`name` may differ from its exact name in case)."""
        return certificates.remove_certificate(self.data, name, delete_files=delete_files)

    def preview(self, name: str) -> Plan:
        """What a request would do now; pass it to `request` to have exactly that done."""
        return planning.preview(self.data, certificates.get_certificate(name))

    def request(self, name: str, *, on_event: ProgressCallback | None = None,
                cancel: threading.Event | None = None, confirm: Callable[[str], bool] | None = None,
                plan: Plan | None = None, on_plan: Callable[[Plan], None] | None = None) -> RequestResult:
        """Order, store and deploy the certificate now, by its plan. `plan`: the preview a face showed; the
        request refuses (PlanChanged) if the certificate changed since. `on_plan` hears the plan that runs.
        `confirm` lets a face ask a person (the manual DNS provider)."""
        from certify_tui.lifecycle import request  # loads the ACME stack only when needed

        name = certificates.get_certificate(name).name  # the lease is taken by the exact, stored name
        return request.request_certificate(self.data, name, on_event=on_event, cancel=cancel, confirm=confirm,
                                           plan=plan, on_plan=on_plan)

    def test_certificate(self, name: str) -> list[Check]:
        """Check names, ports, reachability, CAA and DNS access before a request; nothing goes to the CA."""
        from certify_tui import cert_test

        return cert_test.run_checks(self.data, certificates.get_certificate(name))

    def renew(self, names: list[str] | None = None, *, force: bool = False, dry_run: bool = False,
              pool_size: int | None = None, cancel: threading.Event | None = None,
              started: datetime | None = None, report_skipped: bool = False,
              on_outcome: Callable[[RenewOutcome], None] | None = None,
              plans: dict[str, Plan] | None = None) -> list[RenewOutcome]:
        """Renew the named certificates, or every due one (forced: every auto-renewed one); each outcome says
        renewed, not due, busy, skipped or failed. `started`: when the command began (a forced run skips what
        was issued since). `report_skipped`: also list what a run without names leaves out, with why.
        `on_outcome`: called with each outcome as it happens (the renewal worker notifies from there).
        `plans`: by name, the preview a face showed; a certificate changed since fails and orders nothing."""
        from certify_tui.lifecycle.renew import renew_certificates

        if names:  # names as typed ('web' for 'Web'): the engine and its leases use the stored ones
            names = [certificates.get_certificate(name).name for name in names]
        return renew_certificates(self.data, names, force=force, dry_run=dry_run,
                                  pool_size=pool_size or self.settings()["pool_size"], cancel=cancel,
                                  started=started, report_skipped=report_skipped, on_outcome=on_outcome,
                                  plans=plans)

    def check_revocations(self, names: list[str] | None = None, *, force: bool = False,
                          budget_seconds: float | None = None) -> RevocationRun:
        """Ask OCSP responders / CRLs whether the CA revoked our certificates (at most once a day each unless
        `force`); a revoked one is marked so, renewed at once and notified. Failed checks are reported."""
        from certify_tui.lifecycle.revocation_check import check_revocations

        return check_revocations(names, force=force, budget_seconds=budget_seconds)

    # -- alerts (issue 13): called by whatever runs renewals -------------------------------------------
    def alert_outcome(self, outcome: RenewOutcome) -> None:
        """Send what one renewal outcome calls for under the alert policy (never one message per retry)."""
        from certify_tui.lifecycle import alerts

        alerts.after_outcome(self.settings(), outcome.name, outcome.action)

    def alert_sweep(self, by: str, outcomes: list[RenewOutcome] | None = None, *, send: bool = True) -> int:
        """After a renewal run: expiry warnings, recoveries, the digest; records the run (`by`: service, tui,
        cron) for `status`. `send`: False records only. How many alerts were sent."""
        from certify_tui.lifecycle import alerts

        deliveries = alerts.sweep(self.settings(), by=by, outcomes=outcomes or [], send=send)
        return sum(1 for d in deliveries if d.tried)

    def alert_channels(self) -> list[str]:
        """The configured notification channels, redacted."""
        from certify_tui import notify

        return notify.channel_names(self.settings())

    def status_summary(self) -> dict[str, Any]:
        """Status at a glance: counts, next renewals, warnings, the last run, the alert channels."""
        from certify_tui.lifecycle import fleet_status

        return fleet_status.summary(self.settings())

    def worker_status(self) -> dict[str, Any] | None:
        """The renewal worker's last heartbeat (this process or a headless service), or None."""
        from certify_tui.renewal.worker import worker_status

        return worker_status()

    def deploy(self, name: str, *, on_event: ProgressCallback | None = None) -> str | None:
        """Deploy the current certificate again (sites and tasks, manual tasks included) without ordering.
        Returns the deployment error, or None."""
        from certify_tui.lifecycle.request import redeploy

        return redeploy(self.data, certificates.get_certificate(name).name, on_event=on_event)

    def revocation_target(self, name: str, reason: str | None = None) -> tuple[str, str]:
        """(exact name, serial) of what `revoke` would revoke; the same errors it would raise, nothing sent."""
        from certify_tui.lifecycle.revoke import revocation_target

        return revocation_target(name, reason)

    def revoke(self, name: str, *, reason: str | None = None, renew: bool = False,
               on_event: ProgressCallback | None = None) -> RevokeResult:
        """Revoke the current version at the CA (reason: lifecycle.revoke.REVOKE_REASONS); the certificate
        becomes "revoked". `renew`: order and deploy a replacement first, then revoke the old version."""
        from certify_tui.lifecycle.revoke import revoke_certificate

        return revoke_certificate(self.data, certificates.get_certificate(name).name, reason=reason, renew=renew,
                                  on_event=on_event)

    def certificate_log_path(self, name: str) -> Path:
        """Where the certificate's log is written (it may not exist yet), for a face that follows it."""
        return self.data.certificate_log(certificates.get_certificate(name).name)

    def certificate_log(self, name: str) -> str:
        cert = certificates.get_certificate(name)
        path = self.data.certificate_log(cert.name)
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return ""
        except OSError as exc:  # e.g. a name stored before the length limit, too long for a file name
            raise StorageError(f"Could not read the log of {cert.name}: {os_error_reason(exc)}.",
                               detail=str(exc)) from exc


def _open_db(data: DataDir, target: DatabaseURL, *, explicit: bool, read_only: bool) -> peewee.Database:
    # The plug-ins say which of their options the store seals, the upgrade to schema 5 included.
    import certify_tui.challenges
    import certify_tui.deploy.tasks  # noqa: F401

    if read_only and not explicit:
        return open_read_only(data.database_path)
    try:
        return open_database(target.url, data_root=data.root)
    except StorageError as exc:
        # SQLite says only "disk I/O error" when it cannot even create its shared-memory file.
        full = storage_error(exc, f"the database {data.database_path}", data.root) if not explicit else None
        if full is None:
            raise
        raise full from exc


def _log_to_file(data: DataDir) -> None:
    """Send the app log to this data folder's file (one handler per process, moved if the folder changes).

    The file is created 0600 at the first record, and a record that cannot be written (a full disk, a
    read-only folder) is dropped without a traceback: see logfiles.PrivateFileHandler."""
    global _app_handler
    if _app_handler is not None and _app_handler.baseFilename == str(data.app_log):
        return
    logger = logging.getLogger("certify_tui")
    if _app_handler is not None:
        logger.removeHandler(_app_handler)
        _app_handler.close()
    _app_handler = PrivateFileHandler(data.app_log)
    _app_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(_app_handler)
    logger.setLevel(logging.INFO)
