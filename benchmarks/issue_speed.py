"""Seconds per certificate against a local Pebble (PEBBLE_VA_NOSLEEP=1), serial, single name.

Compares certify-tui's request path (the whole use case: order, http-01, our polling, store,
database) with a baseline run in the same process: the `acme` library's own
`poll_and_finalize` flow on the same CA and listener. Prints both and their ratio.

    .venv/bin/python benchmarks/issue_speed.py [N]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from acme import client as acme_client  # noqa: E402
from acme import messages  # noqa: E402
from servers.pebble import PebbleServer  # noqa: E402

from certify_tui.ca.network import jwk_and_alg  # noqa: E402
from certify_tui.challenges import http_listener  # noqa: E402
from certify_tui.keys import generate_key, make_csr  # noqa: E402
from certify_tui.lifecycle import Core  # noqa: E402


def certify_tui_run(pebble: PebbleServer, n: int, data: str) -> list[float]:
    core = Core.open(data)
    core.add_account(email="bench@example.org", ca=pebble.directory_url, ca_bundle=pebble.https_ca_bundle,
                     agree_tos=True, allow_internal_names=True)
    times = []
    for i in range(n):
        core.add_certificate(name=f"c{i}", domains=[f"c{i}.bench.test"],
                             options={"address": "127.0.0.1", "port": pebble.http_port})
        start = time.perf_counter()
        core.request(f"c{i}")
        times.append(time.perf_counter() - start)
    core.close()
    return times


def library_run(pebble: PebbleServer, n: int) -> list[float]:
    """The acme library's documented flow: new_order, answer, poll_and_finalize."""
    key = generate_key("ec256")
    jwk, alg = jwk_and_alg(key)
    net = acme_client.ClientNetwork(jwk, alg=alg, verify_ssl=pebble.https_ca_bundle)
    directory = acme_client.ClientV2.get_directory(pebble.directory_url, net)
    client = acme_client.ClientV2(directory, net)
    client.new_account(messages.NewRegistration.from_data(email="lib@example.org", terms_of_service_agreed=True))
    times = []
    for i in range(n):
        start = time.perf_counter()
        cert_key = generate_key("ec256")
        order = client.new_order(make_csr(cert_key, [f"l{i}.bench.test"]))
        tokens, answers = {}, []
        for authz in order.authorizations:
            challb = next(c for c in authz.body.challenges if c.chall.typ == "http-01")
            response, validation = challb.response_and_validation(jwk)
            tokens[challb.chall.encode("token")] = validation
            answers.append((challb, response))
        http_listener.publish("127.0.0.1", pebble.http_port, tokens)
        try:
            for challb, response in answers:
                client.answer_challenge(challb, response)
            client.poll_and_finalize(order)
        finally:
            http_listener.withdraw("127.0.0.1", pebble.http_port, list(tokens))
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    # No nonce rejection: the stock library retries a bad nonce only once and would fail runs at random.
    with PebbleServer(env={"PEBBLE_WFE_NONCEREJECT": "0"}) as pebble, tempfile.TemporaryDirectory() as tmp:
        ours = certify_tui_run(pebble, n, tmp)
        base = library_run(pebble, n)
    m_ours, m_base = statistics.median(ours), statistics.median(base)
    print(f"single-name certificates, serial, N={n}, Pebble with PEBBLE_VA_NOSLEEP=1, no nonce rejection")
    print(f"certify-tui request:            median {m_ours:.3f} s/cert, mean {statistics.mean(ours):.3f}")
    print(f"acme poll_and_finalize baseline: median {m_base:.3f} s/cert, mean {statistics.mean(base):.3f}")
    print(f"ratio certify-tui / baseline:   {m_ours / m_base:.2f} (lower is faster)")


if __name__ == "__main__":
    main()
