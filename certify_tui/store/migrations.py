"""Forward-only schema migrations. Append a function; never edit one that has shipped."""

from __future__ import annotations

from collections.abc import Callable

import peewee

from certify_tui.store import models


def _v1_initial(db: peewee.Database) -> None:
    db.create_tables(
        [models.Account, models.ManagedCertificate, models.CertificateVersion], safe=True
    )


MIGRATIONS: list[Callable[[peewee.Database], None]] = [_v1_initial]
LATEST = len(MIGRATIONS)
