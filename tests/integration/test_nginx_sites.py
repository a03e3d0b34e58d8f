"""Sites of a real nginx (tests/servers/nginx.py): found from the running master, kept across edits of
the file, and given HTTPS by the add-or-update binding. Certificates come from Pebble."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from integration.helpers import open_core
from servers.nginx import NginxNotFound, NginxServer

from certify_tui.deploy.sites import discover_sites
from certify_tui.lifecycle import Core

HOST = "a.example.test"
OTHER = "other.example.test"


@pytest.fixture
def nginx() -> Iterator[NginxServer]:
    try:
        server = NginxServer()
    except NginxNotFound as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{exc}; CI must provide nginx", pytrace=False)
        pytest.skip(str(exc))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def core(data_dir: Path) -> Iterator[Core]:
    yield from open_core(data_dir)


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")
def test_running_master_config_is_discovered_without_settings(nginx: NginxServer) -> None:
    """The test nginx runs with `-p PREFIX -c FILE`: no setting names the file, `nginx -V` does not know it."""
    found = [s for s in discover_sites(None, "off", nginx_binary=nginx.binary) if s.main_config == str(nginx.conf)]
    assert sorted(s.hostnames for s in found) == [(HOST,), (OTHER,)]
