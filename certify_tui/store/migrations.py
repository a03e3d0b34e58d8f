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


MIGRATIONS: list[Callable[[peewee.Database], None]] = [_v1_initial, _v2_settings, _v3_renewal, _v4_name_nocase]
LATEST = len(MIGRATIONS)
