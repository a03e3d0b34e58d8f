"""The fallback accounts over the API: PATCH sets them with the same checks as `cert set`, the view shows them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from integration.helpers import add_account, open_core, unique
from servers.api_client import Service, start_service
from servers.common import free_port
from servers.pebble import PebbleServer

pytestmark = pytest.mark.pebble


@pytest.fixture
def accounts_and_service(data_dir: Path, pebble: PebbleServer) -> Iterator[tuple[list[str], Service]]:
    for core in open_core(data_dir):
        emails = [add_account(core, pebble).email, add_account(core, pebble).email]
    svc = start_service(data_dir, free_port())
    yield emails, svc
    assert svc.stop() == 0
    assert "Traceback" not in svc.log.read_text()


def test_failover_accounts_over_the_api(accounts_and_service: tuple[list[str], Service],
                                        pebble: PebbleServer) -> None:
    (primary, fallback), service = accounts_and_service
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {service.token}"
    session.trust_env = False

    def call(method: str, path: str, **kwargs: Any) -> requests.Response:
        return session.request(method, f"http://127.0.0.1:{service.port}{path}", timeout=120, **kwargs)

    name = unique("apifo")
    r = call("POST", "/api/certificates", json={
        "name": name, "domains": [f"{name}.example.test"], "account": primary, "fallback_accounts": [fallback],
        "challenge": "http-01", "provider": "standalone",
        "options": {"address": "127.0.0.1", "port": pebble.http_port}})
    assert r.status_code == 201, r.text
    view = r.json()
    assert view["fallback_accounts"] == [fallback]
    assert (view["ca_failure_count"], view["rate_limited_until"], view["issued_by"]) == (0, None, None)
    # The same validation as the CLI's: its own account is refused, naming the field; nothing changes.
    r = call("PATCH", f"/api/certificates/{name}", json={"fallback_accounts": [primary]})
    assert r.status_code == 422 and r.json()["field"] == "fallback_accounts" and "own account" in r.json()["error"]
    r = call("PATCH", f"/api/certificates/{name}", json={"fallback_accounts": "not a list"})
    assert r.status_code == 422 and r.json()["field"] == "fallback_accounts"
    assert call("GET", f"/api/certificates/{name}").json()["fallback_accounts"] == [fallback]
    r = call("PATCH", f"/api/certificates/{name}", json={"fallback_accounts": []})
    assert r.status_code == 200 and r.json()["fallback_accounts"] == []
    session.close()
