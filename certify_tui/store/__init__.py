"""Persistence through Peewee: SQLite by default, PostgreSQL for fleets of servers."""

from certify_tui.store.db import close_database, database_url_for, open_database
from certify_tui.store.models import Account, CertificateVersion, ManagedCertificate

__all__ = [
    "Account",
    "CertificateVersion",
    "ManagedCertificate",
    "close_database",
    "database_url_for",
    "open_database",
]
