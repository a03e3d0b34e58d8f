"""The tables. Field names are the vocabulary every other module uses."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import peewee

from certify_tui.store.fields import (
    JSONField,
    UTCDateTimeField,
    challenge_rules_field,
    deployment_field,
    renewal_field,
)
from certify_tui.store.sealed import SealedJSONField, SealedTextField

database_proxy = peewee.DatabaseProxy()


def _now() -> datetime:
    return datetime.now(UTC)


class BaseModel(peewee.Model):
    class Meta:
        database = database_proxy
        legacy_table_names = False
        only_save_dirty = True  # an UPDATE names only what changed: less SQL, fewer lost concurrent edits

    _dirty: set[str]  # peewee's names of the fields changed since the last save (its stubs omit it)

    def mark_clean(self) -> None:
        """Forget unsaved changes: the next save writes only what is changed after this."""
        self._dirty.clear()


class SchemaVersion(BaseModel):
    id = peewee.AutoField()  # what peewee adds unless told, declared so that type checkers see it
    version = peewee.IntegerField()
    applied_at = UTCDateTimeField(default=_now)


class Account(BaseModel):
    id = peewee.AutoField()
    email = peewee.CharField(index=True)
    ca_name = peewee.CharField(default="")  # preset name, '' for a custom directory URL
    directory_url = peewee.CharField()
    ca_bundle = peewee.CharField(null=True)  # PEM trust bundle for private and test CAs
    allow_internal_names = peewee.BooleanField(default=False)
    key_type = peewee.CharField(default="ec256")
    # The account key lives in the database so that servers sharing a PostgreSQL database share the account,
    # sealed with the secret key kept apart from it (secrets_box); the SQLite file is 0600 in a 0700 folder too.
    account_key_pem = SealedTextField()
    uri = peewee.CharField(null=True)  # the account URL (the JWS kid)
    eab_kid = peewee.CharField(null=True)  # the HMAC key is used once at registration and never stored
    status = peewee.CharField(default="valid")
    tos_agreed = peewee.BooleanField(default=False)
    tos_url = peewee.CharField(null=True)
    created_at = UTCDateTimeField(default=_now)

    class Meta:
        indexes = ((("email", "directory_url"), True),)


class ManagedCertificate(BaseModel):
    id = peewee.AutoField()
    name = peewee.CharField(unique=True)
    account = peewee.ForeignKeyField(Account, backref="certificates", on_delete="RESTRICT")
    primary_identifier = peewee.CharField()
    identifiers = JSONField(default=list)  # normalised names, primary first
    challenge_rules = challenge_rules_field()  # tuple[ChallengeRule, ...], first match wins
    key_type = peewee.CharField(default="ec256")
    reuse_key = peewee.BooleanField(default=False)
    preferred_chain = peewee.CharField(null=True)  # issuer common name of the preferred root/intermediate
    profile = peewee.CharField(null=True)  # ACME profile the CA lists
    deployment = deployment_field()  # DeploymentSettings: mode, site, tasks
    renewal = renewal_field()  # RenewalPolicy: percent, days before expiry or days after issuance
    auto_renew = peewee.BooleanField(default=True)
    status = peewee.CharField(default="new", index=True)  # new, valid, failed, expired, revoked
    deploy_status = peewee.CharField(null=True)
    date_issued = UTCDateTimeField(null=True)
    not_before = UTCDateTimeField(null=True)
    not_after = UTCDateTimeField(null=True)
    last_attempt = UTCDateTimeField(null=True)
    next_attempt = UTCDateTimeField(null=True, index=True)  # the renewal worker's indexed due query
    failure_count = peewee.IntegerField(default=0)
    last_error = peewee.TextField(null=True)
    lease_owner = peewee.CharField(null=True)
    lease_expires = UTCDateTimeField(null=True)
    created_at = UTCDateTimeField(default=_now)
    updated_at = UTCDateTimeField(default=_now)
    # Added in schema 3: ARI, resumable orders, deployment outcome.
    ari_window_start = UTCDateTimeField(null=True)
    ari_window_end = UTCDateTimeField(null=True)
    ari_renew_at = UTCDateTimeField(null=True)  # our random pick inside the window
    ari_recheck_at = UTCDateTimeField(null=True)
    ari_explanation = peewee.CharField(null=True)
    renew_reason = peewee.CharField(null=True)  # why next_attempt is what it is, for people
    pending_order_url = peewee.CharField(null=True)  # an order in flight, resumed after a crash
    deploy_error = peewee.TextField(null=True)
    # Added in schema 6: tags, and revocation (by us, or noticed through OCSP/CRL).
    tags = JSONField(default=list)  # free labels, sorted, for filtering and bulk operations
    revoked_at = UTCDateTimeField(null=True)
    revocation_reason = peewee.CharField(null=True)  # RFC 5280 reason name, e.g. keyCompromise
    revocation_checked_at = UTCDateTimeField(null=True)  # the last OCSP/CRL check, at most one a day
    # Added in schema 7: CA failover, rate limits, alerts.
    fallback_accounts = JSONField(default=list)  # account ids to fail over to, in order, after CA-side failures
    ca_failure_count = peewee.IntegerField(default=0)  # consecutive CA-side failures (not validation ones)
    rate_limited_until = UTCDateTimeField(null=True)  # the CA's Retry-After for a rateLimited problem
    alert_state = JSONField(default=dict)  # which alerts were sent for the current episode: never one per retry

    def save(self, force_insert: bool = False, only: Iterable[Any] | None = None) -> int:
        self.updated_at = _now()
        return super().save(force_insert=force_insert, only=only)


class CertificateVersion(BaseModel):
    id = peewee.AutoField()
    certificate = peewee.ForeignKeyField(ManagedCertificate, backref="versions", on_delete="CASCADE")
    version = peewee.IntegerField()
    serial = peewee.CharField(index=True)
    not_before = UTCDateTimeField()
    not_after = UTCDateTimeField()
    fingerprint_sha256 = peewee.CharField()
    issuer = peewee.CharField(default="")
    archive_dir = peewee.CharField()
    files = JSONField(default=dict)
    created_at = UTCDateTimeField(default=_now)
    account_id = peewee.IntegerField(null=True)  # schema 7: the account (so the CA) that issued it; None: unknown

    class Meta:
        indexes = ((("certificate", "version"), True),)


class Setting(BaseModel):
    """Application settings shared by every process using the database (renewal defaults, worker)."""

    key = peewee.CharField(primary_key=True)
    value = JSONField(null=True)
    updated_at = UTCDateTimeField(default=_now)


class Credential(BaseModel):
    """A provider's parameters stored once under a name that rules refer to (schema 5): rotating it changes
    every certificate using it. Names are unique without regard to case (see migrations)."""

    id = peewee.AutoField()
    name = peewee.CharField(unique=True)
    challenge = peewee.CharField(default="dns-01")
    provider = peewee.CharField()
    values = JSONField(default=dict)  # the parameters that are not secret
    secret_values = SealedJSONField(default=dict)  # the secret ones, sealed whole
    created_at = UTCDateTimeField(default=_now)
    updated_at = UTCDateTimeField(default=_now)

    def save(self, force_insert: bool = False, only: Iterable[Any] | None = None) -> int:
        self.updated_at = _now()
        return super().save(force_insert=force_insert, only=only)


ALL_MODELS: list[type[BaseModel]] = [SchemaVersion, Account, ManagedCertificate, CertificateVersion, Setting,
                                     Credential]
