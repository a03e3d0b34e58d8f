"""Notification channels without apprise syntax: email over SMTP and a JSON webhook, from plain settings.

The SMTP login lives in a stored credential (kind "notify", provider "smtp": `SmtpLogin`'s parameters), so
the password is sealed at rest and never on a command line; the settings hold only its name. Each channel
raises ChannelError with one readable line (no secret in it) when it cannot deliver.
"""

from __future__ import annotations

import json
import smtplib
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from certify_tui.plugins import Param, Plugin

NOTIFY_KIND = "notify"  # a stored credential's `challenge` when it holds a notification channel's login
SMTP_SECURITY = ("starttls", "tls", "plain")
_DEFAULT_PORTS = {"starttls": 587, "tls": 465, "plain": 25}
_TIMEOUT = 20  # seconds per channel: a notification must never hold a renewal for long


class ChannelError(Exception):
    """A channel could not deliver; the message is one line safe to show and log."""


class SmtpLogin(Plugin):
    """What a stored SMTP credential holds (`credential add NAME --notify smtp -o user=U -o password`)."""

    id = "smtp"
    title = "SMTP login"
    params = (
        Param("user", "User", required=True, help="The SMTP login name."),
        Param("password", "Password", required=True, secret=True, help="The SMTP password (stored encrypted)."),
    )


@dataclass(frozen=True)
class Channel:
    kind: str  # "email", "webhook" or "apprise"
    label: str  # safe to show: no password, no token
    deliver: Callable[[str, str, str], None]  # (title, body, kind); raises ChannelError


@dataclass(frozen=True)
class EmailSettings:
    host: str
    port: int
    security: str
    sender: str
    recipients: tuple[str, ...]
    credential: str  # the stored credential's name; "" for no login

    @property
    def label(self) -> str:
        return f"email to {', '.join(self.recipients) or '(nobody)'} via {self.host}:{self.port}"


def smtp_port(security: str, port: int | None) -> int:
    """The port given, else the usual one for the security mode (587 STARTTLS, 465 TLS, 25 plain)."""
    return port or _DEFAULT_PORTS.get(security, 587)


def split_addresses(text: str | None) -> tuple[str, ...]:
    return tuple(a for a in (part.strip() for part in (text or "").replace(";", ",").replace(" ", ",").split(","))
                 if a)


def account_contacts() -> tuple[str, ...]:
    """The ACME accounts' contact addresses: where email goes when no recipient is set."""
    from certify_tui.store.models import Account

    return tuple(dict.fromkeys(a.email for a in Account.select(Account.email).where(Account.status == "valid")
                               .order_by(Account.id) if a.email))


def email_settings(settings: Mapping[str, Any]) -> EmailSettings | None:
    """The email channel the settings describe, or None when no SMTP server is set."""
    host = str(settings.get("notify_smtp_host") or "").strip()
    if not host:
        return None
    security = str(settings.get("notify_smtp_security") or "starttls")
    recipients = split_addresses(settings.get("notify_email_to")) or account_contacts()
    sender = str(settings.get("notify_email_from") or "").strip() or f"certify-tui@{_hostname()}"
    return EmailSettings(host, smtp_port(security, int(settings.get("notify_smtp_port") or 0)), security, sender,
                         recipients, str(settings.get("notify_smtp_credential") or "").strip())


def configured_channels(settings: Mapping[str, Any]) -> list[Channel]:
    """The email and webhook channels set (apprise URLs are added by notify.py)."""
    channels: list[Channel] = []
    email = email_settings(settings)
    if email is not None:
        channels.append(Channel("email", email.label,
                                lambda title, body, kind: send_email(email, title, body)))
    url = str(settings.get("notify_webhook_url") or "").strip()
    if url:
        channels.append(Channel("webhook", f"webhook {describe_webhook(url)}",
                                lambda title, body, kind: post_webhook(url, title, body, kind)))
    return channels


def describe_webhook(url: str) -> str:
    """The URL's scheme, host and port only: its path or query often carries a token."""
    parsed = urllib.parse.urlsplit(url)
    return f"{parsed.scheme}://{parsed.netloc.rpartition('@')[2]}/..." if parsed.netloc else "(not a URL)"


def check_webhook_url(url: str) -> str:
    from certify_tui.errors import UsageError

    url = url.strip()
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise UsageError(f"The webhook URL must start with https:// or http:// and name a host, not "
                         f"'{describe_webhook(url)}'.", field="notify_webhook_url")
    return url


def _hostname() -> str:
    try:
        return socket.gethostname() or "localhost"
    except OSError:
        return "localhost"


def _login(name: str) -> tuple[str, str]:
    from certify_tui.errors import CertifyError
    from certify_tui.store.credentials import get_credential
    from certify_tui.store.sealed import require_open

    try:
        credential = get_credential(name)
        options = require_open(credential.options())
    except CertifyError as exc:
        raise ChannelError(f"SMTP login: {exc}") from None
    if (credential.challenge, credential.provider) != (NOTIFY_KIND, SmtpLogin.id):
        raise ChannelError(f"The credential '{credential.name}' is not an SMTP login: store one with "
                           f"`certify-tui settings notify email ... --user U --password @FILE`.")
    return str(options.get("user") or ""), str(options.get("password") or "")


def send_email(email: EmailSettings, title: str, body: str) -> None:
    if not email.recipients:
        raise ChannelError("No email recipient: set one (certify-tui settings notify email ... --to ADDRESS) "
                           "or register an ACME account with a contact address.")
    message = EmailMessage()
    message["Subject"], message["From"], message["To"] = title, email.sender, ", ".join(email.recipients)
    message["Date"], message["Message-ID"] = formatdate(localtime=False), make_msgid(domain="certify-tui")
    message.set_content(body)
    where = f"{email.host}:{email.port}"
    context = ssl.create_default_context()
    try:
        smtp: smtplib.SMTP
        if email.security == "tls":
            smtp = smtplib.SMTP_SSL(email.host, email.port, timeout=_TIMEOUT, context=context)
        else:
            smtp = smtplib.SMTP(email.host, email.port, timeout=_TIMEOUT)
        with smtp:
            if email.security == "starttls":
                smtp.starttls(context=context)
            if email.credential:
                user, password = _login(email.credential)
                smtp.login(user, password)
            smtp.send_message(message)
    except smtplib.SMTPAuthenticationError:
        raise ChannelError(f"The SMTP server {where} refused the login in the credential '{email.credential}': "
                           f"change it with certify-tui credential set {email.credential} -o password") from None
    except smtplib.SMTPNotSupportedError:
        raise ChannelError(f"The SMTP server {where} does not offer "
                           f"{'STARTTLS' if email.security == 'starttls' else 'login'}: check --starttls/--tls "
                           f"and --user.") from None
    except ssl.SSLCertVerificationError as exc:
        raise ChannelError(f"The SMTP server {where}'s certificate is not trusted ({exc.verify_message}).") from None
    except ssl.SSLError as exc:
        raise ChannelError(f"TLS with the SMTP server {where} failed ({exc.reason}): is the port for "
                           f"{'STARTTLS' if email.security == 'starttls' else 'TLS'}?") from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise ChannelError(f"The SMTP server {where} refused the recipient(s) {', '.join(exc.recipients)}.") from None
    except smtplib.SMTPResponseException as exc:
        raise ChannelError(f"The SMTP server {where} answered {exc.smtp_code}: "
                           f"{_text(exc.smtp_error)}") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise ChannelError(f"Cannot reach the SMTP server {where}: {_reason(exc)}.") from None


def post_webhook(url: str, title: str, body: str, kind: str) -> None:
    """POST {"title", "message", "type", "host", "source"} as JSON; any 2xx answer is a delivery."""
    payload = json.dumps({"title": title, "message": body, "type": kind, "host": _hostname(),
                          "source": "certify-tui"}).encode()
    request = urllib.request.Request(url, data=payload, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": "certify-tui"})
    shown = describe_webhook(url)
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT, context=ssl.create_default_context()) as answer:
            status = int(answer.status)
    except urllib.error.HTTPError as exc:
        raise ChannelError(f"The webhook {shown} answered HTTP {exc.code}.") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise ChannelError(f"Cannot reach the webhook {shown}: {_reason(reason)}.") from None
    if not 200 <= status < 300:
        raise ChannelError(f"The webhook {shown} answered HTTP {status}.")


def _text(raw: bytes | str) -> str:
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
    return " ".join(text.split())[:200]


def _reason(exc: object) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"its certificate is not trusted ({exc.verify_message})"
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return f"no answer within {_TIMEOUT} s"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__

