"""Step 5, Preview: the plan the core builds from the draft (what a request would do), or why there is none."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on, work
from textual.message import Message

from certify_tui.errors import CertifyError
from certify_tui.lifecycle.certificates import CertificateSpec
from certify_tui.tui.messages import Failed
from certify_tui.tui.widgets.plan_view import PlanView

if TYPE_CHECKING:
    from certify_tui.plan import Plan
    from certify_tui.tui.app import CertifyApp


class PlanReady(Message):
    """The plan for the draft sent as preview number `serial`."""

    def __init__(self, serial: int, plan: Plan) -> None:
        super().__init__()
        self.serial = serial
        self.plan = plan


class PreviewFailed(Failed):
    """The core refused the draft sent as preview number `serial`; the editor shows where to fix it."""

    def __init__(self, serial: int, message: str, field: str | None = None) -> None:
        super().__init__(message, field)
        self.serial = serial


class PreviewStep(PlanView):
    """Shows the plan for the latest draft only: an answer to an older draft is dropped."""

    app: CertifyApp
    serial = 0  # numbers each draft sent to the core

    def on_mount(self) -> None:
        self.show_waiting("")

    def preview(self, spec: CertificateSpec, editing: str | None) -> None:
        """Ask the core for the plan; `editing` names the stored certificate the draft changes."""
        self.serial += 1
        self.show_waiting()
        self._preview(self.serial, spec, editing)

    def show_problem(self, message: str, hint: str) -> None:
        """A problem found before asking the core (it also drops any answer still on its way)."""
        self.serial += 1
        self.show_error(message, hint)

    @work(thread=True, exclusive=True, group="editor-preview", exit_on_error=False)
    def _preview(self, serial: int, spec: CertificateSpec, editing: str | None) -> None:
        try:
            plan = self.app.core.preview_spec(spec, editing=editing)
        except CertifyError as exc:
            self.post_message(PreviewFailed(serial, exc.message, exc.field))
            return
        except Exception as exc:  # noqa: BLE001 - shown as a line, never a traceback
            self.post_message(PreviewFailed(serial, f"Unexpected error: {exc}"))
            return
        self.post_message(PlanReady(serial, plan))

    @on(PlanReady)
    def _plan_ready(self, event: PlanReady) -> None:
        if event.serial == self.serial:
            self.show_plan(event.plan)

    @on(PreviewFailed)
    def _preview_failed(self, event: PreviewFailed) -> None:
        if event.serial != self.serial:
            event.stop()  # an older draft's: the editor shows only the latest
