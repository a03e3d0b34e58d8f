"""CA failover with two real CAs (two Pebble instances on their own ports): the first stopped, the renewal moves to
the second after 3 CA-side failures; a validation failure never moves it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from integration.helpers import (
    PebbleLog,
    add_account,
    add_standalone_cert,
    standalone,
    start_cli,
    unique,
)
from servers.common import free_port
from servers.pebble import PebbleServer

from certify_tui.lifecycle import Core
from certify_tui.lifecycle.certificates import get_certificate
from certify_tui.store.models import CertificateVersion

pytestmark = pytest.mark.pebble


@pytest.fixture
def first_ca() -> Iterator[PebbleServer]:
    """A CA of its own, so this test may stop it."""
    server = PebbleServer().start()
    yield server
    server.stop()


def test_failover_to_the_second_ca_after_three_ca_side_failures(core: Core, first_ca: PebbleServer,
                                                                pebble: PebbleServer, data_dir: Path) -> None:
    primary = add_account(core, first_ca)
    fallback = add_account(core, pebble)
    name = unique("fo")
    add_standalone_cert(core, first_ca, name, [f"{name}.example.test"], account=primary.email,
                        fallback_accounts=[fallback.email])
    first = core.request(name)
    assert first.plan is not None and first.plan.directory_url == first_ca.directory_url
    first_ca.go_down()
    # Both CAs would validate on port 80 in real life; each Pebble here has its own port, so the listener follows.
    rule = standalone(pebble)
    core.set_challenge_rule(name, "*", rule["challenge"], rule["provider"], rule["options"])
    second_log = PebbleLog(pebble)

    outcomes = [core.renew([name], force=True)[0] for _ in range(3)]
    assert [o.action for o in outcomes] == ["failed"] * 3
    assert all("Cannot reach the CA" in o.message for o in outcomes), [o.message for o in outcomes]
    assert second_log.orders() == 0  # nothing went to the second CA while the count was below 3
    cert = get_certificate(name)
    assert cert.ca_failure_count == 3
    plan = core.preview(name)
    assert plan.directory_url == pebble.directory_url and plan.account == fallback.email
    assert any(f"failing over to {fallback.email}" in w for w in plan.warnings)

    # The worker's own run (no names, no force) picks it up at once: the failover attempt is due now.
    renewed = core.renew()
    assert [(o.name, o.action) for o in renewed] == [(name, "renewed")], renewed
    assert second_log.issued() == 1
    # The second CA never issued the certificate being replaced: no ARI `replaces` sent to it.
    after_failover = core.data.certificate_log(name).read_text().split("failing over to")[-1]
    assert "order created" in after_failover and "replacing the current certificate" not in after_failover
    cert = get_certificate(name)
    assert (cert.status, cert.failure_count, cert.ca_failure_count) == ("valid", 0, 0)
    versions = list(CertificateVersion.select().where(CertificateVersion.certificate == cert)
                    .order_by(CertificateVersion.version))
    assert [v.account_id for v in versions] == [primary.id, fallback.id]
    view = core.certificate_view(cert)
    assert view["issued_by"] == {"account": fallback.email, "ca": fallback.ca_name or pebble.directory_url}
    shown = start_cli(data_dir, "cert", "show", name)
    out, err = shown.communicate(timeout=60)
    assert shown.returncode == 0, err
    assert any(line.startswith("Issued by") and fallback.email in line for line in out.splitlines()), out
    # The next normal renewal goes back to the primary (its CA may be back by then); ARI and `replaces` would
    # follow the issuer, which is the second CA now.
    assert core.preview(name).directory_url == first_ca.directory_url


def test_failover_never_after_validation_failures(core: Core, first_ca: PebbleServer, pebble: PebbleServer) -> None:
    primary = add_account(core, first_ca)
    fallback = add_account(core, pebble)
    name = unique("fv")
    add_standalone_cert(core, first_ca, name, [f"{name}.example.test"], account=primary.email,
                        fallback_accounts=[fallback.email])
    # The listener answers on a port the CA never asks: every validation fails, the CA itself is fine.
    core.set_challenge_rule(name, "*", "http-01", "standalone", {"address": "127.0.0.1", "port": free_port()})
    second_log = PebbleLog(pebble)
    outcomes = [core.renew([name], force=True)[0] for _ in range(4)]
    assert [o.action for o in outcomes] == ["failed"] * 4
    assert all("Validation failed" in o.message or "could not" in o.message for o in outcomes), outcomes
    cert = get_certificate(name)
    assert (cert.failure_count, cert.ca_failure_count) == (4, 0)
    assert core.preview(name).directory_url == first_ca.directory_url
    assert second_log.orders() == 0
