"""Tags are a certificate setting in every face (headless parity): `cert add/set --tag`, `cert list --tag`,
`cert show`, and the API's POST/PATCH `tags` and `GET /api/certificates?tag=`; the TUI editor keeps them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
from integration.helpers import add_account, open_core, unique
from servers.api_client import start_service
from servers.common import free_port
from servers.pebble import PebbleServer

from certify_tui.lifecycle.certificates import CertificateSpec

pytestmark = pytest.mark.pebble

CLI = Path(sys.executable).with_name("certify-tui")


def cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CERTIFY_TUI_DATA_DIR"}
    proc = subprocess.run([str(CLI), "--data-dir", str(data_dir), *args], capture_output=True, text=True, env=env,
                          timeout=120, stdin=subprocess.DEVNULL)
    assert "Traceback" not in proc.stderr
    return proc


def tags_of(data_dir: Path, name: str) -> list[str]:
    proc = cli(data_dir, "cert", "show", name, "--json")
    assert proc.returncode == 0, proc.stderr
    tags: list[str] = json.loads(proc.stdout)["tags"]
    return tags


def listed(data_dir: Path, *tags: str) -> list[str]:
    proc = cli(data_dir, "cert", "list", "--json", *(a for t in tags for a in ("--tag", t)))
    assert proc.returncode == 0, proc.stderr
    return [v["name"] for v in json.loads(proc.stdout)]


def test_tags_from_the_command_line(data_dir: Path, pebble: PebbleServer) -> None:
    for core in open_core(data_dir):
        add_account(core, pebble)
    added = cli(data_dir, "cert", "add", "web", "-d", "web.example.test", "--tag", "prod", "--tag", "eu", "--json")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["tags"] == ["eu", "prod"]
    assert cli(data_dir, "cert", "add", "mail", "-d", "mail.example.test", "--tag", "prod").returncode == 0
    assert cli(data_dir, "cert", "add", "plain", "-d", "plain.example.test").returncode == 0
    assert tags_of(data_dir, "plain") == []

    assert listed(data_dir, "prod") == ["mail", "web"]
    assert listed(data_dir, "PROD", "eu") == ["web"]
    assert listed(data_dir) == ["mail", "plain", "web"]
    assert "No certificate has the tag nothing." in cli(data_dir, "cert", "list", "--tag", "nothing").stdout
    assert "Tags:        eu, prod" in cli(data_dir, "cert", "show", "web").stdout

    assert cli(data_dir, "cert", "set", "web", "--add-tag", "blue", "--remove-tag", "eu").returncode == 0
    assert tags_of(data_dir, "web") == ["blue", "prod"]
    assert cli(data_dir, "cert", "set", "web", "--tag", "x", "--tag", "y").returncode == 0
    assert tags_of(data_dir, "web") == ["x", "y"]
    assert cli(data_dir, "cert", "set", "web", "--no-tags").returncode == 0
    assert tags_of(data_dir, "web") == []
    # Another setting leaves the tags alone.
    assert cli(data_dir, "cert", "set", "mail", "--renew-percent", "60").returncode == 0
    assert tags_of(data_dir, "mail") == ["prod"]

    bad = cli(data_dir, "cert", "set", "mail", "--tag", "two words", "--json")
    assert bad.returncode == 2 and json.loads(bad.stdout)["field"] == "tags"
    bad = cli(data_dir, "cert", "set", "mail", "--remove-tag", "nope")
    assert bad.returncode == 2 and "'nope' is not one of this certificate's tags (prod)" in bad.stderr
    assert tags_of(data_dir, "mail") == ["prod"]


def test_tags_kept_when_a_face_saves_without_them(data_dir: Path, pebble: PebbleServer) -> None:
    for core in open_core(data_dir):
        add_account(core, pebble)
        core.add_certificate(CertificateSpec(name="web", domains=["web.example.test"], tags=["prod"]))
        # The TUI editor builds its spec from its fields, which have no tags: None keeps the stored ones.
        spec = CertificateSpec(name="web", domains=["web.example.test", "www.example.test"])
        assert core.update_certificate("web", spec).tags == ["prod"]
        assert core.certificate_spec("web").tags == ["prod"]


def test_tags_over_the_api(data_dir: Path, pebble: PebbleServer) -> None:
    for core in open_core(data_dir):
        add_account(core, pebble)
    service = start_service(data_dir, free_port())
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {service.token}"
    session.trust_env = False

    def call(method: str, path: str, **kwargs: Any) -> requests.Response:
        return session.request(method, f"http://127.0.0.1:{service.port}{path}", timeout=60, **kwargs)

    try:
        name = unique("tagged")
        r = call("POST", "/api/certificates", json={"name": name, "domains": [f"{name}.example.test"],
                                                    "tags": ["prod", "eu"]})
        assert r.status_code == 201, r.text
        assert r.json()["tags"] == ["eu", "prod"]
        r = call("POST", "/api/certificates", json={"name": "x", "domains": ["x.example.test"], "add_tags": ["a"]})
        assert r.status_code == 422 and r.json()["field"] == "tags"
        assert call("POST", "/api/certificates", json={"name": "other", "domains": ["o.example.test"]}).ok

        r = call("PATCH", f"/api/certificates/{name}", json={"add_tags": ["blue"], "remove_tags": ["eu"]})
        assert r.status_code == 200, r.text
        assert r.json()["tags"] == ["blue", "prod"]
        r = call("PATCH", f"/api/certificates/{name}", json={"tags": "prod"})
        assert r.status_code == 422 and r.json()["field"] == "tags"
        r = call("PATCH", f"/api/certificates/{name}", json={"tags": ["bad tag"]})
        assert r.status_code == 422 and r.json()["field"] == "tags"

        assert [v["name"] for v in call("GET", "/api/certificates?tag=blue&tag=PROD").json()] == [name]
        assert len(call("GET", "/api/certificates").json()) == 2
        assert call("PATCH", f"/api/certificates/{name}", json={"tags": []}).json()["tags"] == []
        schema = call("GET", "/api/openapi.json").json()
        patch = schema["paths"]["/api/certificates/{name}"]["patch"]
        assert "tags" in json.dumps(patch)
    finally:
        session.close()
        assert service.stop() == 0
