"""Request screen: real requests against Pebble (success, failure, cancel, quit), scripted snapshots."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from integration.helpers import add_account, add_standalone_cert, live_bytes
from servers.pebble import PebbleServer, _free_ports
from textual.widgets import Log
from tui_helpers import (
    SIZES,
    plain,
    script_request,
    seeded_core,
    wait_home_loaded,
    wait_request_finished,
    wait_until,
)

from certify_tui.events import ProgressEvent
from certify_tui.lifecycle import Core
from certify_tui.model import TaskConfig
from certify_tui.tui.screens.certificates import CertificatesScreen
from certify_tui.tui.screens.confirm import ConfirmScreen
from certify_tui.tui.screens.request import RequestScreen, StepList

NAMES = ["www.tui.test", "api.tui.test"]


@pytest.fixture
def core(tmp_path: Path) -> Iterator[Core]:
    core = Core.open(str(tmp_path / "data"))
    yield core
    core.close()


def pause_at_first(core: Core, step: str, release: threading.Event | None = None) -> threading.Event:
    """Hold the core's worker thread at the first `step` event until `release` (default: the cancel Event).

    The UI still gets the event first, so a test can act at a known point of a real request.
    """
    real = core.request
    reached = threading.Event()

    def request(name, *, on_event=None, cancel=None, confirm=None, **plan):  # noqa: ANN001, ANN003, ANN202
        def hook(event):  # noqa: ANN001, ANN202
            on_event(event)
            if event.step == step and not reached.is_set():
                reached.set()
                (release or cancel).wait(30)

        return real(name, on_event=hook, cancel=cancel, confirm=confirm, **plan)

    core.request = request  # type: ignore[method-assign]
    return reached


async def open_request_from_home(pilot, name: str) -> RequestScreen:  # noqa: ANN001
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, CertificatesScreen) and pilot.app.screen.loaded)
    pilot.app.open_request(name)
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, RequestScreen))
    return pilot.app.screen


# -- against the real CA ----------------------------------------------------------------------------

@pytest.mark.pebble
async def test_two_name_request_succeeds(core: Core, pebble: PebbleServer, make_app) -> None:
    add_account(core, pebble)
    add_standalone_cert(core, pebble, "two", NAMES)
    app = make_app(core)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, CertificatesScreen) and app.screen.loaded)
        await pilot.press("r")  # the only certificate is highlighted
        await wait_until(pilot, lambda: isinstance(app.screen, RequestScreen))
        screen = app.screen
        await wait_request_finished(pilot)
        assert screen.succeeded, screen.outcome_text
        assert app.requests_running == 0
        assert [(r.step, r.identifier) for r in screen.steps.rows] == [
            ("order", None), ("authorization", NAMES[0]), ("validation", NAMES[0]),
            ("authorization", NAMES[1]), ("validation", NAMES[1]),
            ("finalize", None), ("download", None), ("store", None), ("deploy", None), ("done", None)]
        assert all(r.state == "ok" for r in screen.steps.rows)
        text = plain(screen.steps.render())
        assert [line[:1] for line in text.splitlines()] == ["✓"] * 10
        view = core.certificate_view(core.get_certificate("two"))
        assert view["status"] == "valid"
        assert view["serial"] in screen.outcome_text
        assert view["not_after"][:10] in screen.outcome_text
        assert str(Path(view["files"]["fullchain"]).parent) in screen.outcome_text
        assert any("done" in line for line in screen.query_one(Log).lines)
        await pilot.press("enter")
        assert isinstance(app.screen, CertificatesScreen)


@pytest.mark.pebble
async def test_failing_request_shows_the_core_error(core: Core, pebble: PebbleServer, make_app) -> None:
    add_account(core, pebble)
    (port,) = _free_ports(1)  # our listener serves here; Pebble connects to its http port: nobody answers
    core.add_certificate(name="bad", domains=["bad.tui.test"], challenge="http-01", provider="standalone",
                         options={"address": "127.0.0.1", "port": port})
    app = make_app(core)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_request_from_home(pilot, "bad")
        await wait_request_finished(pilot)
        view = core.certificate_view(core.get_certificate("bad"))
        assert view["status"] == "failed"
        assert view["last_error"] and view["last_error"] in screen.outcome_text
        assert screen.outcome_text.startswith("✗ Request failed")
        assert screen.query_one("#outcome").display and screen.query_one("#outcome").has_class("-error")
        assert screen.steps.find("validation", "bad.tui.test").state == "failed"
        assert screen.steps.find("done").state == "failed"
        assert app.requests_running == 0
        await pilot.press("escape")  # finished: Esc closes
        assert isinstance(app.screen, CertificatesScreen)


@pytest.mark.pebble
async def test_cancel_at_first_validation_replaces_nothing(core: Core, pebble: PebbleServer, make_app) -> None:
    add_account(core, pebble)
    add_standalone_cert(core, pebble, "keep", NAMES)
    core.request("keep")  # a current certificate that a cancelled renewal must leave alone
    before_view = core.certificate_view(core.get_certificate("keep"))
    before = live_bytes(before_view["files"])
    release = threading.Event()
    reached = pause_at_first(core, "validation", release)
    app = make_app(core)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_request_from_home(pilot, "keep")
        await wait_until(pilot, reached.is_set, 30)
        await wait_until(pilot, lambda: any(r.step == "validation" and r.state == "running"
                                                   for r in screen.steps.rows))
        await pilot.press("escape")
        assert isinstance(app.screen, ConfirmScreen)
        assert "Cancel this request?" in app.screen.question
        await pilot.press("y")
        assert app.screen is screen and screen.cancelling and screen.cancel_event.is_set()
        assert "Cancelling…" in str(screen.query_one("#title-bar").render())
        release.set()  # the core goes on, sees the cancel at its next check and stops
        await wait_request_finished(pilot)
        assert not screen.succeeded
        assert "Cancelled" in screen.outcome_text and "nothing was replaced" in screen.outcome_text
        assert app.requests_running == 0
    after_view = core.certificate_view(core.get_certificate("keep"))
    assert live_bytes(after_view["files"]) == before
    assert after_view["serial"] == before_view["serial"] and after_view["versions"] == 1
    assert after_view["status"] == "valid"


@pytest.mark.pebble
async def test_quit_while_running_asks(core: Core, pebble: PebbleServer, make_app) -> None:
    add_account(core, pebble)
    add_standalone_cert(core, pebble, "q", ["q.tui.test"])
    release = threading.Event()
    reached = pause_at_first(core, "order", release)
    app = make_app(core)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_request_from_home(pilot, "q")
            await wait_until(pilot, reached.is_set, 30)
            assert app.requests_running == 1
            await pilot.press("q")
            assert isinstance(app.screen, ConfirmScreen)
            assert "request is running" in app.screen.question
            await pilot.press("n")  # stay
            assert app.screen is screen and app.is_running
            release.set()
            await wait_request_finished(pilot)
            assert screen.succeeded and app.requests_running == 0
            await pilot.press("enter", "q")  # nothing runs now: quits without asking
            await wait_until(pilot, lambda: not app.is_running)
    finally:
        release.set()


# -- scripted: deterministic snapshots --------------------------------------------------------------

async def _open_scripted(pilot) -> None:  # noqa: ANN001
    await wait_home_loaded(pilot)
    pilot.app.open_request("shop")
    await wait_request_finished(pilot)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot_request_succeeded(snap_compare, make_app, size) -> None:
    core = seeded_core("request-ok")
    script_request(core)
    assert snap_compare(make_app(core), terminal_size=size, run_before=_open_scripted)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot_request_failed(snap_compare, make_app, size) -> None:
    core = seeded_core("request-failed")
    script_request(core, fail="shop.example.com: the CA could not connect to validate it: connection refused")
    assert snap_compare(make_app(core), terminal_size=size, run_before=_open_scripted)


async def test_scripted_failure_marks_and_counts(make_app) -> None:
    core = seeded_core("request-scripted")
    script_request(core, fail="shop.example.com: connection refused")
    app = make_app(core)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open_scripted(pilot)
        screen = app.screen
        text = plain(screen.steps.render())
        assert "✗ Validate" in text and "✓ Order" in text and "· Finalize" in text
        assert "Validation failed: shop.example.com: connection refused" in screen.outcome_text
        assert app.requests_running == 0
        await pilot.press("enter")
        assert isinstance(app.screen, CertificatesScreen)


@pytest.mark.pebble
async def test_manual_dns_waits_for_the_person_then_issues(core: Core, pebble: PebbleServer, make_app) -> None:
    """dns-01 by hand, through the UI: the exact record is shown, we create it (in challtestsrv, the DNS
    Pebble validates against), press c, and the certificate (a wildcard) is issued."""
    add_account(core, pebble)
    core.add_certificate(name="hand", domains=["*.hand.tui.test"], challenge="dns-01", provider="manual",
                         options={"propagation_timeout": 0})  # Pebble's DNS is challtestsrv, set directly
    app = make_app(core)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_request_from_home(pilot, "hand")
        await wait_until(pilot, lambda: screen.awaiting_confirmation, timeout=30)
        prompt = plain(screen.query_one("#outcome").content)
        record = next(line for line in prompt.splitlines() if " IN TXT " in line)
        fqdn, value = record.split()[0], record.split('"')[1]
        assert fqdn == "_acme-challenge.hand.tui.test."
        pebble.set_txt(fqdn, value)
        await pilot.press("c")
        await wait_request_finished(pilot)
        assert screen.succeeded, screen.outcome_text
        assert core.certificate_view(core.get_certificate("hand"))["status"] == "valid"


# -- the plan: its steps are the rows, and a preview that no longer holds is refused -----------------

def test_rows_are_the_plan_steps(tmp_path: Path) -> None:
    core = seeded_core("request-rows")
    try:
        spec = core.certificate_spec("mail")
        spec.tasks = [TaskConfig("export", {"path": str(tmp_path), "formats": "pem"})]
        core.update_certificate("mail", spec)
        steps = StepList(core.preview("mail"))
        assert [(r.step, r.plan_step, r.identifier) for r in steps.rows] == [
            ("order", "order", None), ("authorization", "validate:mail.example.org", "mail.example.org"),
            ("validation", "validate:mail.example.org", "mail.example.org"), ("finalize", "order", None),
            ("download", "order", None), ("store", "store", None), ("deploy", "deploy", None),
            ("task", "task:1", "task 1"), ("done", None, None)]
        steps.apply(ProgressEvent("task", "Export: done", ok=True, plan_step="task:1"))
        steps.apply(ProgressEvent("deploy", "not this request's step", ok=False, plan_step="deploy:elsewhere"))
        assert [(r.step, r.state) for r in steps.rows][-3:] == [("deploy", "pending"), ("task", "ok"),
                                                                ("done", "pending")]
        assert any(line.split()[:4] == ["✓", "Task", "task", "1"] for line in plain(steps.render()).splitlines())
    finally:
        core.close()


async def test_a_preview_that_no_longer_holds_is_refused(make_app) -> None:
    core = seeded_core("request-stale")
    shown = core.preview("api")  # what the person saw (the editor hands it over on save and request)
    spec = core.certificate_spec("api")
    spec.domains.append("www.api.example.com")
    core.update_certificate("api", spec)  # changed since, elsewhere
    app = make_app(core)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_home_loaded(pilot)
        app.open_request("api", shown)
        await wait_request_finished(pilot)
        screen = app.screen
        assert not screen.succeeded
        assert screen.outcome_text == ("✗ Request failed: 'api' changed since it was previewed (names, rules): "
                                       "nothing was ordered; preview it again, then request.")
        assert [r.identifier for r in screen.steps.rows if r.step == "validation"] == ["api.example.com"]
        assert screen.steps.find("done").state == "failed" and screen.steps.find("order").state == "pending"
    view = core.certificate_view(core.get_certificate("api"))
    assert view["status"] == "new" and view["versions"] == 0 and view["failure_count"] == 0
