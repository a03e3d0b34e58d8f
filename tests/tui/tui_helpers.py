"""Helpers for TUI tests: seeded data at stable paths and waits for async loads.

Snapshots compare text cells, so everything shown must be the same on every run: the clock is
frozen (conftest.py), data folders live at fixed paths, and log files hold fixed lines.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from certify_tui.keys import generate_key, key_to_pem
from certify_tui.lifecycle import Core
from certify_tui.store.models import Account, ManagedCertificate

FIXED_NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SNAP_ROOT = Path("/tmp/certify-tui-snapshots")
SIZES = [(80, 24), (120, 40)]


def fresh_core(name: str) -> Core:
    """A Core on an empty data folder at a stable path (paths appear on screen)."""
    root = SNAP_ROOT / name
    shutil.rmtree(root, ignore_errors=True)
    return Core.open(str(root))


def add_account(email: str = "admin@example.org", ca_name: str = "letsencrypt-staging",
                directory_url: str = "https://acme-staging-v02.api.letsencrypt.org/directory") -> Account:
    """An account row written directly: snapshot tests never contact a CA."""
    return Account.create(
        email=email, ca_name=ca_name, directory_url=directory_url, key_type="ec256",
        account_key_pem=key_to_pem(generate_key("ec256")).decode(), uri=f"{directory_url}/acct/1",
        status="valid", tos_agreed=True, tos_url="https://example.org/tos.pdf")


def add_certificate(account: Account, name: str, domains: list[str], *, status: str = "valid",
                    issued_days_ago: int | None = 30, lifetime_days: int = 90, error: str | None = None,
                    auto_renew: bool = True) -> ManagedCertificate:
    not_before = FIXED_NOW - timedelta(days=issued_days_ago) if issued_days_ago is not None else None
    not_after = not_before + timedelta(days=lifetime_days) if not_before else None
    return ManagedCertificate.create(
        name=name, account=account, primary_identifier=domains[0], identifiers=domains,
        challenge_rules=[{"pattern": "*", "challenge": "http-01", "provider": "standalone",
                          "options": {"address": "0.0.0.0", "port": 80}}],
        status=status, not_before=not_before, not_after=not_after, date_issued=not_before,
        next_attempt=(not_before + timedelta(days=lifetime_days * 0.75)) if not_before else None,
        last_error=error, failure_count=1 if error else 0, auto_renew=auto_renew,
        deployment={"mode": "files", "tasks": []}, renewal={"percent": 75})


def write_log(core: Core, name: str, lines: list[str]) -> None:
    path = core.data.certificate_log(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"2026-06-01T11:59:{i:02d}.000+00:00 {line}\n" for i, line in enumerate(lines)))


def seeded_core(name: str) -> Core:
    """An account and a handful of certificates in every state the list shows."""
    core = fresh_core(name)
    account = add_account()
    add_certificate(account, "shop", ["shop.example.com", "www.shop.example.com", "static.shop.example.com"])
    add_certificate(account, "mail", ["mail.example.org"], issued_days_ago=80)
    add_certificate(account, "intranet", ["intranet.example.net"], status="failed", issued_days_ago=85,
                    error="intranet.example.net: the CA could not connect to validate it: connection refused")
    add_certificate(account, "api", ["api.example.com"], status="new", issued_days_ago=None)
    add_certificate(account, "old", ["old.example.com"], issued_days_ago=100, auto_renew=False)
    write_log(core, "api", ["start         request for 1 identifier(s) via admin@example.org"])
    write_log(core, "intranet", [
        "start         request for 1 identifier(s) via admin@example.org",
        "order         new order for intranet.example.net",
        "validation    [intranet.example.net] the CA could not connect to validate it",
        "failed        Validation failed",
    ])
    return core


async def wait_until(pilot: Pilot, condition: Callable[[], bool], timeout: float = 20.0) -> None:
    """Let the app run until `condition()` holds (workers post results asynchronously).

    The timeout only ends a hung test; it returns as soon as the condition holds. It is generous because
    the first open of a lazily imported screen took over 5 s on a loaded 2-core machine (speed is measured
    in benchmarks/, never here)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("timed out waiting for the UI")
        await pilot.pause(0.02)


async def wait_home_loaded(pilot: Pilot) -> None:
    """Wait for the certificate list and the log pane's first read."""
    from textual.widgets import Log

    from certify_tui.tui.screens.certificates import CertificatesScreen

    await wait_until(pilot, lambda: isinstance(pilot.app.screen, CertificatesScreen) and pilot.app.screen.loaded)
    log = pilot.app.screen.query_one(Log)
    await wait_until(pilot, lambda: log.line_count > 0)
    await pilot.pause()


# -- request screen: a scripted core.request, so snapshots never depend on a CA ---------------------

def scripted_events(name: str, identifiers: list[str], *, fail: str | None = None) -> list[tuple]:
    """(step, message, identifier, ok) tuples as the core emits them for a request of `identifiers`.

    With `fail`, the first identifier's validation fails with that reason and the request stops there.
    """
    steps: list[tuple] = [("start", f"request for {len(identifiers)} identifier(s) via admin@example.org",
                           None, None), ("info", "generated a new ec256 key", None, None),
                          ("order", f"new order for {', '.join(identifiers)}", None, None),
                          ("order", "order created", None, True)]
    steps += [("authorization", "pending; will answer with http-01 via built-in listener on 0.0.0.0:80",
               i, None) for i in identifiers]
    steps += [("info", "serving http-01 token on 0.0.0.0:80", i, None) for i in identifiers]
    steps += [("validation", "http-01 answered; the CA is validating", i, None) for i in identifiers]
    if fail:
        steps += [("validation", fail, identifiers[0], False)]
        steps += [("validation", "validated", i, True) for i in identifiers[1:]]
        steps += [("failed", f"Validation failed: {fail}", None, False)]
        return steps
    steps += [("validation", "validated", i, True) for i in identifiers]
    steps += [("finalize", "sending the certificate signing request", None, None),
              ("finalize", "certificate issued", None, True),
              ("download", "downloading the certificate chain", None, None),
              ("download", "downloaded (1 chain(s) offered, using CN=Pebble Intermediate CA 4b2c1e)", None, True),
              ("store", "verifying the chain and key, then switching the live files", None, None),
              ("store", f"live files updated in certificates/{name}/live", None, True),
              ("deploy", "deployment mode 'files': nothing else to change", None, True),
              ("done", "certificate 04d2a3f1c0ffee valid until 2026-08-30 12:00 UTC (1.25 s)", None, True)]
    return steps


def scripted_plan_step(step: str, identifier: str | None) -> str | None:
    """The plan step id the core's RequestLog gives such an event (see events.RequestLog.in_step)."""
    from certify_tui.events import DEPLOY, ORDER, STORE, validation_step_id

    if identifier is not None:
        return validation_step_id(identifier)
    return {"order": ORDER, "finalize": ORDER, "download": ORDER, "store": STORE, "deploy": DEPLOY}.get(step)


def script_request(core: Core, *, fail: str | None = None) -> None:
    """Replace `core.request` on this instance with a fixed sequence of events and a fixed result."""
    from certify_tui.certfiles import StoredVersion
    from certify_tui.errors import ValidationFailed
    from certify_tui.events import ProgressEvent
    from certify_tui.lifecycle.request import RequestResult

    def request(name: str, *, on_event=None, cancel=None, confirm=None, plan=None,  # noqa: ANN001
                on_plan=None) -> RequestResult:  # noqa: ANN001
        planned = core.preview(name)  # the real plan: the screen shows its steps
        if on_plan is not None:
            on_plan(planned)
        identifiers = list(planned.identifiers)
        for i, (step, message, identifier, ok) in enumerate(scripted_events(name, identifiers, fail=fail)):
            if on_event is not None:
                on_event(ProgressEvent(step, message, identifier, ok, at=FIXED_NOW + timedelta(milliseconds=50 * i),
                                       plan_step=scripted_plan_step(step, identifier)))
        if fail:
            raise ValidationFailed(f"Validation failed: {fail}")
        live = core.data.certificates / name / "live"
        version = StoredVersion(
            version=1, directory=core.data.certificates / name / "archive" / "0001-04d2a3f1c0ffee",
            serial="04d2a3f1c0ffee", not_before=FIXED_NOW, not_after=FIXED_NOW + timedelta(days=90),
            fingerprint_sha256="ab" * 32, issuer="CN=Pebble Intermediate CA 4b2c1e",
            files={role: str(live / f"{role}.pem") for role in ("cert", "chain", "fullchain", "privkey")})
        return RequestResult(name, version, 1.25)

    core.request = request  # type: ignore[method-assign]


async def wait_request_finished(pilot: Pilot, timeout: float = 30.0) -> None:
    from certify_tui.tui.screens.request import RequestScreen

    await wait_until(pilot, lambda: isinstance(pilot.app.screen, RequestScreen) and pilot.app.screen.finished,
                     timeout)
    await pilot.pause()


def plain(renderable: object, width: int = 120) -> str:
    """A Rich renderable as plain text (what a colourless terminal shows)."""
    import io

    from rich.console import Console

    console = Console(width=width, file=io.StringIO(), record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


async def open_wildcard_at_validation(pilot: Any) -> Any:
    """The editor for a new certificate 'wild' covering *.example.org, shown at its validation step."""
    from textual.widgets import Label

    from certify_tui.tui.screens.editor import CertificateEditorScreen
    from certify_tui.tui.widgets.domain_list import DomainList

    app = pilot.app
    app.open_editor(None)
    await wait_until(pilot, lambda: isinstance(app.screen, CertificateEditorScreen) and app.screen.loaded)
    screen = app.screen
    assert isinstance(screen, CertificateEditorScreen)
    await pilot.press(*"wild", "enter", *"*.example.org")
    await wait_until(pilot, lambda: str(screen.query_one("#domain-check", Label).render()) != "")
    await pilot.press("enter")
    await wait_until(pilot, lambda: screen.query_one(DomainList).names == ["*.example.org"])
    screen.go_to("validation")
    await pilot.pause()
    return screen
