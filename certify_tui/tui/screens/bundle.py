"""Encrypted bundles from the TUI (command palette: "Export bundle", "Import bundle").

Export asks for the file and the passphrase twice. Import reads the file with the passphrase and shows the
dry run (each account, credential, setting and certificate: new, changed, in conflict...); the import itself
is confirmed, then applied in one transaction by the core. The core's work (scrypt, files) runs in thread
workers that only post messages."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Checkbox, DataTable, Footer, Input, Label

from certify_tui.errors import CertifyError
from certify_tui.tui.messages import Failed
from certify_tui.tui.screens.confirm import ConfirmScreen

if TYPE_CHECKING:
    from certify_tui.lifecycle.bundle_plan import BundlePlan
    from certify_tui.tui.app import CertifyApp


class BundleDone(Message):
    """The export or import finished; `summary` is the core's."""

    def __init__(self, summary: dict[str, Any]) -> None:
        super().__init__()
        self.summary = summary


class BundlePlanned(Message):
    """The import's dry run."""

    def __init__(self, plan: BundlePlan) -> None:
        super().__init__()
        self.plan = plan


class BundleFailed(Failed):
    """The core refused (a wrong passphrase, a damaged file, a conflict it cannot apply): nothing changed."""


def _field(label: str, widget: Input) -> Horizontal:
    return Horizontal(Label(label, classes="field-label"), widget, classes="field-row")


class _BundleDialog(ModalScreen[bool]):
    """What both dialogs share: a status line and a worker that is running or not."""

    app: CertifyApp
    CSS_PATH = "bundle.tcss"
    busy = False

    def _show_status(self, message: str, *, error: bool = False) -> None:
        status = self.query_one("#bundle-status", Label)
        status.update(message)
        status.set_class(error, "-error")

    def _value(self, selector: str) -> str:
        return self.query_one(selector, Input).value

    @on(BundleFailed)
    def _failed(self, event: BundleFailed) -> None:
        self.busy = False
        self._show_status(f"✗ {event.message}", error=True)

    def action_cancel(self) -> None:
        if not self.busy:
            self.dismiss(False)


class ExportBundleScreen(_BundleDialog):
    BINDINGS = [
        Binding("ctrl+s", "export", "Export", priority=True),
        Binding("escape", "cancel", "Cancel"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label("Export everything to an encrypted bundle  ·  ctrl+s export  ·  Esc cancel", id="bundle-title")
            yield Label("Accounts with their keys, certificates with their settings, tasks and current files, "
                        "stored credentials with their secrets, and the settings.", id="bundle-intro")
            yield _field("Bundle file", Input(placeholder="/root/certify-tui.bundle", id="bundle-file", compact=True))
            yield _field("Passphrase", Input(password=True, id="bundle-passphrase", compact=True,
                                             placeholder="at least 8 characters"))
            yield _field("Again", Input(password=True, id="bundle-passphrase-again", compact=True))
            yield Label("", id="bundle-status", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#bundle-file", Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "bundle-passphrase-again":
            self.action_export()
        else:
            self.focus_next()

    def action_export(self) -> None:
        if self.busy:
            return
        target, passphrase = self._value("#bundle-file").strip(), self._value("#bundle-passphrase")
        if not target:
            self._show_status("✗ Give the bundle's file name.", error=True)
            return
        if passphrase != self._value("#bundle-passphrase-again"):
            self._show_status("✗ The two passphrases differ.", error=True)
            return
        self.busy = True
        self._show_status("Encrypting…")
        self._export(target, passphrase)

    @work(thread=True, exclusive=True, group="bundle-export", exit_on_error=False)
    def _export(self, target: str, passphrase: str) -> None:
        try:
            self.post_message(BundleDone(self.app.core.export_bundle(target, passphrase)))
        except CertifyError as exc:
            self.post_message(BundleFailed.of(exc))
        except Exception as exc:  # noqa: BLE001 - shown as a line, never a traceback
            self.post_message(BundleFailed(f"Unexpected error: {exc}"))

    @on(BundleDone)
    def _done(self, event: BundleDone) -> None:
        self.busy = False
        done = event.summary
        self.notify(f"Wrote {done['file']}: {done['accounts']} account(s), {done['certificates']} certificate(s), "
                    f"{done['credentials']} credential(s). Keep the passphrase apart from it.")
        self.dismiss(True)


class ImportBundleScreen(_BundleDialog):
    BINDINGS = [
        Binding("ctrl+r", "preview", "Preview", priority=True),
        Binding("ctrl+s", "import", "Import", priority=True),
        Binding("escape", "cancel", "Cancel"),
    ]

    plan: BundlePlan | None = None  # the preview shown; None until one is (or after an input changed)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label("Import a bundle  ·  ctrl+r preview  ·  ctrl+s import  ·  Esc cancel", id="bundle-title")
            yield _field("Bundle file", Input(placeholder="/root/certify-tui.bundle", id="bundle-file", compact=True))
            yield _field("Passphrase", Input(password=True, id="bundle-passphrase", compact=True))
            yield Checkbox("Replace conflicts (same name, other content) with the bundle's", id="bundle-replace",
                           compact=True)
            yield Label("Give the file and its passphrase, then preview what the import would do.",
                        id="bundle-status", markup=False)
            yield DataTable(id="bundle-plan", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#bundle-plan", DataTable)
        table.add_columns("State", "Kind", "Name", "Detail")
        table.display = False
        self.query_one("#bundle-file", Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "bundle-passphrase":
            self.action_preview()
        else:
            self.focus_next()

    @on(Input.Changed)
    def _stale(self) -> None:
        if self.plan is not None:  # another file or passphrase: the preview no longer says what would happen
            self.plan = None
            self.query_one("#bundle-plan", DataTable).display = False
            self._show_status("Changed: preview again (ctrl+r).")

    @on(Checkbox.Changed, "#bundle-replace")
    def _replace_changed(self, event: Checkbox.Changed) -> None:
        if self.plan is not None:
            self.plan.replace = event.value
            self._show_plan(self.plan)

    def action_preview(self) -> None:
        if self.busy:
            return
        source = self._value("#bundle-file").strip()
        if not source:
            self._show_status("✗ Give the bundle's file name.", error=True)
            return
        self.busy = True
        self._show_status("Decrypting and comparing…")
        self._plan(source, self._value("#bundle-passphrase"), self.query_one("#bundle-replace", Checkbox).value)

    @work(thread=True, exclusive=True, group="bundle-plan", exit_on_error=False)
    def _plan(self, source: str, passphrase: str, replace: bool) -> None:
        try:
            self.post_message(BundlePlanned(self.app.core.plan_bundle_import(source, passphrase, replace=replace)))
        except CertifyError as exc:
            self.post_message(BundleFailed.of(exc))
        except Exception as exc:  # noqa: BLE001 - shown as a line, never a traceback
            self.post_message(BundleFailed(f"Unexpected error: {exc}"))

    @on(BundlePlanned)
    def _planned(self, event: BundlePlanned) -> None:
        self.busy = False
        self.plan = event.plan
        self._show_plan(event.plan)

    def _show_plan(self, plan: BundlePlan) -> None:
        table = self.query_one("#bundle-plan", DataTable)
        table.clear()
        for item in plan.items:
            if item.state == "unchanged":
                continue
            state = item.state if plan.applies(item) or item.state == "skipped" else f"{item.state} (skipped)"
            table.add_row(state, item.kind, item.name, item.detail)
        table.display = table.row_count > 0
        counts = plan.counts()
        applied = sum(1 for item in plan.items if plan.applies(item))
        self._show_status(f"{counts['new']} new, {counts['changed']} changed, {counts['conflict']} in conflict"
                          f"{' (replaced)' if plan.replace and counts['conflict'] else ''}, {counts['unchanged']} "
                          f"unchanged, {counts['skipped']} not usable here. "
                          + (f"ctrl+s imports {applied} item(s)." if applied else "Nothing to import."))

    def action_import(self) -> None:
        plan = self.plan
        if self.busy:
            return
        if plan is None:
            self._show_status("✗ Preview first (ctrl+r): the import applies exactly what it shows.", error=True)
            return
        applied = sum(1 for item in plan.items if plan.applies(item))
        if not applied:
            self._show_status("Nothing to import: everything in the bundle is here already or skipped.")
            return

        def answered(yes: bool | None) -> None:
            if yes and self.plan is plan:
                self.busy = True
                self._show_status("Importing…")
                self._apply(plan)

        conflicts = plan.counts()["conflict"]
        what = f"; {conflicts} conflict(s) {'replaced' if plan.replace else 'skipped'}" if conflicts else ""
        self.app.push_screen(ConfirmScreen(f"Import {applied} item(s) from {plan.file}{what}?", "Import", "Cancel"),
                             answered)

    @work(thread=True, exclusive=True, group="bundle-apply", exit_on_error=False)
    def _apply(self, plan: BundlePlan) -> None:
        try:
            self.post_message(BundleDone(self.app.core.import_bundle(plan)))
        except CertifyError as exc:
            self.post_message(BundleFailed.of(exc))
        except Exception as exc:  # noqa: BLE001 - shown as a line, never a traceback
            self.post_message(BundleFailed(f"Unexpected error: {exc}"))

    @on(BundleDone)
    def _done(self, event: BundleDone) -> None:
        self.busy = False
        self.notify(f"Imported {len(event.summary['applied'])} item(s), {event.summary['files']} with "
                    f"certificate files.")
        self.app.refresh_certificates()
        self.dismiss(True)
