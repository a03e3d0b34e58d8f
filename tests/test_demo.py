"""`make demo`'s setup against a real Pebble: an account, the example certificate, and a request that works."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from servers.pebble import PebbleServer

from certify_tui.lifecycle import Core

pytestmark = pytest.mark.pebble

DEMO_PATH = Path(__file__).resolve().parents[1] / "scripts" / "demo.py"


def load_demo():  # noqa: ANN201
    spec = importlib.util.spec_from_file_location("certify_demo", DEMO_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


def test_demo_setup_then_request(pebble: PebbleServer, data_dir: Path) -> None:
    demo = load_demo()
    core = Core.open(str(data_dir))
    try:
        setup = demo.setup_demo(core, pebble)
        assert setup.http_port == pebble.http_port
        [account] = core.list_accounts()
        assert account.directory_url == pebble.directory_url and account.allow_internal_names
        view = core.certificate_view(core.get_certificate("demo"))
        assert view["identifiers"] == ["www.demo.test", "api.demo.test"]
        assert view["challenge_rules"][0]["options"] == {"address": "127.0.0.1", "port": pebble.http_port}
        assert [c.name for c in core.list_certificates()] == ["demo"]  # nothing else pre-created
        line = setup.explanation(str(data_dir))
        assert "\n" not in line and str(pebble.http_port) in line and "'demo'" in line

        result = core.request("demo")

        assert core.certificate_view(core.get_certificate("demo"))["status"] == "valid"
        assert Path(result.version.files["fullchain"]).is_file()
        # Running the setup again on the same folder (--data-dir) reuses the account and keeps one 'demo'.
        demo.setup_demo(core, pebble)
        assert len(core.list_accounts()) == 1 and len(core.list_certificates()) == 1
    finally:
        core.close()
