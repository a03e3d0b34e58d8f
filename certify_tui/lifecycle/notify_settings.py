"""The notification channels as the faces set them: email over SMTP (its login a stored credential), a webhook,
and the apprise URLs; what is configured, shown without secrets; and the test notification."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from certify_tui.errors import NotFoundError, UsageError
from certify_tui.lifecycle import credentials
from certify_tui.lifecycle.accounts import check_email
from certify_tui.lifecycle.settings import get_settings, update_settings
from certify_tui.notify_channels import (
    NOTIFY_KIND,
    SMTP_SECURITY,
    SmtpLogin,
    check_webhook_url,
    describe_webhook,
    email_settings,
    split_addresses,
)
from certify_tui.store.credentials import get_credential

if TYPE_CHECKING:
    from certify_tui.notify import DeliveryResult

DEFAULT_SMTP_CREDENTIAL = "notify-smtp"
CHANNEL_KINDS = ("email", "webhook", "urls", "all")
_EMAIL_KEYS = ("notify_smtp_host", "notify_smtp_port", "notify_smtp_security", "notify_smtp_credential",
               "notify_email_from", "notify_email_to")


def check_channel_changes(changes: dict[str, Any]) -> None:
    """A clear error now for a channel setting that would only fail when a notification is sent."""
    if changes.get("notify_webhook_url"):
        check_webhook_url(str(changes["notify_webhook_url"]))
    for key in ("notify_email_from", "notify_email_to"):
        for address in split_addresses(changes.get(key)):
            _address(address, key)
    name = str(changes.get("notify_smtp_credential") or "").strip()
    if name:
        _smtp_credential(name)
    host = changes.get("notify_smtp_host")
    if host and (any(c.isspace() for c in str(host).strip()) or "/" in str(host)):
        raise UsageError(f"'{host}' is not an SMTP server name: give a host name or address, such as "
                         f"smtp.example.com.", field="notify_smtp_host")


def _address(address: str, field: str) -> str:
    try:
        return check_email(address)
    except UsageError as exc:
        raise UsageError(str(exc), field=field) from None


def _smtp_credential(name: str) -> str:
    try:
        credential = get_credential(name)
    except NotFoundError as exc:
        raise NotFoundError(str(exc), field="notify_smtp_credential") from None
    if (credential.challenge, credential.provider) != (NOTIFY_KIND, SmtpLogin.id):
        raise UsageError(f"The credential '{credential.name}' is for {credential.challenge} {credential.provider},"
                         f" not an SMTP login: give --user and --password instead.", field="notify_smtp_credential")
    return credential.name


def set_email(host: str, *, port: int | None = None, security: str = "starttls", user: str | None = None,
              password: str | None = None, credential: str | None = None, sender: str | None = None,
              to: list[str] | None = None) -> dict[str, Any]:
    """Email through `host`. A user and password are stored as the credential `credential` (default
    notify-smtp), created or changed; `credential` alone names an SMTP login stored before."""
    if security not in SMTP_SECURITY:
        raise UsageError(f"The security must be one of {', '.join(SMTP_SECURITY)}.", field="notify_smtp_security")
    if password and not user and not credential:
        raise UsageError("A password needs its user: add --user NAME.", field="user")
    login = ""
    if user:
        login = _store_login(credential or DEFAULT_SMTP_CREDENTIAL, user, password)
    elif credential:
        login = _smtp_credential(credential)
    changes: dict[str, Any] = {
        "notify_smtp_host": host.strip(), "notify_smtp_port": port or 0, "notify_smtp_security": security,
        "notify_smtp_credential": login, "notify_email_from": (sender or "").strip(),
        "notify_email_to": ", ".join(_address(a, "notify_email_to") for a in to or [] for a in split_addresses(a)),
    }
    if not changes["notify_smtp_host"]:
        raise UsageError("Give the SMTP server: --smtp-host smtp.example.com.", field="notify_smtp_host")
    check_channel_changes(changes)
    update_settings(changes)
    return notify_view()


def _store_login(name: str, user: str, password: str | None) -> str:
    """Create the SMTP login credential, or change its user (and password, when given)."""
    name = credentials.check_credential_name(name)
    try:
        existing = get_credential(name)
    except NotFoundError:
        if not password:
            raise UsageError("--user needs --password (@FILE, env:VAR, or nothing after it to be asked).",
                             field="password") from None
        return credentials.add_credential(name, SmtpLogin.id, {"user": user, "password": password},
                                          NOTIFY_KIND).name
    _smtp_credential(existing.name)  # never overwrite another kind's credential
    changes = {"user": user, **({"password": password} if password else {})}
    return credentials.set_credential(existing.name, changes).name


def set_webhook(url: str) -> dict[str, Any]:
    update_settings({"notify_webhook_url": check_webhook_url(url)})
    return notify_view()


def remove_channel(kind: str) -> dict[str, Any]:
    """Stop a channel: "email", "webhook", "urls" (the apprise URLs) or "all". A stored SMTP login is kept
    (`certify-tui credential remove NAME` deletes it)."""
    if kind not in CHANNEL_KINDS:
        raise UsageError(f"Which channel? One of {', '.join(CHANNEL_KINDS)}.", field="channel")
    defaults = {p.key: p.default for p in _params()}
    keys: tuple[str, ...] = ()
    if kind in ("email", "all"):
        keys += _EMAIL_KEYS
    if kind in ("webhook", "all"):
        keys += ("notify_webhook_url",)
    if kind in ("urls", "all"):
        keys += ("notify_urls",)
    update_settings({key: defaults[key] for key in keys})
    return notify_view()


def _params() -> tuple[Any, ...]:
    from certify_tui.lifecycle.settings import AppSettings

    return AppSettings.params


def notify_view(values: dict[str, Any] | None = None) -> dict[str, Any]:
    """The channels configured, without a password, token or URL path: what `settings notify show` prints."""
    from certify_tui import notify

    values = values if values is not None else get_settings()
    email = email_settings(values)
    webhook = str(values.get("notify_webhook_url") or "")
    return {
        "email": None if email is None else {
            "smtp_host": email.host, "smtp_port": email.port, "security": email.security,
            "credential": email.credential or None, "from": email.sender, "to": list(email.recipients),
            "to_is_default": not split_addresses(values.get("notify_email_to"))},
        "webhook": describe_webhook(webhook) if webhook else None,
        "urls": [notify.describe_url(url) for url in notify.split_notify_urls(values.get("notify_urls"))],
        "channels": [channel.label for channel in notify.channels(values)],
        "notify_on_success": bool(values.get("notify_on_success")),
    }


def test_notification() -> DeliveryResult:
    from certify_tui import notify

    return notify.send_test(get_settings())
