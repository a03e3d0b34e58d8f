"""Reading `--database` URLs strictly: what is not clearly supported is refused in one line.

Supported:
- `sqlite:///<absolute path>`: on POSIX that is four slashes (`sqlite:////var/lib/certify-tui/x.db`),
  on Windows `sqlite:///C:/data/x.db`. A relative path would depend on the folder the command happens
  to run in (a service and a shell would use different files), so it is refused with the absolute spelling.
- `postgresql://user:password@host[:port]/dbname` (or `postgres://`), through peewee's db_url.

Nothing is created while parsing; every refusal names the URL (password hidden) and what to write instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from certify_tui.errors import UsageError

POSTGRES_SCHEMES = ("postgresql", "postgres")
EXAMPLE_SQLITE = "sqlite:////var/lib/certify-tui/certify.db" if os.name != "nt" else "sqlite:///C:/data/certify.db"
EXAMPLE_POSTGRES = "postgresql://user:password@host/dbname"


@dataclass(frozen=True)
class DatabaseURL:
    url: str  # as given, for peewee
    kind: str  # "sqlite" or "postgresql"
    path: Path | None = None  # the SQLite file, absolute

    @property
    def redacted(self) -> str:
        return redact(self.url)

    @property
    def is_sqlite(self) -> bool:
        return self.kind == "sqlite"


def sqlite_url(path: Path) -> str:
    """The URL of an SQLite file (made absolute)."""
    return f"sqlite:///{Path(os.path.abspath(path)).as_posix()}"


def parse_database_url(url: str) -> DatabaseURL:
    """A DatabaseURL, or UsageError saying in one line what is wrong and what to write."""
    shown = redact(url)
    if "://" not in url:
        raise UsageError(f"Database URL '{shown}' has no scheme: use {EXAMPLE_SQLITE} or {EXAMPLE_POSTGRES}.")
    scheme = url.split("://", 1)[0].lower()
    if scheme == "sqlite":
        return DatabaseURL(url, "sqlite", _sqlite_path(url, shown))
    if scheme in POSTGRES_SCHEMES:
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        except ValueError as exc:
            raise UsageError(f"Database URL '{shown}' is not valid: {exc}; use {EXAMPLE_POSTGRES}.") from exc
        if not parts.hostname and not parts.path.strip("/"):
            raise UsageError(f"Database URL '{shown}' names no server and no database: use {EXAMPLE_POSTGRES}.")
        if not parts.path.strip("/"):
            raise UsageError(f"Database URL '{shown}' names no database: use {EXAMPLE_POSTGRES}.")
        return DatabaseURL(url, "postgresql")
    if scheme.startswith(("mysql", "mariadb")):
        raise UsageError(f"Database URL '{shown}': MySQL/MariaDB is not supported; use SQLite ({EXAMPLE_SQLITE}) "
                         f"or PostgreSQL ({EXAMPLE_POSTGRES}).")
    raise UsageError(f"Database URL '{shown}': the scheme '{scheme}' is not supported; use {EXAMPLE_SQLITE} "
                     f"or {EXAMPLE_POSTGRES}.")


def _sqlite_path(url: str, shown: str) -> Path:
    rest = url[len("sqlite://"):]
    if not rest.startswith("/"):
        # sqlite://x.db or sqlite:// : a host part SQLite has no use for (and peewee would make it a file name)
        raise UsageError(f"Database URL '{shown}' names no file: write the absolute path after 'sqlite:///', "
                         f"e.g. {EXAMPLE_SQLITE}.")
    raw = rest[1:]  # what follows 'sqlite:///'
    if "?" in raw or "#" in raw:
        raise UsageError(f"Database URL '{shown}': options after '?' are not supported; "
                         f"write only the file, e.g. {EXAMPLE_SQLITE}.")
    if raw in ("", "/") or raw.endswith(("/", "\\")):
        raise UsageError(f"Database URL '{shown}' names no file: write the absolute path after 'sqlite:///', "
                         f"e.g. {EXAMPLE_SQLITE}.")
    if raw == ":memory:" or raw.startswith("file:"):
        raise UsageError(f"Database URL '{shown}': an in-memory or URI database would lose everything at exit; "
                         f"use a file, e.g. {EXAMPLE_SQLITE}.")
    path = Path(raw)
    if not path.is_absolute():
        hint = f"sqlite:////{raw}" if os.name != "nt" else EXAMPLE_SQLITE
        raise UsageError(f"Database URL '{shown}' names a relative path ({raw}), which would depend on the "
                         f"current folder; write an absolute one, e.g. {hint}.")
    if ".." in path.parts:
        raise UsageError(f"Database URL '{shown}' contains '..': write the plain absolute path of the file.")
    return Path(os.path.normpath(path))


def redact(url: str) -> str:
    """Hide a password in a URL before it reaches a message or a log."""
    if "://" in url and "@" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url
