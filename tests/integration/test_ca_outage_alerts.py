"""Issue 13's "done when", as a user who only set an SMTP server: the CA stops while the service's worker runs.
One failure alert after the 2nd failure (none per retry), `status` shows the certificate in warning meanwhile,
and one recovery message when the CA is back. The CA is Pebble behind a proxy that goes down and comes back on
the same port (a restarted Pebble would forget the account)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from integration.helpers import CLI, open_core, standalone, unique
from servers.notify_receivers import smtp_server
from servers.pebble import PebbleServer
from servers.rate_limit_proxy import RateLimitProxy

from certify_tui.lifecycle import Core
from certify_tui.model import RenewalPolicy
from certify_tui.renewal.worker import RenewalWorker
from certify_tui.store.models import ManagedCertificate


@pytest.fixture
def ca(pebble: PebbleServer) -> Iterator[RateLimitProxy]:
    proxy = RateLimitProxy(pebble).start()
    yield proxy
    proxy.stop()


def _cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CLI), "--data-dir", str(data_dir), *args], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


def _retry_now(name: str) -> None:
    """The retry backoff is over (what waiting would do)."""
    ManagedCertificate.update(next_attempt=datetime.now(UTC) - timedelta(seconds=1)).where(
        ManagedCertificate.name == name).execute()


def test_a_ca_outage_sends_one_alert_and_one_recovery(data_dir: Path, pebble: PebbleServer,
                                                      ca: RateLimitProxy) -> None:
    name = unique("outage")
    with smtp_server() as box:
        configured = _cli(data_dir, "settings", "notify", "email", "--smtp-host", "127.0.0.1", "--smtp-port",
                          str(box.port), "--plain", "--to", "ops@example.com")
        assert configured.returncode == 0, configured.stderr
        core: Core
        for core in open_core(data_dir):
            core.add_account(email="ops@example.com", ca=ca.directory_url, ca_bundle=pebble.https_ca_bundle,
                             agree_tos=True, allow_internal_names=True)
            rule = standalone(pebble)
            core.add_certificate(name=name, domains=[f"{name}.example.test"], challenge=rule["challenge"],
                                 provider=rule["provider"], options=rule["options"])
            core.request(name)
            cert = core.get_certificate(name)
            cert.renewal = RenewalPolicy("days_before", 10_000)  # due now: the worker renews at its next check
            cert.save()
            _retry_now(name)
            worker = RenewalWorker(core, where="service", maintenance=False)  # checks, as its scheduler calls

            ca.go_down()
            alerts_after: list[int] = []
            for _ in range(3):
                outcomes = worker.check_now()
                assert [(o.name, o.action) for o in outcomes] == [(name, "failed")], outcomes
                alerts_after.append(sum("FAILED" in str(m["Subject"]) for m in box.messages))
                _retry_now(name)
            assert alerts_after == [0, 1, 1]  # after the 2nd failure, once
            (alert,) = [m for m in box.messages if "FAILED" in str(m["Subject"])]
            part = alert.get_body(preferencelist=("plain",))
            assert part is not None
            body = str(part.get_content())
            assert "Cannot reach the CA" in body and f"certify-tui cert log {name}" in body

            status = _cli(data_dir, "status")  # exit 1: no service answers here (the worker runs in this test)
            assert f"{name}: failing: failed 3 times in a row" in status.stdout

            ca.come_back()
            assert [(o.name, o.action) for o in worker.check_now()] == [(name, "renewed")]
            assert sum("recovered" in str(m["Subject"]) for m in box.messages) == 1
            worker.check_now()  # nothing due now: nothing more to say
            assert sum("FAILED" in str(m["Subject"]) for m in box.messages) == 1
            assert sum("recovered" in str(m["Subject"]) for m in box.messages) == 1
