"""Request progress: one certificate's order, step by step, with the raw event lines below.

The rows are the steps of the plan the request runs (the preview the person saw, or the one the core
reports before its first step); each event names the plan step it belongs to. The core runs in a thread worker; its progress callback (called in that thread) only posts
messages, so every widget change happens on the UI thread. Escape while running asks, then sets
the cancel Event the core checks between steps: nothing is replaced once it stops.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Label, Log, Static

from certify_tui.errors import CertifyError
from certify_tui.events import DEPLOY, ORDER, STORE, Cancelled, ProgressEvent
from certify_tui.tui.screens.confirm import ConfirmScreen

if TYPE_CHECKING:
    from certify_tui.lifecycle.request import RequestResult
    from certify_tui.plan import Plan, PlanStep
    from certify_tui.tui.app import CertifyApp

# One mark per state, readable without colour.
MARKS = {"pending": "·", "running": "…", "ok": "✓", "failed": "✗"}
STYLES = {"pending": "dim", "running": "bold yellow", "ok": "bold green", "failed": "bold red"}
LABELS = {"order": "Order", "authorization": "Authorize", "validation": "Validate", "finalize": "Finalize",
          "download": "Download", "store": "Store", "deploy": "Deploy", "task": "Task", "done": "Done"}


@dataclass
class StepRow:
    step: str  # the kind of event it shows (a key of LABELS)
    plan_step: str | None = None  # the plan step whose events change it; None: the request's end ("done")
    identifier: str | None = None  # what it concerns: the identifier, the site, the task
    state: str = "pending"
    message: str = ""


def _rows(steps: list[PlanStep]) -> list[StepRow]:
    """The rows of a plan's steps: the order's phases around each identifier's validation, then the rest."""
    validations, after = [], []
    for step in steps:
        if step.kind == "validate":
            validations += [StepRow("authorization", step.id, step.subject), StepRow("validation", step.id, step.subject)]
        elif step.kind in ("deploy", "task"):
            after.append(StepRow(step.kind, step.id, None if step.id == DEPLOY else step.subject))
    return [StepRow("order", ORDER), *validations, StepRow("finalize", ORDER), StepRow("download", ORDER),
            StepRow("store", STORE), *after, StepRow("done")]


class StepList:
    """The ordered steps of one request (its plan's) and their states, updated from ProgressEvents."""

    def __init__(self, plan: Plan | None = None) -> None:
        # Until the plan arrives: the steps every request has.
        self.rows: list[StepRow] = _rows(plan.steps if plan else [])
        if plan is None:
            self.rows.insert(-1, StepRow("deploy", DEPLOY))
        self.last_changed = 0  # index of the row the latest event changed

    def find(self, step: str, identifier: str | None = None) -> StepRow | None:
        return next((r for r in self.rows if r.step == step and r.identifier == identifier), None)

    def apply(self, event: ProgressEvent) -> None:
        if event.step == "failed":
            for row in self.rows:
                if row.state == "running":
                    row.state = "failed"
            done = self.find("done")
            assert done is not None
            done.state, done.message = "failed", event.message
            self.last_changed = len(self.rows) - 1
            return
        if event.step not in LABELS:
            return  # start, info, cleanup: the log below has them
        target = next((r for r in self.rows if r.step == event.step and r.plan_step == event.plan_step), None)
        if target is None:
            return
        if event.step == "validation":  # answering means the authorization step is over
            authorization = next((r for r in self.rows if r.step == "authorization"
                                  and r.plan_step == event.plan_step), None)
            if authorization is not None and authorization.state == "running":
                authorization.state = "ok"
                pending = "pending; will answer with "
                if authorization.message.startswith(pending):
                    authorization.message = "answered with " + authorization.message[len(pending):]
        target.state = "running" if event.ok is None else ("ok" if event.ok else "failed")
        target.message = event.message
        self.last_changed = self.rows.index(target)

    def render(self) -> Table:
        table = Table.grid(padding=(0, 1), expand=True)
        table.add_column(width=1, no_wrap=True)
        table.add_column(no_wrap=True)
        table.add_column(no_wrap=True, overflow="ellipsis", max_width=32)
        table.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        for row in self.rows:
            table.add_row(Text(MARKS[row.state], style=STYLES[row.state]), LABELS[row.step],
                          Text(row.identifier or "", style="bold"), Text(row.message, style="dim"))
        return table


# -- what the worker thread tells the screen: one message per kind of news ------------------------

class Progress(Message, bubble=False):
    """One ProgressEvent from the worker thread."""

    def __init__(self, event: ProgressEvent) -> None:
        super().__init__()
        self.event = event


class PlanReady(Message, bubble=False):
    """The plan the request runs, before its first step."""

    def __init__(self, plan: Plan) -> None:
        super().__init__()
        self.plan = plan


class ConfirmationRequested(Message, bubble=False):
    """A person must act (create a DNS record) before the request goes on."""

    def __init__(self, prompt: str) -> None:
        super().__init__()
        self.prompt = prompt


class RequestSucceeded(Message, bubble=False):
    def __init__(self, result: RequestResult) -> None:
        super().__init__()
        self.result = result


class RequestCancelled(Message, bubble=False):
    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message


class RequestFailed(Message, bubble=False):
    """The core's one-line error (never a traceback)."""

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message


def result_text(result: RequestResult) -> str:
    version = result.version
    live = Path(version.files["fullchain"]).parent if version.files.get("fullchain") else version.directory
    lines = [f"✓ Certificate issued for {result.name} in {result.seconds:.2f} s.",
             f"Serial {version.serial}  ·  valid until {version.not_after:%Y-%m-%d %H:%M} UTC",
             f"Files  {live}{os.sep}",
             "       fullchain.pem  privkey.pem  cert.pem  chain.pem"]
    deploy_error = getattr(result, "deploy_error", None)  # issued and stored, but a deployment task failed
    if deploy_error:
        lines.append(f"✗ Deployment failed: {deploy_error}")
    return "\n".join(lines)


class RequestScreen(Screen[bool]):
    """Runs a request for `name` in a worker, showing each step of its plan; dismisses with True on success.

    `plan`: the preview a person saw (the editor's); the request refuses if the certificate changed since."""

    app: CertifyApp
    CSS_PATH = "request.tcss"
    BINDINGS = [
        Binding("escape", "cancel_request", "Cancel request"),
        Binding("escape,enter", "close", "Close"),
        Binding("c", "confirm_record", "Record created"),
    ]

    def __init__(self, name: str, plan: Plan | None = None) -> None:
        super().__init__()
        self.certificate_name = name
        self.previewed = plan
        self.cancel_event = threading.Event()
        self.steps = StepList(plan)
        self.running = False  # the worker is under way
        self.finished = False  # a result or an error is shown
        self.succeeded = False
        self.cancelling = False
        self.outcome_text = ""  # the result or the error, as shown
        self._counted = False  # whether this screen is counted in app.requests_running
        self.awaiting_confirmation = False  # the manual DNS provider waits for the person
        self._confirmed = threading.Event()

    def compose(self) -> ComposeResult:
        yield Label(f"Request: {self.certificate_name}", id="title-bar")
        with VerticalScroll(id="steps-box"):
            yield Static(self.steps.render(), id="steps")
        yield Static("", id="outcome")
        yield Label("Events", id="events-title")
        yield Log(max_lines=5000, auto_scroll=True, id="events")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#outcome").display = False
        self.app.requests_running += 1
        self._counted = True
        self.running = True
        self._set_status("running… (Esc cancels)")
        self.refresh_bindings()
        self._request()

    def on_unmount(self) -> None:
        self._uncount()  # the app closing under a running request must not leave it counted

    def _uncount(self) -> None:
        if self._counted:
            self._counted = False
            self.app.requests_running = max(0, self.app.requests_running - 1)

    # -- the worker: only posts messages ------------------------------------------------------
    @work(thread=True, exit_on_error=False, group="request")
    def _request(self) -> None:
        try:
            result = self.app.core.request(self.certificate_name, on_event=self._on_event, cancel=self.cancel_event,
                                           confirm=self._ask, plan=self.previewed, on_plan=self._on_plan)
        except Cancelled as exc:
            self.post_message(RequestCancelled(exc.message))
        except CertifyError as exc:
            self.post_message(RequestFailed(exc.message))
        except Exception as exc:  # noqa: BLE001 - the screen must always reach an end state
            self.post_message(RequestFailed(f"Unexpected error: {exc.__class__.__name__}: {exc}"))
        else:
            self.post_message(RequestSucceeded(result))

    def _ask(self, prompt: str) -> bool:
        """Called by the core's thread when a person must act (create a DNS record): wait for `c`.

        The core bounds the wait; a cancel (Esc) also ends it."""
        self._confirmed.clear()
        self.post_message(ConfirmationRequested(prompt))
        while not self._confirmed.wait(0.2):
            if self.cancel_event.is_set():
                return False
        return True

    def _on_plan(self, plan: Plan) -> None:
        """Called by the core in the worker thread, before the plan's first step."""
        self.post_message(PlanReady(plan))

    def _on_event(self, event: ProgressEvent) -> None:
        """Called by the core in the worker thread: post_message is thread-safe."""
        self.post_message(Progress(event))

    # -- messages (UI thread) ----------------------------------------------------------------
    @on(Progress)
    def _progress(self, message: Progress) -> None:
        self.steps.apply(message.event)
        self.query_one("#steps", Static).update(self.steps.render())
        self.call_after_refresh(self._reveal, self.steps.last_changed)
        self.query_one("#events", Log).write_line(message.event.line())

    @on(PlanReady)
    def _plan_ready(self, message: PlanReady) -> None:
        self.steps = StepList(message.plan)
        self.query_one("#steps", Static).update(self.steps.render())

    @on(ConfirmationRequested)
    def _confirmation_requested(self, message: ConfirmationRequested) -> None:
        self.awaiting_confirmation = True
        outcome = self.query_one("#outcome", Static)
        outcome.update(Text(f"{message.prompt}\n\nPress c once the record exists (Esc cancels)."))
        outcome.display = True
        self._set_status("waiting for you: create the DNS record, then press c")
        self.refresh_bindings()

    @on(RequestSucceeded)
    def _succeeded(self, message: RequestSucceeded) -> None:
        self.succeeded = True
        self._finish("succeeded", result_text(message.result), "-success")

    @on(RequestCancelled)
    def _cancelled(self, message: RequestCancelled) -> None:
        self._finish("cancelled", f"✗ Cancelled. {message.message}", "-cancelled")

    @on(RequestFailed)
    def _failed(self, message: RequestFailed) -> None:
        self._finish("failed", f"✗ Request failed: {message.message}", "-error")

    def _finish(self, status: str, text: str, css_class: str) -> None:
        self.running = False
        self.finished = True
        self.cancelling = False
        self._uncount()
        done = self.steps.find("done")
        if done is not None and done.state != "ok" and not self.succeeded:
            # An error before the first step (e.g. an unknown name) still needs its mark.
            done.state = "failed"
            done.message = done.message or text.removeprefix("✗ ")
            for row in self.steps.rows:
                if row.state == "running":
                    row.state = "failed"
        self.query_one("#steps", Static).update(self.steps.render())
        self.outcome_text = text
        outcome = self.query_one("#outcome", Static)
        outcome.update(Text(text))
        outcome.add_class(css_class)
        outcome.display = True
        self._set_status(f"{status}  ·  Enter or Esc closes")
        self.refresh_bindings()
        # The panel took room from the log: keep its last lines in view.
        self.call_after_refresh(self.query_one("#events", Log).scroll_end, animate=False, immediate=True)
        # Show the end of the list, and the first failed step if there is one.
        self.call_after_refresh(self._reveal, len(self.steps.rows) - 1)
        failed = next((i for i, r in enumerate(self.steps.rows) if r.state == "failed"), None)
        if failed is not None:
            self.call_after_refresh(self._reveal, failed)

    def _reveal(self, index: int) -> None:
        """Scroll the step list just enough to show row `index`."""
        box = self.query_one("#steps-box", VerticalScroll)
        height = box.scrollable_content_region.height
        if height <= 0:
            return
        if index < box.scroll_y:
            box.scroll_to(y=index, animate=False, immediate=True)
        elif index >= box.scroll_y + height:
            box.scroll_to(y=index - height + 1, animate=False, immediate=True)

    def _set_status(self, status: str) -> None:
        self.query_one("#title-bar", Label).update(f"Request: {self.certificate_name}  ·  {status}")

    # -- keys --------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "confirm_record":
            return self.awaiting_confirmation
        if action == "cancel_request":
            return self.running
        if action == "close":
            return self.finished
        return True

    def action_cancel_request(self) -> None:
        if not self.running or self.cancelling:
            return

        def answered(yes: bool | None) -> None:
            if yes and self.running:
                self.cancelling = True
                self.cancel_event.set()
                self._set_status("Cancelling… (stops at the next step; nothing is replaced)")

        self.app.push_screen(ConfirmScreen(
            "Cancel this request? It stops at the next step; the current certificate files stay as they are.",
            "Cancel request", "Keep going", danger=True), answered)

    def action_confirm_record(self) -> None:
        if self.awaiting_confirmation:
            self.awaiting_confirmation = False
            self.query_one("#outcome", Static).display = False
            self._set_status("running… (Esc cancels)")
            self._confirmed.set()
            self.refresh_bindings()

    def action_close(self) -> None:
        if self.finished:
            self.dismiss(self.succeeded)
