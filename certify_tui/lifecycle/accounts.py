"""ACME accounts: register (with terms of service and EAB), list, find, deactivate."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509

from certify_tui.ca.presets import resolve_ca
from certify_tui.errors import NotFoundError, StorageError, UsageError
from certify_tui.events import app_log
from certify_tui.keys import check_key_type, generate_key, key_to_pem, load_key
from certify_tui.paths import write_private_file
from certify_tui.secrets_box import reveal  # the key sealed at rest; the error names a missing secret key
from certify_tui.store.lookup_memo import remembered
from certify_tui.store.models import Account

if TYPE_CHECKING:
    from certify_tui.ca.client import AcmeSession

_EMAIL = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")


def check_email(email: str) -> str:
    email = email.strip()
    if not _EMAIL.match(email):
        raise UsageError(f"'{email}' is not a valid email address.")
    return email


def check_ca_bundle(path: str | None) -> str | None:
    """An absolute path to a readable PEM bundle with at least one certificate."""
    if not path:
        return None
    bundle = Path(path).expanduser().absolute()
    try:
        certs = x509.load_pem_x509_certificates(bundle.read_bytes())
    except OSError as exc:
        raise UsageError(f"Cannot read the CA bundle '{bundle}': {exc.strerror or exc}.") from exc
    except ValueError as exc:
        raise UsageError(f"'{bundle}' holds no PEM certificate.") from exc
    if not certs:
        raise UsageError(f"'{bundle}' holds no PEM certificate.")
    return str(bundle)


def _session(*args: Any, **kwargs: Any) -> AcmeSession:
    # Imported on use: `acme` and `requests` cost ~0.25 s of start-up that listing certificates never needs.
    from certify_tui.ca.client import AcmeSession

    return AcmeSession(*args, **kwargs)


def session_for(account: Account, *, timeout: int = 30) -> AcmeSession:
    """An ACME session signed with this account's key (one per thread)."""
    return _session(account.directory_url, load_key(reveal(account.account_key_pem).encode()),
                       ca_bundle=account.ca_bundle, account_uri=account.uri, timeout=timeout)


def terms_of_service(ca: str, ca_bundle: str | None = None) -> tuple[str | None, bool]:
    """The CA's terms-of-service URL and whether it needs EAB, for a face to show before agreeing."""
    _, url = resolve_ca(ca)
    session = _session(url, generate_key("ec256"), ca_bundle=check_ca_bundle(ca_bundle))
    return session.terms_of_service, session.requires_eab


def add_account(*, email: str, ca: str, agree_tos: bool, ca_bundle: str | None = None,
                eab_kid: str | None = None, eab_hmac_key: str | None = None, key_type: str = "ec256",
                allow_internal_names: bool = False) -> Account:
    email = check_email(email)
    ca_name, directory_url = resolve_ca(ca)
    key_type = check_key_type(key_type)
    bundle = check_ca_bundle(ca_bundle)
    if Account.select().where((Account.email == email) & (Account.directory_url == directory_url)).exists():
        raise UsageError(f"An account for {email} at {directory_url} already exists.")
    key = generate_key(key_type)
    session = _session(directory_url, key, ca_bundle=bundle)
    tos = session.terms_of_service
    if tos and not agree_tos:
        raise UsageError(f"The CA's terms of service must be agreed to register: read {tos}, then pass --agree-tos.")
    regr = session.register(email, agree_tos=bool(agree_tos), eab_kid=eab_kid, eab_hmac_key=eab_hmac_key)
    account = Account.create(
        email=email, ca_name=ca_name, directory_url=directory_url, ca_bundle=bundle,
        allow_internal_names=allow_internal_names, key_type=key_type,
        account_key_pem=key_to_pem(key).decode(), uri=regr.uri, eab_kid=eab_kid,
        status=str(regr.body.status or "valid"), tos_agreed=bool(agree_tos), tos_url=tos,
    )
    app_log.info("registered account %s at %s (%s)", email, directory_url, regr.uri)
    return account


def list_accounts() -> list[Account]:
    return list(Account.select().order_by(Account.id))


def find_account(ref: str | None) -> Account:
    """By id, or by email (unique), or the only account when ref is None."""
    return remembered(("account", ref), lambda: _find_account(ref))  # once per ref in a bulk import


def _find_account(ref: str | None) -> Account:
    query = Account.select().where(Account.status == "valid")
    if ref is None:
        found = list(query.limit(2))
        if len(found) == 1:
            return found[0]
        if not found:
            raise UsageError("No ACME account yet: add one with `certify-tui account add`.")
        raise UsageError("There are several accounts: choose one with --account EMAIL.")
    if ref.isdigit():
        account: Account | None = query.where(Account.id == int(ref)).first()
        if account is not None:
            return account
    matches = list(query.where(Account.email == ref.strip()))
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        ids = ", ".join(f"{a.id} ({a.ca_name or a.directory_url})" for a in matches)
        raise UsageError(f"{ref} has accounts at several CAs; choose by id: {ids}.")
    raise NotFoundError(f"No active account '{ref}'.")


def deactivate_account(ref: str) -> Account:
    account = find_account(ref)
    session_for(account).deactivate()
    account.status = "deactivated"
    account.save()
    return account


def change_account_email(ref: str, email: str) -> Account:
    """Change the contact at the CA, then here (stored only once the CA accepted it)."""
    account = find_account(ref)
    email = check_email(email)
    clash = Account.select().where((Account.email == email) & (Account.directory_url == account.directory_url)
                                   & (Account.id != account.id))
    if clash.exists():
        raise UsageError(f"An account for {email} at {account.directory_url} already exists.", field="email")
    session_for(account).update_contact(email)
    account.email = email
    account.save()
    app_log.info("account %s: contact changed at %s", account.id, account.directory_url)
    return account


def roll_over_account_key(ref: str, data_root: Path) -> Account:
    """Replace the account key (RFC 8555 key change, same key type); the new key is stored only after the CA
    accepted it, and the old one no longer signs for the account."""
    account = find_account(ref)
    new_key = generate_key(account.key_type)
    new_pem = key_to_pem(new_key).decode()
    session_for(account).change_key(new_key)
    try:
        account.account_key_pem = new_pem
        account.save()
    except Exception as exc:
        # The CA now knows only the new key: losing it would lose the account. Keep it where a person finds it.
        kept = data_root / f"account-{account.id}-new-key.pem"
        write_private_file(kept, new_pem.encode())
        raise StorageError(f"The CA accepted the new account key but it could not be stored; it is kept in {kept} "
                           f"(0600): put it back before using this account.", detail=str(exc)) from exc
    app_log.info("account %s: key rolled over at %s", account.id, account.directory_url)
    return account


def account_view(account: Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "email": account.email,
        "ca": account.ca_name or account.directory_url,
        "directory_url": account.directory_url,
        "ca_bundle": account.ca_bundle,
        "allow_internal_names": account.allow_internal_names,
        "key_type": account.key_type,
        "uri": account.uri,
        "eab_kid": account.eab_kid,
        "status": account.status,
        "tos_agreed": account.tos_agreed,
        "tos_url": account.tos_url,
        "created_at": account.created_at.isoformat() if account.created_at else None,
    }
