"""`certify-tui service`: run the renewal worker and the local API headless (systemd, Windows service)."""

from __future__ import annotations

import argparse

from certify_tui.cli.parser import Subcommands
from certify_tui.lifecycle import Core


def register(sub: Subcommands) -> None:
    service = sub.add_parser("service", help="run the renewal worker and local API in the foreground")
    service.add_argument("--print-systemd-unit", action="store_true", help="print a systemd unit file and exit")
    service.add_argument("--no-api", action="store_true", help="do not start the local HTTP API")
    service.add_argument("--port", type=int, help="local API port (default 9696, or the next free one)")
    service.set_defaults(run=_service)


def _service(core: Core, args: argparse.Namespace) -> int:
    from certify_tui.service.runner import log_to_stderr, run_service, systemd_unit

    if args.print_systemd_unit:
        print(systemd_unit(core), end="")
        return 0
    log_to_stderr()
    return run_service(core, api=not args.no_api, port=args.port)
