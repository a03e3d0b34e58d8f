"""Rate limits respected, against a real Pebble behind a small ACME proxy that answers newOrder with a rateLimited
problem and Retry-After: no new order before that time, shown as "rate limited until", not as a failure."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from integration.helpers import add_standalone_cert, start_cli, unique
from servers.pebble import PebbleServer
from servers.rate_limit_proxy import RateLimitProxy

from certify_tui.errors import CAError
from certify_tui.lifecycle import Core
from certify_tui.lifecycle.certificates import get_certificate

pytestmark = pytest.mark.pebble

RETRY_AFTER = 4  # seconds: long enough to see the worker wait, short enough for a test


@pytest.fixture
def proxy(pebble: PebbleServer) -> Iterator[RateLimitProxy]:
    server = RateLimitProxy(pebble).start()
    yield server
    server.stop()


def test_rate_limit_no_new_order_before_retry_after(core: Core, pebble: PebbleServer, proxy: RateLimitProxy,
                                                    data_dir: Path) -> None:
    account = core.add_account(email=f"{unique('rl')}@example.com", ca=proxy.directory_url,
                               ca_bundle=pebble.https_ca_bundle, agree_tos=True, allow_internal_names=True)
    name = unique("rl")
    add_standalone_cert(core, pebble, name, [f"{name}.example.test"], account=account.email)
    proxy.limit(RETRY_AFTER)

    with pytest.raises(CAError, match="rate limit was reached") as caught:
        core.request(name)
    assert caught.value.problem_type == "rateLimited"
    refused_at = proxy.refused[0]
    cert = get_certificate(name)
    assert cert.failure_count == 0 and cert.ca_failure_count == 0  # a wait the CA set, not a failure
    assert cert.rate_limited_until is not None
    assert abs(cert.rate_limited_until.timestamp() - (refused_at + RETRY_AFTER)) < 1.5
    assert cert.renew_reason is not None and cert.renew_reason.startswith("rate limited until")
    view = core.certificate_view(cert)
    assert view["rate_limited_until"] == cert.rate_limited_until.isoformat() and view["failure_count"] == 0
    proxy.lift()

    # Asked again at once (a person, `cert request`): refused here, the CA is not asked.
    with pytest.raises(CAError, match="not asking it again before then"):
        core.request(name)
    # `certify-tui renew` from cron, at once: nothing due, the certificate listed as rate limited, no order.
    cron = start_cli(data_dir, "renew")
    out, err = cron.communicate(timeout=60)
    assert f"rate limited until {cert.rate_limited_until:%Y-%m-%d %H:%M:%S} UTC" in out + err, out + err
    assert len(proxy.new_orders) == 1

    # The worker keeps looking; its first order comes only once Retry-After has passed, and succeeds.
    deadline = time.time() + RETRY_AFTER + 20
    renewed = []
    while time.time() < deadline and not renewed:
        renewed = [o for o in core.renew() if o.action == "renewed"]
        time.sleep(0.2)
    assert renewed, "never renewed after the rate limit ended"
    assert len(proxy.new_orders) == 2
    assert proxy.new_orders[1] >= refused_at + RETRY_AFTER - 0.01
    cert = get_certificate(name)
    assert cert.status == "valid" and cert.rate_limited_until is None
    assert cert.not_after is not None and cert.not_after > datetime.now(UTC) + timedelta(days=1)


def test_rate_limit_of_the_account_holds_for_its_other_certificates(core: Core, pebble: PebbleServer,
                                                                    proxy: RateLimitProxy) -> None:
    account = core.add_account(email=f"{unique('rla')}@example.com", ca=proxy.directory_url,
                               ca_bundle=pebble.https_ca_bundle, agree_tos=True, allow_internal_names=True)
    first, second = unique("rla"), unique("rlb")
    for name in (first, second):
        add_standalone_cert(core, pebble, name, [f"{name}.example.test"], account=account.email)
    proxy.limit(600, detail="too many new orders (300) from this account recently")
    with pytest.raises(CAError, match="rate limit was reached"):
        core.request(first)
    proxy.lift()
    # The other certificate of the same account is not ordered either: the CA is not asked before its time.
    with pytest.raises(CAError, match="not asking it again before then"):
        core.request(second)
    assert len(proxy.new_orders) == 1
    cert = get_certificate(second)
    assert cert.failure_count == 0 and cert.rate_limited_until is not None
    assert cert.rate_limited_until > datetime.now(UTC) + timedelta(seconds=500)
