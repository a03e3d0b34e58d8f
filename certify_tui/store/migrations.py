"""Forward-only schema migrations. Append a function; never edit one that has shipped."""

from __future__ import annotations

from collections.abc import Callable

import peewee
from playhouse.migrate import SchemaMigrator, migrate

from certify_tui.store import models


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


MIGRATIONS: list[Callable[[peewee.Database], None]] = [_v1_initial, _v2_settings, _v3_renewal]
LATEST = len(MIGRATIONS)
