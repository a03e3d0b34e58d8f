"""Shared fixtures. The Pebble fixtures start a real ACME CA (see tests/servers/pebble.py).

tests/ has no __init__.py, so pytest (rootdir conftest, prepend import mode) puts tests/ on
sys.path and the harness imports as `servers.pebble`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from integration.helpers import open_core
from servers.common import free_port
from servers.nginx import NginxNotFound, NginxServer
from servers.pebble import PebbleNotFound, PebbleServer

from certify_tui.lifecycle import Core
from certify_tui.service.api import ApiServer


def _start_pebble(**kwargs: bool) -> PebbleServer:
    try:
        server = PebbleServer(**kwargs)
    except PebbleNotFound as exc:
        # In CI a missing CA must fail loudly instead of silently skipping every real test.
        if os.environ.get("CI") == "true":
            pytest.fail(f"{exc}; CI must provide Pebble", pytrace=False)
        pytest.skip(f"{exc}. Run `make test-servers` to fetch Pebble into .cache/pebble/")
    return server.start()


@pytest.fixture(scope="session")
def pebble() -> Iterator[PebbleServer]:
    """A running Pebble CA (EAB optional) with challtestsrv as its DNS."""
    server = _start_pebble()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pebble_eab() -> Iterator[PebbleServer]:
    """A running Pebble CA that requires External Account Binding (keys in `.eab_keys`)."""
    server = _start_pebble(eab_required=True)
    yield server
    server.stop()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A not-yet-created data folder, so code under test must create it itself."""
    return tmp_path / "data"


@pytest.fixture
def core(data_dir: Path) -> Iterator[Core]:
    """The core on this test's data folder, closed afterwards (a test file may define its own)."""
    yield from open_core(data_dir)


@pytest.fixture
def api(core: Core) -> Iterator[ApiServer]:
    """The local API over `core`, on a free loopback port."""
    server = ApiServer(core, port=free_port()).start()
    yield server
    server.stop()


@pytest.fixture
def nginx() -> Iterator[NginxServer]:
    """A real nginx on free ports in a temporary prefix (missing nginx fails in CI, skips elsewhere)."""
    try:
        server = NginxServer()
    except NginxNotFound as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{exc}; CI must provide nginx", pytrace=False)
        pytest.skip(str(exc))
    server.start()
    yield server
    server.stop()
