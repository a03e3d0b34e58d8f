"""Forward-only schema migrations. Append a function; never edit one that has shipped."""

from __future__ import annotations

import json
from collections.abc import Callable

import peewee
from playhouse.migrate import SchemaMigrator, migrate

from certify_tui import secrets_box
from certify_tui.store import models, sealed


def _v1_initial(db: peewee.Database) -> None:
    db.create_tables(
        [models.Account, models.ManagedCertificate, models.CertificateVersion], safe=True
    )


def _v2_settings(db: peewee.Database) -> None:
    db.create_tables([models.Setting], safe=True)


def _v3_renewal(db: peewee.Database) -> None:
    """ARI window, resumable order and deployment error columns on managed certificates."""
    m = models.ManagedCertificate
    migrator = SchemaMigrator.from_database(db)
    existing = {c.name for c in db.get_columns(m._meta.table_name)}
    columns = ("ari_window_start", "ari_window_end", "ari_renew_at", "ari_recheck_at", "ari_explanation",
               "renew_reason", "pending_order_url", "deploy_error")
    migrate(*[migrator.add_column(m._meta.table_name, name, m._meta.fields[name])
              for name in columns if name not in existing])


NAME_NOCASE_INDEX = "managed_certificate_name_nocase"


def _v4_name_nocase(db: peewee.Database) -> None:
    """Certificate names unique without regard to case ('web' and 'Web' are one folder on Windows and macOS),
    in the database itself, so two processes adding at once cannot both win.

    A database may already hold names that differ only in case. They are kept (renaming would break
    the scripts and folders that use them): the oldest of each group stays in the index, the later ones
    are left out of it by id, so they stay usable by their exact names while no new spelling can be
    added next to them. Names are ASCII (check_certificate_name), so lower() folds them everywhere."""
    table = models.ManagedCertificate._meta.table_name
    later_duplicates = [row[0] for row in db.execute_sql(
        f'SELECT a.id FROM "{table}" a WHERE EXISTS (SELECT 1 FROM "{table}" b '
        f'WHERE lower(b.name) = lower(a.name) AND b.id < a.id) ORDER BY a.id').fetchall()]
    where = f" WHERE id NOT IN ({', '.join(str(int(i)) for i in later_duplicates)})" if later_duplicates else ""
    db.execute_sql(f'CREATE UNIQUE INDEX IF NOT EXISTS "{NAME_NOCASE_INDEX}" ON "{table}" (lower(name)){where}')


CREDENTIAL_NAME_NOCASE_INDEX = "credential_name_nocase"


def _v5_credentials_and_sealed_secrets(db: peewee.Database) -> None:
    """Stored credentials, and every secret already stored sealed with the secret key (secrets_box): account
    keys, the secret options of rules and tasks, the secret settings. Rows are read and written as raw text, so this works
    whatever the models become later; a value already sealed is left as it is."""
    if isinstance(db, peewee.SqliteDatabase):
        db.execute_sql("PRAGMA secure_delete = ON")  # the plain text replaced below is zeroed, not left free
    db.create_tables([models.Credential], safe=True)
    table = models.Credential._meta.table_name
    db.execute_sql(f'CREATE UNIQUE INDEX IF NOT EXISTS "{CREDENTIAL_NAME_NOCASE_INDEX}" ON "{table}" (lower(name))')
    _seal_account_keys(db)
    _seal_certificate_options(db)
    _seal_settings(db)


def _seal_account_keys(db: peewee.Database) -> None:
    accounts = models.Account._meta.table_name
    for row_id, pem in db.execute_sql(f'SELECT id, account_key_pem FROM "{accounts}"').fetchall():
        if pem and not secrets_box.is_sealed(pem):
            db.execute_sql(f'UPDATE "{accounts}" SET account_key_pem = {_param(db)} WHERE id = {_param(db)}',
                           (secrets_box.seal(pem), row_id))


def _seal_certificate_options(db: peewee.Database) -> None:
    certificates = models.ManagedCertificate._meta.table_name
    rows = db.execute_sql(f'SELECT id, challenge_rules, deployment FROM "{certificates}"').fetchall()
    for row_id, rules_text, deployment_text in rows:
        rules = json.loads(rules_text) if rules_text else None
        deployment = json.loads(deployment_text) if deployment_text else None
        sealed_rules = sealed.seal_rules_json(rules) if isinstance(rules, list) else rules
        sealed_deployment = sealed.seal_deployment_json(deployment) if isinstance(deployment, dict) else deployment
        if (sealed_rules, sealed_deployment) != (rules, deployment):
            db.execute_sql(f'UPDATE "{certificates}" SET challenge_rules = {_param(db)}, deployment = {_param(db)} '
                           f'WHERE id = {_param(db)}',
                           (json.dumps(sealed_rules, sort_keys=True), json.dumps(sealed_deployment, sort_keys=True),
                            row_id))


def _seal_settings(db: peewee.Database) -> None:
    """The settings holding secrets (as this version names them): the notification URLs, the default rule."""
    settings = models.Setting._meta.table_name
    for key, text in db.execute_sql(f'SELECT "key", value FROM "{settings}" WHERE "key" IN '
                                    f"('notify_urls', 'defaults.challenge_rule')").fetchall():
        value = json.loads(text) if text else None
        if key == "notify_urls" and isinstance(value, str) and value and not secrets_box.is_sealed(value):
            value = secrets_box.seal(value)
        elif key == "defaults.challenge_rule" and isinstance(value, dict):
            value = sealed.seal_rules_json([value])[0]
        db.execute_sql(f'UPDATE "{settings}" SET value = {_param(db)} WHERE "key" = {_param(db)}',
                       (json.dumps(value, sort_keys=True), key))


def _v6_tags_and_revocation(db: peewee.Database) -> None:
    """Tags on certificates (CSV import, filtering) and what is known of a certificate's revocation."""
    _add_columns(db, models.ManagedCertificate, ("tags", "revoked_at", "revocation_reason",
                                                 "revocation_checked_at"))


def _v7_alerts_and_failover(db: peewee.Database) -> None:
    """Alert state, CA failover and rate limits on certificates; which account issued each version."""
    _add_columns(db, models.ManagedCertificate, ("fallback_accounts", "ca_failure_count", "rate_limited_until",
                                                 "alert_state"))
    _add_columns(db, models.CertificateVersion, ("account_id",))


def _add_columns(db: peewee.Database, model: type[models.BaseModel], columns: tuple[str, ...]) -> None:
    """Add the model's columns that the table lacks, existing rows given the field's default.

    Not peewee's add_column: for a NOT NULL column on SQLite it rebuilds the table (copy, drop, rename), and
    dropping managed_certificate cascades to every certificate_version row. On SQLite the column stays
    nullable (the models always write a value); elsewhere NOT NULL is a plain ALTER."""
    migrator = SchemaMigrator.from_database(db)
    table = model._meta.table_name
    existing = {c.name for c in db.get_columns(table)}
    operations = []
    for name in columns:
        if name in existing:
            continue
        field = model._meta.fields[name]
        operations.append(migrator.alter_add_column(table, name, field))
        if not field.null:
            operations.append(migrator.apply_default(table, name, field))
            if not isinstance(db, peewee.SqliteDatabase):
                operations.append(migrator.add_not_null(table, name))
    migrate(*operations)


def _param(db: peewee.Database) -> str:
    return str(db.param)


MIGRATIONS: list[Callable[[peewee.Database], None]] = [_v1_initial, _v2_settings, _v3_renewal, _v4_name_nocase,
                                                       _v5_credentials_and_sealed_secrets,
                                                       _v6_tags_and_revocation, _v7_alerts_and_failover]
LATEST = len(MIGRATIONS)
