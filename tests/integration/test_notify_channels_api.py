"""The notification channels over the local API (a real ApiServer, real HTTP): set email with a login, a
webhook, send the test notification to a real SMTP server and webhook, remove them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from servers.common import free_port
from servers.notify_receivers import smtp_server, webhook_server

from certify_tui.lifecycle import Core
from certify_tui.service.api import ApiServer
from certify_tui.service.discovery import read_token

USER, PASSWORD = "api-mailer", "Api-Sm7p-Pa55-0b1"


@pytest.fixture
def call(core: Core, data_dir: Path) -> Iterator[Any]:
    server = ApiServer(core, port=free_port()).start()
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {read_token(data_dir)}"
    session.trust_env = False  # loopback only, never through a proxy

    def request(method: str, path: str, **kwargs: Any) -> requests.Response:
        return session.request(method, f"{server.url}{path}", timeout=60, **kwargs)

    yield request
    session.close()
    server.stop()


def test_channels_over_the_api(call: Any) -> None:
    with smtp_server(login=(USER, PASSWORD)) as box, webhook_server() as hook:
        answer = call("PUT", "/api/settings/notify/email", json={
            "smtp_host": "127.0.0.1", "smtp_port": box.port, "security": "plain", "user": USER,
            "password": PASSWORD, "from": "certify@example.com", "to": ["ops@example.com"]})
        assert answer.status_code == 200, answer.text
        assert answer.json()["email"]["credential"] == "notify-smtp" and PASSWORD not in answer.text
        assert call("PUT", "/api/settings/notify/webhook", json={"url": hook.url()}).status_code == 200

        sent = call("POST", "/api/settings/test-notification")
        assert sent.status_code == 200 and sent.json()["ok"] is True and len(sent.json()["delivered"]) == 2
        assert box.logins == [USER] and len(box.messages) == 1 and len(hook.posts) == 1

        shown = call("GET", "/api/settings")
        assert shown.json()["settings"]["notify_webhook_url"] == "********" and PASSWORD not in shown.text
        # The masked webhook sent back with another change keeps the stored URL.
        changed = call("PATCH", "/api/settings", json={**shown.json()["settings"], "pool_size": 6})
        assert changed.status_code == 200 and changed.json()["settings"]["pool_size"] == 6
        assert call("GET", "/api/settings/notify").json()["webhook"] == f"http://127.0.0.1:{hook.port}/..."

        bad = call("PUT", "/api/settings/notify/webhook", json={"url": "file:///etc/passwd"})
        assert bad.status_code == 422 and bad.json()["field"] == "notify_webhook_url"
        bad = call("PATCH", "/api/settings", json={"notify_email_to": "nobody"})
        assert bad.status_code == 422 and bad.json()["field"] == "notify_email_to"
        assert call("DELETE", "/api/settings/notify/pigeon").status_code == 422

        left = call("DELETE", "/api/settings/notify/email").json()
        assert left["email"] is None and left["channels"] == [f"webhook http://127.0.0.1:{hook.port}/..."]
        assert call("DELETE", "/api/settings/notify/all").json()["channels"] == []
        none = call("POST", "/api/settings/test-notification").json()
        assert none["ok"] is False and none["message"].startswith("No notification channel is set")
