#!/usr/bin/env python3
"""Try certify-tui without a domain or a public CA: a local Pebble test CA, a sandbox account, the TUI.

    make demo                      # or: .venv/bin/python scripts/demo.py [--data-dir DIR]

Pebble (fetched by `make test-servers`) runs on 127.0.0.1 with its own DNS, which answers
127.0.0.1 for every name, so any `*.test` name validates through the built-in http-01 listener
as long as that listener uses Pebble's http port. The demo registers an account and adds one
example certificate, 'demo', set up that way; press r on it to watch a real order. New
certificates need the same rule: http-01, standalone, address 127.0.0.1, port <Pebble's http port>.

Pebble keeps nothing between runs: each run registers a fresh account, and with --data-dir the
existing 'demo' certificate is pointed at it.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the Pebble harness lives with the tests

from servers.pebble import PebbleNotFound, PebbleServer  # noqa: E402

from certify_tui.errors import CertifyError  # noqa: E402
from certify_tui.lifecycle import Core  # noqa: E402
from certify_tui.lifecycle.certificates import CertificateSpec  # noqa: E402
from certify_tui.model import ChallengeRule  # noqa: E402

DEMO_EMAIL = "demo@example.com"
DEMO_CERTIFICATE = "demo"
DEMO_DOMAINS = ["www.demo.test", "api.demo.test"]


@dataclass(frozen=True)
class DemoSetup:
    account_email: str
    certificate: str
    http_port: int
    directory_url: str

    def explanation(self, data_dir: str) -> str:
        return (f"certify-tui demo: Pebble test CA at {self.directory_url}, data in {data_dir}. Press r on "
                f"'{self.certificate}' to request it, or n for a new certificate for any *.test names: it "
                f"starts with http-01 on 127.0.0.1 port {self.http_port}, where this CA validates.")


def standalone_rule(pebble: Any) -> ChallengeRule:
    """The validation rule that works with this Pebble: its validator connects to its http port."""
    return ChallengeRule(pattern="*", challenge="http-01", provider="standalone",
                         options={"address": "127.0.0.1", "port": pebble.http_port})


def setup_demo(core: Core, pebble: Any) -> DemoSetup:
    """Register a sandbox account at `pebble` and add (or re-point) the example certificate."""
    existing = [a for a in core.list_accounts() if a.directory_url == pebble.directory_url]
    account = existing[0] if existing else core.add_account(
        email=DEMO_EMAIL, ca=pebble.directory_url, ca_bundle=pebble.https_ca_bundle, agree_tos=True,
        allow_internal_names=True)
    rule = standalone_rule(pebble)
    # New certificates made in the demo start with the rule that works against this Pebble.
    core.set_default_rule(rule.challenge, rule.provider, rule.options)
    spec = CertificateSpec(name=DEMO_CERTIFICATE, domains=list(DEMO_DOMAINS), account=str(account.id),
                           rules=[rule])
    if any(c.name == DEMO_CERTIFICATE for c in core.list_certificates()):
        core.update_certificate(DEMO_CERTIFICATE, spec)  # a reused --data-dir: point it at this Pebble
    else:
        core.add_certificate(spec)
    return DemoSetup(account.email, DEMO_CERTIFICATE, pebble.http_port, pebble.directory_url)


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="keep the demo's data here (default: a temporary folder, removed on exit)")
    args = parser.parse_args(argv)

    # A closed SSH session (SIGHUP) or a kill (SIGTERM) must still stop Pebble: unwind through `finally`.
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _exit_on_signal)
    try:
        pebble = PebbleServer().start()
    except PebbleNotFound as exc:
        print(f"{exc}. Run `make test-servers` first (or use `make demo`).", file=sys.stderr)
        return 1
    temporary = None if args.data_dir else tempfile.TemporaryDirectory(prefix="certify-tui-demo-")
    data_dir = args.data_dir or temporary.name  # type: ignore[union-attr]
    core = None
    try:
        core = Core.open(data_dir)
        setup = setup_demo(core, pebble)
        hint = setup.explanation(data_dir)
        print(hint)

        from certify_tui.tui import app as tui_app

        class DemoApp(tui_app.CertifyApp):
            CSS_PATH = str(Path(tui_app.__file__).with_name("app.tcss"))  # relative would mean scripts/

            def on_mount(self) -> None:
                # Textual runs the base class's on_mount too: calling it here would push a second home.
                self.notify(hint, title="Demo", timeout=20)

        DemoApp(core, renewal_worker=True).run()
        return 0
    except CertifyError as exc:
        print(f"demo: {exc.message}", file=sys.stderr)
        return 1
    finally:
        if core is not None:
            core.close()
        pebble.stop()
        if temporary is not None:
            temporary.cleanup()


if __name__ == "__main__":
    sys.exit(main())
