"""Stored credentials as typed values (model.Credential): the one place their rows are read and written."""

from __future__ import annotations

import peewee

from certify_tui import secrets_box
from certify_tui.errors import NotFoundError, UsageError
from certify_tui.model import Credential
from certify_tui.store.lookup_memo import remembered
from certify_tui.store.models import Credential as CredentialRow


def _typed(row: CredentialRow) -> Credential:
    secrets = row.secret_values
    if isinstance(secrets, str):  # still sealed: the key is missing or another one; say so now it is needed
        secrets_box.reveal(secrets)
    return Credential(name=row.name, provider=row.provider, challenge=row.challenge, values=dict(row.values or {}),
                      secrets=dict(secrets or {}))


def _row(name: str) -> CredentialRow | None:
    return CredentialRow.get_or_none(peewee.fn.lower(CredentialRow.name) == name.lower())


def get_credential(name: str) -> Credential:
    return remembered(("credential", name), lambda: _get_credential(name))  # once per name in a bulk import


def _get_credential(name: str) -> Credential:
    row = _row(name)
    if row is None:
        raise NotFoundError(f"No stored credential named '{name}' (`certify-tui credential list` shows them).",
                            field="credential")
    return _typed(row)


def credential_names(challenge: str | None = None, provider: str | None = None) -> list[str]:
    query = CredentialRow.select(CredentialRow.name).order_by(CredentialRow.name)
    if challenge is not None:
        query = query.where(CredentialRow.challenge == challenge)
    if provider is not None:
        query = query.where(CredentialRow.provider == provider)
    return [row.name for row in query]


def list_credentials() -> list[tuple[Credential, bool]]:
    """Every credential with its secrets' keys only (values replaced by None), and whether they can be read."""
    found = []
    for row in CredentialRow.select().order_by(CredentialRow.name):
        secrets = row.secret_values
        readable = not isinstance(secrets, str)
        keys = dict.fromkeys(secrets or {}) if readable else {}
        found.append((Credential(row.name, row.provider, row.challenge, dict(row.values or {}), keys), readable))
    return found


def save_credential(credential: Credential, *, new: bool) -> None:
    row = _row(credential.name)
    if new and row is not None:
        raise UsageError(f"A credential named '{row.name}' exists already; change it with `credential set`.",
                         field="credential")
    if row is None:
        if not new:
            get_credential(credential.name)  # raises NotFoundError
        row = CredentialRow(name=credential.name)
    row.provider, row.challenge = credential.provider, credential.challenge
    row.values, row.secret_values = dict(credential.values), dict(credential.secrets)
    try:
        row.save()
    except peewee.IntegrityError as exc:  # another process added the same name just now
        raise UsageError(f"A credential named '{credential.name}' exists already.", field="credential") from exc


def get_credential_row_name(name: str) -> str:
    """The stored spelling of a credential's name (NotFoundError if there is none), without opening it."""
    row = _row(name)
    if row is None:
        get_credential(name)
    return str(row.name) if row is not None else name


def delete_credential(name: str) -> None:
    row = _row(name)
    if row is None:
        get_credential(name)
    else:
        row.delete_instance()
