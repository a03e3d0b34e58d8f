"""`certify-tui service`: the renewal worker and the local API, headless, in the foreground.

Logs go to stderr (journald keeps them); SIGTERM or SIGINT stops it within seconds: in-flight
orders stop at their next step and stay resumable, the live files are never half-written.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

from certify_tui.renewal.worker import RenewalWorker

if TYPE_CHECKING:
    from certify_tui.lifecycle import Core

log = logging.getLogger("certify_tui")

SYSTEMD_UNIT = """\
[Unit]
Description=certify-tui certificate renewal service
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
ExecStart={exe} --data-dir {data_dir} service
Restart=on-failure
RestartSec=30
# Renewals finish or stop at their next step well within this.
TimeoutStopSec=60
UMask=0077
# Binding the http-01 listener on port 80 needs this when not running as root.
AmbientCapabilities=CAP_NET_BIND_SERVICE
NoNewPrivileges=true
ProtectSystem=full
PrivateTmp=true

[Install]
WantedBy=multi-user.target
"""


def systemd_unit(core: Core) -> str:
    script = sys.argv[0] if sys.argv else ""
    # systemd needs an absolute ExecStart; fall back to the interpreter when run as `python -m`.
    exe = os.path.abspath(script) if script.endswith("certify-tui") else f"{sys.executable} -m certify_tui"
    return SYSTEMD_UNIT.format(exe=exe, data_dir=core.data.root)


def log_to_stderr(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    # No timestamps: journald and most supervisors add their own.
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.setLevel(level)
    logger = logging.getLogger("certify_tui")
    logger.addHandler(handler)
    logger.setLevel(min(logger.level or level, level))


def run_service(core: Core, *, api: bool = True, port: int | None = None,
                stop: threading.Event | None = None) -> int:
    """Run until SIGTERM/SIGINT (or `stop` is set); returns the exit code."""
    stop = stop or threading.Event()
    _backup_at_start(core)
    worker = RenewalWorker(core, where="service")
    server = None
    if api:
        from certify_tui.service.api import DEFAULT_PORT, ApiServer

        server = ApiServer(core, port=port or DEFAULT_PORT).start()
    previous = _install_signal_handlers(stop)
    worker.start()
    log.info("certify-tui service running (data: %s%s)", core.data.root,
             f", API on {server.url}" if server else "")
    try:
        while not stop.wait(0.5):
            pass
    finally:
        log.info("stopping: in-flight requests stop at their next step")
        worker.stop(wait=True)
        if server is not None:
            server.stop()
        _restore_signal_handlers(previous)
    return 0


def _backup_at_start(core: Core) -> None:
    try:
        from certify_tui.renewal import maintenance

        maintenance.backup_database(core)
    except Exception as exc:  # noqa: BLE001 - a failed backup is reported, the service still starts
        log.error("start-up backup failed: %s", exc)


# What signal.signal takes and returns: a function, SIG_DFL/SIG_IGN, or None (set outside Python).
SignalHandler = Callable[[int, FrameType | None], Any] | int | None


def _install_signal_handlers(stop: threading.Event) -> dict[int, SignalHandler]:
    if threading.current_thread() is not threading.main_thread():
        return {}  # signals can only be handled on the main thread (tests run the service in a thread)
    previous: dict[int, SignalHandler] = {}
    names = ["SIGTERM", "SIGINT", "SIGBREAK"]  # SIGBREAK: Ctrl+Break in a Windows console
    for name in names:
        number = getattr(signal, name, None)
        if number is not None:
            previous[number] = signal.signal(number, lambda signum, frame: stop.set())
    return previous


def _restore_signal_handlers(previous: dict[int, SignalHandler]) -> None:
    for number, handler in previous.items():
        signal.signal(number, handler)
