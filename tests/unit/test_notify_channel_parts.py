"""The channel settings' small parts: ports by security, address lists, redacted webhook URLs, kinds."""

from __future__ import annotations

import pytest

from certify_tui import notify
from certify_tui.errors import UsageError
from certify_tui.lifecycle.settings import AppSettings
from certify_tui.notify_channels import (
    check_webhook_url,
    configured_channels,
    describe_webhook,
    email_settings,
    smtp_port,
    split_addresses,
)


def test_smtp_port_follows_the_security_unless_given() -> None:
    assert [smtp_port(s, 0) for s in ("starttls", "tls", "plain")] == [587, 465, 25]
    assert smtp_port("tls", 2465) == 2465


def test_addresses_split_on_commas_semicolons_and_spaces() -> None:
    assert split_addresses(" a@x.org, b@y.org;c@z.org  d@w.org ") == ("a@x.org", "b@y.org", "c@z.org", "d@w.org")
    assert split_addresses("") == () and split_addresses(None) == ()


def test_webhook_urls_are_shown_without_path_query_or_login() -> None:
    assert describe_webhook("https://user:pw@hooks.example.com:8443/T0K3N/x?key=abc") == \
        "https://hooks.example.com:8443/..."
    assert check_webhook_url(" https://hooks.example.com/x ") == "https://hooks.example.com/x"
    for bad in ("ftp://example.com/x", "hooks.example.com/x", "https:///x"):
        with pytest.raises(UsageError, match="must start with https:// or http://") as caught:
            check_webhook_url(bad)
        assert caught.value.field == "notify_webhook_url"


def test_channels_come_from_the_settings_in_order() -> None:
    settings = AppSettings.validate_options({
        "notify_smtp_host": "smtp.example.com", "notify_smtp_security": "tls", "notify_email_to": "ops@example.com",
        "notify_email_from": "certs@example.com", "notify_webhook_url": "https://hooks.example.com/s3cr3t",
        "notify_urls": "json://127.0.0.1/a"})
    email = email_settings(settings)
    assert email is not None and (email.port, email.sender, email.recipients) == (
        465, "certs@example.com", ("ops@example.com",))
    assert [c.kind for c in configured_channels(settings)] == ["email", "webhook"]
    labels = [c.label for c in notify.channels(settings)]
    assert labels[:2] == ["email to ops@example.com via smtp.example.com:465", "webhook https://hooks.example.com/..."]
    assert labels[2].startswith("json://127.0.0.1") and not any("s3cr3t" in label for label in labels)
    assert email_settings(AppSettings.validate_options({})) is None


def test_send_with_nothing_configured_says_how_to_set_a_channel() -> None:
    result = notify.send(AppSettings.validate_options({}), "t", "b", "failure")
    assert not result.ok and not result.configured
    assert "certify-tui settings notify email" in result.message
    assert result.to_dict()["delivered"] == [] and result.to_dict()["at"].endswith("+00:00")


def test_alert_entry_points_use_every_channel() -> None:
    settings = AppSettings.validate_options({"notify_webhook_url": "https://hooks.example.com/x",
                                             "notify_urls": "json://127.0.0.1/a"})
    assert notify.channel_names(settings)[0] == "webhook https://hooks.example.com/..."
    assert len(notify.channel_names(settings)) == 2
    assert notify.send_alert(AppSettings.validate_options({}), "shop failed twice", "b", "failure") == (0, [])
