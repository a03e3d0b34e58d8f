"""Forward-only schema migrations. Append a function; never edit one that has shipped."""

from __future__ import annotations

from collections.abc import Callable

import peewee

from certify_tui.store import models


def _v1_initial(db: peewee.Database) -> None:
    db.create_tables(
        [models.Account, models.ManagedCertificate, models.CertificateVersion], safe=True
    )


def _v2_settings(db: peewee.Database) -> None:
    db.create_tables([models.Setting], safe=True)


MIGRATIONS: list[Callable[[peewee.Database], None]] = [_v1_initial, _v2_settings]
LATEST = len(MIGRATIONS)
