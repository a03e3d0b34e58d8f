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
from collections.abc import Mapping
from typing import Any

import apprise

from certify_tui.errors import UsageError

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
    """Tell the configured services how a renewal went; whether every one accepted it.

    A no-op returning False when no URLs are set, or for a success unless `notify_on_success` is on.
    `message` and `details` (identifiers, expiry, next attempt...) must be free of secrets; detail keys
    that look secret are dropped anyway.
    """
    try:
        urls = split_notify_urls(core_settings.get("notify_urls"))
        if not urls or (ok and not core_settings.get("notify_on_success", False)):
            return False
        host = _hostname()
        outcome = "succeeded" if ok else "FAILED"
        title = f"certify-tui: renewal of {name} {outcome} on {host}"
        body = "\n".join([message.strip() or outcome, "", f"Certificate: {name}", f"Host: {host}",
                          *_details_text(details)])
        delivered, _failed = _send(urls, title, body,
                                  apprise.NotifyType.SUCCESS if ok else apprise.NotifyType.FAILURE)
        if delivered:
            log.info("notified %d service(s) that the renewal of %s %s", len(urls), name, outcome)
        return delivered
    except Exception as exc:  # never raises: the renewal's own result matters more
        log.warning("notification about %s could not be sent: %s", name, type(exc).__name__)
        return False


def notify_revoked(core_settings: Mapping[str, Any], name: str, message: str,
                   details: Mapping[str, Any] | None = None) -> bool:
    """Tell the configured services that a certificate was found revoked (always sent: it is never routine);
    whether every one accepted it. Never raises; `message` and `details` must be free of secrets."""
    try:
        urls = split_notify_urls(core_settings.get("notify_urls"))
        if not urls:
            return False
        host = _hostname()
        body = "\n".join([message.strip(), "", f"Certificate: {name}", f"Host: {host}", *_details_text(details)])
        delivered, _failed = _send(urls, f"certify-tui: {name} was REVOKED by its CA ({host})", body,
                                   apprise.NotifyType.WARNING)
        if delivered:
            log.info("notified %d service(s) that %s was revoked", len(urls), name)
        return delivered
    except Exception as exc:  # never raises: marking it revoked and renewing it matter more
        log.warning("notification about %s could not be sent: %s", name, type(exc).__name__)
        return False


def send_test(core_settings: Mapping[str, Any]) -> tuple[bool, str]:
    """For a "Send test notification" button: (delivered everywhere, a line to show)."""
    try:
        urls = check_notify_urls(core_settings.get("notify_urls"))
    except UsageError as exc:
        return False, str(exc)
    if not urls:
        return False, "No notification URLs are set."
    host = _hostname()
    try:
        delivered, failed = _send(urls, f"certify-tui: test notification from {host}",
                                  f"This is a test notification from certify-tui on {host}. "
                                  f"Renewal failures will be reported here.", apprise.NotifyType.INFO)
    except Exception as exc:
        return False, f"Sending failed: {type(exc).__name__}."
    if delivered:
        return True, f"Test notification sent to {len(urls)} URL(s)."
    return False, f"Sending failed for {', '.join(failed)} (details in the app log)."


# --- alerts (issue 13): one entry point the alert policy sends through -------------------------------------
# The channels branch may replace this with its own `send(settings, title, body, kind)`; the alert policy
# (lifecycle/alerts_send.py) calls only this function.
_ALERT_TYPES = {"failure": apprise.NotifyType.FAILURE, "deploy": apprise.NotifyType.FAILURE,
                "expiry": apprise.NotifyType.WARNING, "recovery": apprise.NotifyType.SUCCESS,
                "success": apprise.NotifyType.SUCCESS}


def send_alert(core_settings: Mapping[str, Any], title: str, body: str, kind: str) -> tuple[int, list[str]]:
    """Send one alert to every configured URL: (how many URLs were tried, the redacted ones that failed).
    (0, []) when none is set. Never raises; `title` and `body` must be free of secrets."""
    try:
        urls = split_notify_urls(core_settings.get("notify_urls"))
        if not urls:
            return 0, []
        host = _hostname()
        _delivered, failed = _send(urls, f"certify-tui: {title} ({host})", f"{body.strip()}\n\nHost: {host}",
                                   _ALERT_TYPES.get(kind, apprise.NotifyType.INFO))
        return len(urls), failed
    except Exception as exc:  # never raises: the renewals matter more than their alerts
        log.warning("alert %r could not be sent: %s", kind, type(exc).__name__)
        return 0, [f"({type(exc).__name__})"]


def channel_names(core_settings: Mapping[str, Any]) -> list[str]:
    """The configured channels, redacted (for status screens)."""
    return [describe_url(url) for url in split_notify_urls(core_settings.get("notify_urls"))]
