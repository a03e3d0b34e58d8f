"""Notifications about renewals through apprise: email, webhooks and chat services from one URL each.

The URLs come from the `notify_urls` setting (a secret: they carry passwords and tokens), so nothing
here logs or shows a URL except as apprise's privacy form (`url(privacy=True)`), and a notification
body never contains anything secret. Sending never raises: a renewal must not fail because its
notification could not be delivered.
"""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import apprise

from certify_tui.errors import UsageError
from certify_tui.notify_channels import Channel, ChannelError, configured_channels

log = logging.getLogger("certify_tui")
# Our own lines name each failed URL (redacted) in the app log; without a handler of its own, apprise's
# warnings would reach logging's last resort and be printed on stderr, over the TUI.
logging.getLogger("apprise").addHandler(logging.NullHandler())

# One URL per whitespace-separated token, and several in one token when commas/semicolons precede a new
# "scheme://" (a comma inside a URL, as in ?to=a@x,b@y, stays part of it).
_BETWEEN_URLS = re.compile(r"[,;]+(?=[A-Za-z0-9+.-]{1,32}://)")
_SCHEME_HOST = re.compile(r"^(?P<scheme>[A-Za-z0-9+.-]{1,32})://(?:[^@/?#]*@)?(?P<host>[^/?#:]*)")
# Detail keys whose values are never put in a notification, whatever the caller passes.
_SECRET_WORDS = ("password", "secret", "token", "private", "key_pem", "hmac", "credential")


def split_notify_urls(text: str | None) -> list[str]:
    """The URLs in the setting's text, separated by spaces, newlines, commas or semicolons."""
    urls: list[str] = []
    for token in (text or "").split():
        urls += [part for part in (p.strip(",;") for p in _BETWEEN_URLS.split(token)) if part]
    return urls


def describe_url(url: str) -> str:
    """A URL safe to show or log: apprise's privacy form, else only its scheme and host."""
    plugin = apprise.Apprise.instantiate(url)
    if plugin is not None:
        try:
            return str(plugin.url(privacy=True))
        except Exception:  # a plug-in bug must not turn into a leak or a crash
            pass
    match = _SCHEME_HOST.match(url.strip())
    if not match:
        return "(not a URL)"
    return f"{match['scheme']}://{match['host']}/..." if match["host"] else f"{match['scheme']}://..."


def check_notify_urls(text: str | None) -> list[str]:
    """The URLs in `text` if apprise can use every one; UsageError naming (redacted) the first it cannot."""
    urls = split_notify_urls(text)
    for number, url in enumerate(urls, 1):
        if "://" not in url or apprise.Apprise.instantiate(url) is None:
            raise UsageError(
                f"Notification URL {number} ({describe_url(url)}) is not one apprise can use: check the "
                f"scheme and its required parts (see https://github.com/caronc/apprise/wiki)."
            )
    return urls


def _hostname() -> str:
    try:
        return socket.gethostname() or "this host"
    except OSError:
        return "this host"


def _details_text(details: Mapping[str, Any] | None) -> list[str]:
    lines: list[str] = []
    for key, value in (details or {}).items():
        if value is None or value == "" or any(word in key.lower() for word in _SECRET_WORDS):
            continue
        if isinstance(value, (list, tuple, set)):
            value = ", ".join(str(v) for v in value)
        elif hasattr(value, "isoformat"):
            value = value.isoformat(timespec="seconds") if hasattr(value, "hour") else value.isoformat()
        lines.append(f"{key.replace('_', ' ').capitalize()}: {value}")
    return lines


def _send(urls: list[str], title: str, body: str, notify_type: str) -> tuple[bool, list[str]]:
    """Send to every URL; (all delivered, the redacted URLs that failed). Never raises."""
    failed: list[str] = []
    sender = apprise.Apprise()
    for url in urls:
        try:
            added = sender.add(url)
        except Exception:
            added = False
        if not added:
            shown = describe_url(url)
            failed.append(shown)
            log.warning("notification URL %s cannot be used (apprise cannot parse it)", shown)
    for service in sender:
        try:
            shown = str(service.url(privacy=True))
        except Exception:
            shown = f"{getattr(service, 'service_name', 'a service')} URL"
        try:
            ok = bool(service.notify(body=body, title=title, notify_type=notify_type,
                                     body_format=apprise.NotifyFormat.TEXT))
        except Exception as exc:  # never let a notification break a renewal
            log.warning("notification to %s failed: %s", shown, type(exc).__name__)
            ok = False
        else:
            if not ok:
                log.warning("notification to %s failed (apprise reported an error)", shown)
        if not ok:
            failed.append(shown)
    return not failed and bool(urls), failed


def notify_renewal(core_settings: Mapping[str, Any], name: str, ok: bool, message: str,
                   details: Mapping[str, Any] | None = None) -> bool:
    """Tell every configured channel how a renewal went; whether every one accepted it.

    A no-op returning False when no channel is set, or for a success unless `notify_on_success` is on.
    `message` and `details` (identifiers, expiry, next attempt...) must be free of secrets; detail keys
    that look secret are dropped anyway.
    """
    try:
        if ok and not core_settings.get("notify_on_success", False):
            return False
        host = _hostname()
        outcome = "succeeded" if ok else "FAILED"
        todo = [] if ok else ["", f"What happened: certify-tui cert log {name}",
                              f"Try again now: certify-tui renew {name}"]
        body = "\n".join([message.strip() or outcome, "", f"Certificate: {name}", f"Host: {host}",
                          *_details_text(details), *todo])
        result = send(core_settings, f"certify-tui: renewal of {name} {outcome} on {host}", body,
                      "success" if ok else "failure")
        return result.ok
    except Exception as exc:  # never raises: the renewal's own result matters more
        log.warning("notification about %s could not be sent: %s", name, type(exc).__name__)
        return False


def notify_revoked(core_settings: Mapping[str, Any], name: str, message: str,
                   details: Mapping[str, Any] | None = None) -> bool:
    """Tell every configured channel that a certificate was found revoked (always sent: it is never routine);
    whether every one accepted it. Never raises; `message` and `details` must be free of secrets."""
    try:
        host = _hostname()
        body = "\n".join([message.strip(), "", f"Certificate: {name}", f"Host: {host}", *_details_text(details),
                          "", f"What happened: certify-tui cert log {name}"])
        return send(core_settings, f"certify-tui: {name} was REVOKED by its CA ({host})", body, "warning").ok
    except Exception as exc:  # never raises: marking it revoked and renewing it matter more
        log.warning("notification about %s could not be sent: %s", name, type(exc).__name__)
        return False


def send_test(core_settings: Mapping[str, Any]) -> DeliveryResult:
    """For `settings test-notification` and the TUI's "Send test notification" button: one message to every
    channel, and which took it."""
    host = _hostname()
    result = send(core_settings, f"certify-tui: test notification from {host}",
                  f"This is a test notification from certify-tui on {host}.\n\n"
                  f"Renewal failures, expiry warnings and recoveries will be reported here.\n"
                  f"To change where they go: certify-tui settings notify show", "info")
    if result.ok:
        return replace(result, message=f"Test notification sent to {len(result.delivered)} channel(s): "
                                       f"{', '.join(result.delivered)}.")
    return result

# --- one delivery to every configured channel ----------------------------------------------------------------

KINDS = ("info", "success", "warning", "failure")
_APPRISE_TYPES = {"info": apprise.NotifyType.INFO, "success": apprise.NotifyType.SUCCESS,
                  "warning": apprise.NotifyType.WARNING, "failure": apprise.NotifyType.FAILURE}


@dataclass(frozen=True)
class DeliveryResult:
    """How one message went: to how many channels, which failed and why (redacted), and a line to show."""

    ok: bool  # delivered to every configured channel (False when none is configured)
    delivered: tuple[str, ...]  # the channels that accepted it (labels safe to show)
    failed: tuple[str, ...]  # for each that did not, one line naming it (redacted) and why
    message: str
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def configured(self) -> bool:
        return bool(self.delivered or self.failed)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "delivered": list(self.delivered), "failed": list(self.failed),
                "message": self.message, "at": self.at.isoformat(timespec="seconds")}


def channels(core_settings: Mapping[str, Any]) -> list[Channel]:
    """Every configured channel: email, webhook, then each apprise URL."""
    found = configured_channels(core_settings)
    for url in split_notify_urls(core_settings.get("notify_urls")):
        found.append(Channel("apprise", describe_url(url), _apprise_sender(url)))
    return found


def _apprise_sender(url: str) -> Callable[[str, str, str], None]:
    def deliver(title: str, body: str, kind: str) -> None:
        if "://" not in url or apprise.Apprise.instantiate(url) is None:
            raise ChannelError(f"apprise cannot use the URL {describe_url(url)}: check its scheme and required "
                               f"parts (https://github.com/caronc/apprise/wiki).")
        delivered, _failed = _send([url], title, body, _APPRISE_TYPES.get(kind, apprise.NotifyType.INFO))
        if not delivered:
            raise ChannelError(f"apprise could not deliver to {describe_url(url)} (details in the app log).")

    return deliver


def send(settings: Mapping[str, Any], title: str, body: str, kind: str = "info") -> DeliveryResult:
    """Send one plain message to every configured channel. Never raises: a renewal must not fail because its
    notification could not be delivered. `kind` is one of KINDS; title and body must be free of secrets."""
    try:
        targets = channels(settings)
    except Exception as exc:  # a broken setting is reported, not raised
        return DeliveryResult(False, (), (), f"The notification channels cannot be read: {exc}")
    if not targets:
        return DeliveryResult(False, (), (), "No notification channel is set (certify-tui settings notify email "
                                             "... or settings notify webhook URL).")
    delivered: list[str] = []
    failed: list[str] = []
    for channel in targets:
        try:
            channel.deliver(title, body, kind if kind in KINDS else "info")
        except ChannelError as exc:  # its message names the server or URL (redacted)
            failed.append(str(exc))
        except Exception as exc:  # never let a notification break a renewal
            failed.append(f"{channel.label}: {type(exc).__name__}.")
        else:
            delivered.append(channel.label)
    for line in failed:
        log.warning("notification %r not delivered: %s", title, line)
    if delivered:
        log.info("notification %r delivered to %s", title, ", ".join(delivered))
    if not failed:
        return DeliveryResult(True, tuple(delivered), (), f"Sent to {', '.join(delivered)}.")
    sent = f" Sent to {', '.join(delivered)}." if delivered else ""
    return DeliveryResult(False, tuple(delivered), tuple(failed), f"Not delivered: {' '.join(failed)}{sent}")


# --- the alert policy's entry points (the alerts branch calls these; kept here so both branches agree) -------
_ALERT_KINDS = {"failure": "failure", "deploy": "failure", "expiry": "warning", "recovery": "success",
                "success": "success"}


def send_alert(core_settings: Mapping[str, Any], title: str, body: str, kind: str) -> tuple[int, list[str]]:
    """One alert to every configured channel through `send`: (how many channels were tried, a line for each
    that failed). (0, []) when none is set. Never raises; `title` and `body` must be free of secrets."""
    host = _hostname()
    result = send(core_settings, f"certify-tui: {title} ({host})", f"{body.strip()}\n\nHost: {host}",
                  _ALERT_KINDS.get(kind, kind if kind in KINDS else "info"))
    return len(result.delivered) + len(result.failed), list(result.failed)


def channel_names(core_settings: Mapping[str, Any]) -> list[str]:
    """The configured channels, redacted (for status screens)."""
    try:
        return [channel.label for channel in channels(core_settings)]
    except Exception:  # a broken setting must not break a status screen
        return []
