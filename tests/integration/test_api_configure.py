"""Configuring certificates over the API of a real `certify-tui service` process (issue 11): create, change,
tasks, deploy, test and delete, with the CLI's validation (422 naming the field), no body read without the
token, and the OpenAPI document listing exactly the routes the service answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.serialization import pkcs12
from integration.helpers import add_account, open_core, unique
from servers.api_client import Service, exchange, request_bytes, start_service
from servers.common import free_port
from servers.pebble import PebbleServer

from certify_tui.service.api_app import url_map
from certify_tui.service.api_routes import ROUTES
from certify_tui.service.openapi import openapi_path

pytestmark = pytest.mark.pebble


@pytest.fixture
def service(data_dir: Path, pebble: PebbleServer) -> Iterator[Service]:
    for core in open_core(data_dir):
        add_account(core, pebble)
    svc = start_service(data_dir, free_port())
    yield svc
    assert svc.stop() == 0
    assert "Traceback" not in svc.log.read_text()


@pytest.fixture
def call(service: Service) -> Iterator[Any]:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {service.token}"
    session.trust_env = False  # loopback only, never through a proxy

    def call(method: str, path: str, **kwargs: Any) -> requests.Response:
        return session.request(method, f"http://127.0.0.1:{service.port}{path}", timeout=120, **kwargs)

    yield call
    session.close()


def _invalid(r: requests.Response, field: str) -> str:
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["field"] == field, body
    assert "Traceback" not in body["error"] and "\n" not in body["error"]
    return str(body["error"])


def test_create_change_tasks_deploy_test_delete(call: Any, pebble: PebbleServer, tmp_path: Path) -> None:
    name = unique("apicfg")
    domain = f"{name}.example.test"
    standalone = {"address": "127.0.0.1", "port": pebble.http_port}
    r = call("POST", "/api/certificates", json={"name": name, "domains": [domain], "challenge": "http-01",
                                                "provider": "standalone", "options": standalone,
                                                "key_type": "ec384", "renewal": {"days_before": 30}})
    assert r.status_code == 201, r.text
    assert r.headers["Location"] == f"/api/certificates/{name}"
    view = r.json()
    assert (view["name"], view["identifiers"], view["key_type"]) == (name, [domain], "ec384")
    assert view["renewal"] == {"days_before": 30} and view["status"] == "new"
    assert view["challenge_rules"][0]["provider"] == "standalone"
    _invalid(call("POST", "/api/certificates", json={"name": name.upper(), "domains": [domain]}), "name")

    # PATCH: only what is given changes; a bad value changes nothing.
    r = call("PATCH", f"/api/certificates/{name}", json={"add_domains": [f"www.{domain}"], "auto_renew": False,
                                                          "renewal": {"percent": 60}})
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["identifiers"] == [domain, f"www.{domain}"]
    assert (view["auto_renew"], view["renewal"], view["key_type"]) == (False, {"percent": 60}, "ec384")
    assert "between 1 and 99" in _invalid(call("PATCH", f"/api/certificates/{name}",
                                               json={"renewal": {"percent": 150}}), "renewal")
    _invalid(call("PATCH", f"/api/certificates/{name}", json={"key_type": "rsa1"}), "key_type")
    _invalid(call("PATCH", f"/api/certificates/{name}", json={"auto_renew": "yes"}), "auto_renew")
    _invalid(call("PATCH", f"/api/certificates/{name}", json={"deployment_mode": "single"}), "deployment_site")
    _invalid(call("PATCH", f"/api/certificates/{name}", json={"nope": 1}), "nope")
    _invalid(call("PATCH", f"/api/certificates/{name}", json={"rules": [{"challenge": "dns-01",
                                                                         "provider": "nowhere"}]}), "rules[0]")
    for raw, wanted in ((b'{"auto_renew": tru', "not valid JSON"), (b"[1, 2]", "JSON object"),
                        (b'{"renewal": {"days_before": NaN}}', "not valid JSON"), (b"\xff\xfe", "UTF-8"),
                        (b'{"renewal": {"days_before": 1e999}}', "too large"), (b"null", "JSON object")):
        r = call("PATCH", f"/api/certificates/{name}", data=raw, headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and wanted in r.json()["error"], (raw, r.text)
    assert call("PATCH", f"/api/certificates/{name}", json={}).status_code == 400  # nothing to change
    assert call("PATCH", "/api/certificates/nothing-here", json={"auto_renew": True}).status_code == 404
    assert call("GET", f"/api/certificates/{name}").json() == view

    # Tasks, numbered from 1; secrets masked in every answer.
    out = tmp_path / "export"
    out.mkdir()
    r = call("POST", f"/api/certificates/{name}/tasks",
             json={"type": "export", "title": "PFX for IIS",
                   "options": {"path": str(out), "formats": "pkcs12", "pkcs12_password": "s3cret"}})
    assert r.status_code == 201, r.text
    assert r.json()["number"] == 1 and r.json()["options"]["pkcs12_password"] == "********"
    r = call("POST", f"/api/certificates/{name}/tasks",
             json={"type": "command", "options": {"command": f"touch {tmp_path / 'ran'}"}, "trigger": "manual"})
    assert r.status_code == 201 and r.json()["number"] == 2, r.text
    _invalid(call("POST", f"/api/certificates/{name}/tasks", json={"type": "export"}), "tasks[2]")
    _invalid(call("POST", f"/api/certificates/{name}/tasks", json={"type": "command", "retries": 99,
                                                                    "options": {"command": "true"}}), "tasks[2]")
    tasks = call("GET", f"/api/certificates/{name}/tasks").json()
    assert [(t["number"], t["type"], t["title"], t["trigger"]) for t in tasks] == [
        (1, "export", "PFX for IIS", "success"), (2, "command", "Run a command", "manual")]
    assert "s3cret" not in call("GET", f"/api/certificates/{name}").text
    assert "request it first" in call("POST", f"/api/certificates/{name}/deploy").json()["error"]
    _invalid(call("DELETE", f"/api/certificates/{name}/tasks/7"), "tasks")

    r = call("POST", f"/api/certificates/{name}/renew")
    assert r.status_code == 200, r.text
    assert pkcs12.load_pkcs12((out / f"{name}.pfx").read_bytes(), b"s3cret").cert is not None
    (out / f"{name}.pfx").unlink()
    r = call("POST", f"/api/certificates/{name}/deploy")
    assert r.status_code == 200, r.text
    assert (r.json()["ok"], r.json()["error"]) == (True, None)
    assert (out / f"{name}.pfx").exists()
    r = call("POST", f"/api/certificates/{name}/tasks/2/run")
    assert r.status_code == 200 and r.json()["ok"] is True, r.text
    assert (tmp_path / "ran").exists()
    remaining = call("DELETE", f"/api/certificates/{name}/tasks/1")
    assert remaining.status_code == 200
    assert [(t["number"], t["type"]) for t in remaining.json()] == [(1, "command")]

    r = call("POST", f"/api/certificates/{name}/test")
    assert r.status_code == 200, r.text
    checks = r.json()["checks"]
    assert checks and all({"name", "ok", "message"} <= set(c) for c in checks)

    providers = call("GET", "/api/providers").json()
    assert "standalone" in [p["id"] for p in providers["challenges"]["http-01"]]
    export = next(t for t in providers["tasks"] if t["id"] == "export")
    assert next(p for p in export["params"] if p["key"] == "pkcs12_password")["secret"] is True
    assert isinstance(call("GET", "/api/sites").json(), list)

    files = Path(call("GET", f"/api/certificates/{name}").json()["files"]["cert"])
    assert call("DELETE", f"/api/certificates/{name}?keep_files=maybe").status_code == 400
    r = call("DELETE", f"/api/certificates/{name}?keep_files=true")
    assert r.status_code == 200 and r.json() == {"name": name, "removed": True, "files_kept": True}
    assert call("GET", f"/api/certificates/{name}").status_code == 404
    assert files.exists()


@pytest.mark.parametrize(("method", "path"), [("POST", "/api/certificates"), ("PATCH", "/api/certificates/x"),
                                              ("POST", "/api/certificates/x/tasks")])
def test_no_body_is_read_without_the_token(service: Service, method: str, path: str) -> None:
    # Only the head is sent, announcing 500 MB: the answer can only come if the server decided without the body.
    r = exchange(service.port, request_bytes(method, path, service.port,
                                             headers={"Content-Length": str(500_000_000)}), timeout=10)
    assert r.status == 401, r
    assert r.headers["connection"] == "close"
    r = exchange(service.port, request_bytes("GET", "/api/openapi.json", service.port))
    assert r.status == 401


def test_the_openapi_document_lists_every_route_served(service: Service, call: Any) -> None:
    document = call("GET", "/api/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    documented = {(path, method.upper()) for path, methods in document["paths"].items() for method in methods}
    served = {(openapi_path(rule.rule), method) for rule in url_map(ROUTES).iter_rules()
              for method in rule.methods or () if method not in ("HEAD", "OPTIONS")}
    assert documented == served
    # And the running service answers each one (a route it lacked would be 404 "No such endpoint" or 405).
    for path, method in sorted(documented):
        url = path.replace("{name}", "nothing-here").replace("{number}", "1")
        r = call(method, url, json={} if method in ("POST", "PATCH") else None)
        assert r.status_code not in (405, 500), (method, url, r.text)
        assert "No such endpoint" not in r.text, (method, url)
    assert document["paths"]["/healthz"]["get"]["security"] == []
    assert "401" in document["paths"]["/api/certificates"]["post"]["responses"]
