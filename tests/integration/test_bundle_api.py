"""The bundle through the API (parity with the CLI and the TUI's palette): export to a new file, plan and apply
an import; the token is required, a file is never replaced, bad values name their field, a wrong passphrase
changes nothing."""

from __future__ import annotations

from pathlib import Path

import requests
from integration.helpers import add_account, add_standalone_cert, unique
from servers.pebble import PebbleServer

from certify_tui.lifecycle import Core
from certify_tui.service.api import ApiServer
from certify_tui.service.discovery import read_token

PASSPHRASE = "correct horse battery staple"


def test_bundle_export_and_import_through_the_api(core: Core, api: ApiServer, data_dir: Path, tmp_path: Path,
                                                  pebble: PebbleServer) -> None:
    add_account(core, pebble)
    name = unique("bapi")
    add_standalone_cert(core, pebble, name, [f"{name}.example.test"])
    core.request(name)
    session = requests.Session()
    session.trust_env = False
    auth = {"Authorization": f"Bearer {read_token(data_dir)}"}
    export_url, import_url = f"{api.url}/api/bundle/export", f"{api.url}/api/bundle/import"
    target = tmp_path / "move.bundle"

    assert session.post(export_url, json={"path": str(target), "passphrase": PASSPHRASE},
                        timeout=60).status_code == 401
    relative = session.post(export_url, headers=auth, json={"path": "move.bundle", "passphrase": PASSPHRASE},
                            timeout=60)
    assert relative.status_code == 422 and relative.json()["field"] == "path"
    done = session.post(export_url, headers=auth, json={"path": str(target), "passphrase": PASSPHRASE}, timeout=60)
    assert done.status_code == 200, done.text
    assert done.json()["certificates"] == 1 and target.stat().st_mode & 0o777 == 0o600
    exists = session.post(export_url, headers=auth, json={"path": str(target), "passphrase": PASSPHRASE},
                          timeout=60)
    assert exists.status_code == 422 and "exists" in exists.json()["error"]

    wrong = session.post(import_url, headers=auth, json={"path": str(target), "passphrase": "not the passphrase"},
                         timeout=60)
    assert wrong.status_code == 409 and "passphrase is wrong" in wrong.json()["error"]
    typo = session.post(import_url, headers=auth,
                        json={"path": str(target), "passphrase": PASSPHRASE, "dryrun": True}, timeout=60)
    assert typo.status_code == 422 and typo.json()["field"] == "dryrun"
    plan = session.post(import_url, headers=auth,
                        json={"path": str(target), "passphrase": PASSPHRASE, "dry_run": True}, timeout=60)
    assert plan.status_code == 200, plan.text
    body = plan.json()
    assert body["dry_run"] is True and body["imported"] is None
    assert body["counts"]["unchanged"] >= 2 and body["counts"]["conflict"] == 0  # the same installation
    assert PASSPHRASE not in plan.text
    session.close()
