"""Notifications through apprise to a real SMTP server (aiosmtpd) and a real HTTP webhook receiver."""

from __future__ import annotations

import email
import email.policy
import json
import logging
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from servers.common import free_port

from certify_tui import notify
from certify_tui.errors import UsageError
from certify_tui.lifecycle.settings import AppSettings

SMTP_USER = "mailer"
SMTP_PASSWORD = "Sm7p-Pa55-9f3c1e"
HOOK_PASSWORD = "H00k-Secret-77ab20"



# --- a real SMTP server ----------------------------------------------------------------------------------


class _Collector:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.raw: list[bytes] = []
        self.received = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd hook
        self.raw.append(envelope.original_content or envelope.content)
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        self.received.set()
        return "250 Message accepted"


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login == SMTP_USER.encode()
          and auth_data.password == SMTP_PASSWORD.encode())
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp() -> Iterator[tuple[_Collector, int]]:
    collector = _Collector()
    port = free_port()
    controller = Controller(collector, hostname="127.0.0.1", port=port, authenticator=_authenticator,
                            auth_require_tls=False)  # plain SMTP on a test port: AUTH without TLS
    controller.start()
    try:
        yield collector, port
    finally:
        controller.stop()


def _mailto(port: int) -> str:
    # mailto:// (not mailtos://) is plain SMTP; mode=insecure says so explicitly: no STARTTLS.
    return (f"mailto://{SMTP_USER}:{SMTP_PASSWORD}@127.0.0.1:{port}"
            f"?mode=insecure&from=certify@example.com&to=ops@example.com")


# --- a real webhook receiver --------------------------------------------------------------------------------


class _Hook:
    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, Any]]] = []


@pytest.fixture
def hook() -> Iterator[tuple[_Hook, int]]:
    received = _Hook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server hook
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            received.posts.append((self.path, json.loads(body)))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield received, server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _settings(urls: str, on_success: bool = False) -> dict[str, Any]:
    return AppSettings.validate_options({"notify_urls": urls, "notify_on_success": on_success})


DETAILS = {
    "identifiers": ["shop.example.com", "www.shop.example.com"],
    "not_after": datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC),
    "next_attempt": datetime(2030, 1, 1, tzinfo=UTC) + timedelta(hours=6),
    "error": "urn:ietf:params:acme:error:connection: Connection refused",
    "account_key_pem": "-----BEGIN PRIVATE KEY-----NOT-FOR-MAIL",  # dropped: secret-looking key
}


# --- tests -------------------------------------------------------------------------------------------------


def test_settings_declare_notification_params() -> None:
    params = {p.key: p for p in AppSettings.params}
    assert params["notify_urls"].secret and params["notify_urls"].default == ""
    assert params["notify_on_success"].type == "bool" and params["notify_on_success"].default is False
    assert AppSettings.redact(_settings(_mailto(25)))["notify_urls"] == "********"


def test_failure_is_emailed_without_secrets(smtp: tuple[_Collector, int]) -> None:
    collector, port = smtp
    sent = notify.notify_renewal(_settings(_mailto(port)), "shop", False, "The CA could not connect.", DETAILS)

    assert sent is True
    assert collector.received.wait(5) and len(collector.messages) == 1
    message = collector.messages[0]
    assert "shop" in message["Subject"] and "FAILED" in message["Subject"]
    assert socket.gethostname() in message["Subject"]
    assert "ops@example.com" in message["To"]
    texts = [part.get_content() for part in message.walk() if part.get_content_maintype() == "text"]
    body = "\n".join(texts)
    assert "The CA could not connect." in body
    assert "shop.example.com, www.shop.example.com" in body and "2030-01-02T03:04:05" in body
    raw = collector.raw[0].decode("utf-8", "replace")
    assert SMTP_PASSWORD not in raw and "NOT-FOR-MAIL" not in raw and "PRIVATE KEY" not in raw


def test_webhook_receives_title_and_body(hook: tuple[_Hook, int]) -> None:
    received, port = hook
    url = f"json://user:{HOOK_PASSWORD}@127.0.0.1:{port}/hook"
    assert notify.notify_renewal(_settings(url), "shop", False, "Validation failed.", DETAILS) is True

    assert len(received.posts) == 1
    path, payload = received.posts[0]
    assert path == "/hook"
    assert payload["title"].startswith("certify-tui: renewal of shop FAILED on ")
    assert "Validation failed." in payload["message"] and "shop.example.com" in payload["message"]
    assert payload["type"] == "failure"
    assert HOOK_PASSWORD not in json.dumps(payload) and "NOT-FOR-MAIL" not in json.dumps(payload)


def test_success_is_sent_only_when_asked(hook: tuple[_Hook, int]) -> None:
    received, port = hook
    url = f"json://127.0.0.1:{port}/hook"
    assert notify.notify_renewal(_settings(url, on_success=False), "shop", True, "Renewed.") is False
    assert received.posts == []

    assert notify.notify_renewal(_settings(url, on_success=True), "shop", True, "Renewed.") is True
    (_, payload), = received.posts
    assert "renewal of shop succeeded" in payload["title"] and payload["type"] == "success"


def test_no_urls_is_a_no_op() -> None:
    assert notify.notify_renewal(_settings(""), "shop", False, "failed") is False
    result = notify.send_test(_settings(""))
    assert not result.ok and not result.configured and result.message.startswith("No notification channel is set")


def test_several_urls_in_one_setting(hook: tuple[_Hook, int], smtp: tuple[_Collector, int]) -> None:
    received, hook_port = hook
    collector, smtp_port = smtp
    text = f"json://127.0.0.1:{hook_port}/a, json://127.0.0.1:{hook_port}/b\n{_mailto(smtp_port)}"
    assert len(notify.check_notify_urls(text)) == 3
    assert notify.notify_renewal(_settings(text), "shop", False, "failed") is True
    assert sorted(path for path, _ in received.posts) == ["/a", "/b"]
    assert collector.received.wait(5)


def test_send_test(hook: tuple[_Hook, int]) -> None:
    received, port = hook
    result = notify.send_test(_settings(f"json://127.0.0.1:{port}/hook"))
    assert result.ok and "sent to 1 channel(s): json://127.0.0.1" in result.message
    (_, payload), = received.posts
    assert payload["title"].startswith("certify-tui: test notification from ")


def test_bad_url_is_rejected_early() -> None:
    secret = "Bad-Url-Secret-42"
    with pytest.raises(UsageError, match=r"URL 2 \(nosuchscheme://host") as caught:
        notify.check_notify_urls(f"json://127.0.0.1/hook nosuchscheme://user:{secret}@host/x")
    assert secret not in str(caught.value)
    with pytest.raises(UsageError, match="URL 1"):
        notify.check_notify_urls("not-a-url")
    assert notify.check_notify_urls("  ") == []
    result = notify.send_test(_settings(f"nosuchscheme://user:{secret}@host/x"))
    ok, message = result.ok, result.message
    assert not ok and "nosuchscheme" in message and secret not in message


def test_unreachable_url_returns_false_and_logs_no_password(caplog: pytest.LogCaptureFixture) -> None:
    dead = free_port()  # nothing listens there: connection refused
    text = (f"json://user:{HOOK_PASSWORD}@127.0.0.1:{dead}/hook "
            f"mailto://{SMTP_USER}:{SMTP_PASSWORD}@127.0.0.1:{dead}?mode=insecure&from=c@example.com"
            f"&to=ops@example.com")
    caplog.set_level(logging.DEBUG)

    assert notify.notify_renewal(_settings(text), "shop", False, "failed", DETAILS) is False
    result = notify.send_test(_settings(text))
    ok, message = result.ok, result.message

    assert not ok and HOOK_PASSWORD not in message and SMTP_PASSWORD not in message
    ours = [r.getMessage() for r in caplog.records if r.name == "certify_tui"]
    assert sum("notification to" in line and "failed" in line for line in ours) == 4
    assert any(f"127.0.0.1:{dead}" in line for line in ours)  # the URL is named, redacted
    everything = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    assert HOOK_PASSWORD not in everything and SMTP_PASSWORD not in everything
