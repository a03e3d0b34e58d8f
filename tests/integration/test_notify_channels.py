"""Notification channels without apprise syntax, from the real CLI: email to a real SMTP server (aiosmtpd: plain,
STARTTLS with a test CA's certificate, TLS, a login from a stored credential) and a webhook to a real HTTP server."""

from __future__ import annotations

from pathlib import Path

import pytest
from integration.test_bundle_transfer import at_terminal
from integration.test_cli import _env, clean_error, cli, ok
from servers.notify_receivers import TestCA, make_test_ca, smtp_server, webhook_server

from certify_tui import notify
from certify_tui.lifecycle import Core
from certify_tui.lifecycle.settings import AppSettings
from certify_tui.store.models import Account

USER, PASSWORD = "mailer", "Sm7p-Chan-Pa55-41d"
TOKEN = "hook-token-9c3e"


@pytest.fixture(scope="module")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return make_test_ca(tmp_path_factory.mktemp("notify-ca"))


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "smtp-password"
    path.write_text(PASSWORD + "\n")
    return path


def _database_bytes(data: Path) -> bytes:
    return b"".join(p.read_bytes() for p in data.glob("*.db*"))


def test_plain_smtp_without_login(data: Path) -> None:
    with smtp_server() as box:
        ok(data, "settings", "notify", "email", "--smtp-host", "127.0.0.1", "--smtp-port", str(box.port), "--plain",
           "--from", "certify@example.com", "--to", "ops@example.com", "--to", "oncall@example.com")
        run = ok(data, "settings", "test-notification")

    assert run.out.startswith("Test notification sent to 1 channel(s): email to ops@example.com, oncall@example.com")
    (message,) = box.messages
    assert message["Subject"].startswith("certify-tui: test notification from ")
    assert box.envelopes == [("certify@example.com", ["ops@example.com", "oncall@example.com"])]
    body = message.get_content()
    assert "certify-tui settings notify show" in body  # says what to do


def test_starttls_with_a_stored_login(data: Path, test_ca: TestCA, password_file: Path) -> None:
    env = _env(SSL_CERT_FILE=str(test_ca.ca_file))  # the test CA is the one the client trusts
    with smtp_server(security="starttls", login=(USER, PASSWORD), ca=test_ca) as box:
        ok(data, "settings", "notify", "email", "--smtp-host", "localhost", "--smtp-port", str(box.port),
           "--starttls", "--user", USER, "--password", f"@{password_file}", "--to", "ops@example.com", env=env)
        run = ok(data, "settings", "test-notification", "--json", env=env)

    assert run.json()["ok"] is True and run.json()["failed"] == []
    assert box.logins == [USER] and len(box.messages) == 1
    # The password is a stored credential, sealed: not in the settings, the views, nor the database file.
    shown = ok(data, "settings", "notify", "show", "--json").json()
    assert shown["email"]["credential"] == "notify-smtp" and shown["email"]["security"] == "starttls"
    assert ok(data, "credential", "show", "notify-smtp", "--json").json()["values"] == {"user": USER}
    for text in (ok(data, "settings", "show", "--json").out, str(shown), run.out):
        assert PASSWORD not in text
    assert PASSWORD.encode() not in _database_bytes(data)


def test_tls_from_the_start_with_a_password_from_the_environment(data: Path, test_ca: TestCA) -> None:
    env = _env(SSL_CERT_FILE=str(test_ca.ca_file), SMTP_PW=PASSWORD)
    with smtp_server(security="tls", login=(USER, PASSWORD), ca=test_ca) as box:
        ok(data, "settings", "notify", "email", "--smtp-host", "127.0.0.1", "--smtp-port", str(box.port), "--tls",
           "--user", USER, "--password", "env:SMTP_PW", "--to", "ops@example.com", env=env)
        ok(data, "settings", "test-notification", env=env)
    assert box.logins == [USER] and len(box.messages) == 1


def test_untrusted_certificate_wrong_password_and_no_server(data: Path, test_ca: TestCA,
                                                           password_file: Path) -> None:
    with smtp_server(security="starttls", login=(USER, PASSWORD), ca=test_ca) as box:
        ok(data, "settings", "notify", "email", "--smtp-host", "127.0.0.1", "--smtp-port", str(box.port),
           "--user", USER, "--password", f"@{password_file}", "--to", "ops@example.com")
        untrusted = cli(data, "settings", "test-notification")  # the test CA is not trusted here
        password_file.write_text("wrong-password")
        ok(data, "settings", "notify", "email", "--smtp-host", "127.0.0.1", "--smtp-port", str(box.port),
           "--user", USER, "--password", f"@{password_file}", "--to", "ops@example.com")
        refused = cli(data, "settings", "test-notification", env=_env(SSL_CERT_FILE=str(test_ca.ca_file)))
        port = box.port
    gone = cli(data, "settings", "test-notification")

    assert untrusted.code == 1 and "certificate is not trusted" in untrusted.out
    assert refused.code == 1 and "refused the login in the credential 'notify-smtp'" in refused.out
    assert "credential set notify-smtp -o password" in refused.out  # says what to do
    assert gone.code == 1 and f"Cannot reach the SMTP server 127.0.0.1:{port}: connection refused" in gone.out
    assert box.messages == []
    for run in (untrusted, refused, gone):
        assert PASSWORD not in run.out + run.err and "Traceback" not in run.err


def test_a_password_is_never_taken_from_the_command_line(data: Path) -> None:
    run = cli(data, "settings", "notify", "email", "--smtp-host", "127.0.0.1", "--user", USER,
              "--password", PASSWORD)
    assert "never as it is on the command line" in clean_error(run, 2)
    run = cli(data, "settings", "notify", "email", "--smtp-host", "127.0.0.1", "--user", USER)  # no terminal
    assert "--user needs --password" in clean_error(run, 2)
    run = cli(data, "settings", "notify", "email", "--smtp-host", "127.0.0.1", "--to", "not-an-address")
    assert "not a valid email address" in clean_error(run, 2)
    assert ok(data, "settings", "notify", "show", "--json").json()["email"] is None  # nothing saved


def test_recipient_defaults_to_the_accounts_contact(data: Path) -> None:
    core = Core.open(str(data))
    try:
        Account.create(email="owner@example.org", directory_url="https://ca.example/dir", account_key_pem="x")
        assert core.notify_channels()["email"] is None
    finally:
        core.close()
    with smtp_server() as box:
        ok(data, "settings", "notify", "email", "--smtp-host", "127.0.0.1", "--smtp-port", str(box.port), "--plain")
        shown = ok(data, "settings", "notify", "show").out
        ok(data, "settings", "test-notification")
    assert "owner@example.org (the accounts' contacts)" in shown
    assert [to for _, to in box.envelopes] == [["owner@example.org"]]


def test_webhook_gets_json_and_its_token_stays_hidden(data: Path) -> None:
    with webhook_server() as hook:
        url = f"{hook.url()}?token={TOKEN}"
        saved = ok(data, "settings", "notify", "webhook", url)
        shown = ok(data, "settings", "notify", "show", "--json")
        ok(data, "settings", "test-notification")
        hook.status = 500
        failed = cli(data, "settings", "test-notification")

    assert TOKEN not in saved.out + shown.out + failed.out
    assert shown.json()["webhook"] == f"http://127.0.0.1:{hook.port}/..."
    path, payload, headers = hook.posts[0]
    assert path == f"/hook?token={TOKEN}" and headers["Content-Type"] == "application/json"
    assert payload["title"].startswith("certify-tui: test notification") and payload["type"] == "info"
    assert payload["source"] == "certify-tui" and "settings notify show" in payload["message"]
    assert failed.code == 1 and f"The webhook http://127.0.0.1:{hook.port}/... answered HTTP 500" in failed.out
    run = cli(data, "settings", "notify", "webhook", "ftp://example.com/x")
    assert "must start with https:// or http://" in clean_error(run, 2)


def test_remove_stops_a_channel_and_keeps_the_login(data: Path, password_file: Path) -> None:
    ok(data, "settings", "notify", "email", "--smtp-host", "127.0.0.1", "--user", USER,
       "--password", f"@{password_file}", "--to", "ops@example.com")
    ok(data, "settings", "notify", "webhook", "https://hooks.example.com/x")
    run = cli(data, "credential", "remove", "notify-smtp")
    assert "SMTP login of the email notifications" in clean_error(run, 2)

    view = ok(data, "settings", "notify", "remove", "email", "--json").json()
    assert view["email"] is None and view["channels"] == ["webhook https://hooks.example.com/..."]
    ok(data, "credential", "show", "notify-smtp")  # kept
    ok(data, "settings", "notify", "remove", "all")
    run = cli(data, "settings", "test-notification")
    assert run.code == 1 and "No notification channel is set" in run.out


def test_send_reaches_every_channel_once(data: Path) -> None:
    """The function alerts and renewals call: one message per channel, a result naming each."""
    with smtp_server() as box, webhook_server() as hook:
        settings = AppSettings.validate_options({
            "notify_smtp_host": "127.0.0.1", "notify_smtp_port": box.port, "notify_smtp_security": "plain",
            "notify_email_to": "ops@example.com", "notify_webhook_url": hook.url(),
            "notify_urls": f"json://127.0.0.1:{hook.port}/apprise"})
        result = notify.send(settings, "certify-tui: shop failed twice", "Run: certify-tui cert log shop", "failure")
        sent = notify.notify_renewal(settings, "shop", False, "The CA could not connect.")

    assert result.ok and len(result.delivered) == 3 and result.failed == ()
    assert result.to_dict()["ok"] is True and result.message.startswith("Sent to email to ops@example.com")
    assert [m["Subject"] for m in box.messages][0] == "certify-tui: shop failed twice"
    assert sorted(path for path, _, _ in hook.posts[:2]) == ["/apprise", "/hook"]
    assert hook.posts[0][1]["type"] == "failure"
    assert sent is True and "What happened: certify-tui cert log shop" in box.messages[1].get_content()


def test_send_never_raises_and_reports_each_failure(data: Path) -> None:
    with webhook_server() as hook:
        settings = AppSettings.validate_options({
            "notify_smtp_host": "127.0.0.1", "notify_smtp_port": 9, "notify_smtp_security": "plain",
            "notify_email_to": "ops@example.com", "notify_webhook_url": hook.url()})
        result = notify.send(settings, "t", "b", "warning")
    assert not result.ok and len(result.delivered) == 1 and len(result.failed) == 1
    assert "Cannot reach the SMTP server 127.0.0.1:9" in result.failed[0]
    assert "Sent to webhook" in result.message



def test_a_bundle_carries_the_email_channel_and_its_login(tmp_path: Path, password_file: Path) -> None:
    source, target = tmp_path / "source", tmp_path / "target"
    phrase = tmp_path / "phrase"
    phrase.write_text("bundle-phrase-for-notify-test\n")
    with smtp_server(login=(USER, PASSWORD)) as box:
        ok(source, "settings", "notify", "email", "--smtp-host", "127.0.0.1", "--smtp-port", str(box.port),
           "--plain", "--user", USER, "--password", f"@{password_file}", "--to", "ops@example.com")
        ok(source, "export", "bundle", str(tmp_path / "b.bundle"), "--passphrase", f"@{phrase}")
        ok(target, "import", "bundle", str(tmp_path / "b.bundle"), "--passphrase", f"@{phrase}")
        ok(target, "settings", "test-notification")
    assert box.logins == [USER] and len(box.messages) == 1
    assert PASSWORD.encode() not in (tmp_path / "b.bundle").read_bytes()


def test_password_asked_at_a_terminal_is_not_echoed(data: Path) -> None:
    with smtp_server(login=(USER, PASSWORD)) as box:
        code, shown = at_terminal(data, [PASSWORD], "settings", "notify", "email", "--smtp-host", "127.0.0.1",
                                  "--smtp-port", str(box.port), "--plain", "--user", USER, "--password",
                                  "--to", "ops@example.com")
        ok(data, "settings", "test-notification")
    assert code == 0 and "SMTP password (not shown):" in shown and PASSWORD not in shown, shown
    assert box.logins == [USER]


def test_send_alert_reaches_the_email_channel() -> None:
    """The alert policy's entry point (send_alert) goes through the same channels."""
    with smtp_server() as box:
        settings = AppSettings.validate_options({
            "notify_smtp_host": "127.0.0.1", "notify_smtp_port": box.port, "notify_smtp_security": "plain",
            "notify_email_to": "ops@example.com"})
        assert notify.send_alert(settings, "shop failed twice", "Run: certify-tui cert log shop", "failure") == (1, [])
    (message,) = box.messages
    assert message["Subject"].startswith("certify-tui: shop failed twice (")
    assert "Run: certify-tui cert log shop" in message.get_content()
