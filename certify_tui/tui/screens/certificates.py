"""Home: the managed certificates, with filter, sort, and the live log pane."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input, Label

from certify_tui.errors import CertifyError
from certify_tui.lifecycle.certificates import CertificateRow
from certify_tui.tui.messages import Failed
from certify_tui.tui.screens.confirm import ConfirmScreen
from certify_tui.tui.widgets.certificate_list import COLUMNS, CertificateList
from certify_tui.tui.widgets.log_pane import LogPane

if TYPE_CHECKING:
    from certify_tui.tui.app import CertifyApp

EMPTY_NO_ACCOUNT = (
    "Welcome to certify-tui. First add an ACME account: press [b]a[/b] for Accounts, then [b]n[/b].\n"
    "Then press [b]n[/b] here to describe your first certificate."
)
EMPTY_NO_CERT = "No certificates yet. Press [b]n[/b] to add one (its names, how they are validated, where it goes)."


class RowsLoaded(Message):
    """The certificates' rows; `has_account` says whether any ACME account exists; `keep` stays highlighted."""

    def __init__(self, rows: list[CertificateRow], has_account: bool, keep: str | None) -> None:
        super().__init__()
        self.rows, self.has_account, self.keep = rows, has_account, keep


class LoadFailed(Failed):
    """The certificates could not be listed."""


class Deployed(Message):
    """The certificate `name` was deployed again."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name


class DeployFailed(Failed):
    """Deploying again failed."""


class Deleted(Message):
    """The certificate `name` and its files are gone."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name


class DeleteFailed(Failed):
    """The certificate could not be deleted."""


class RevokeReady(Message):
    """What revoking `name` would revoke (its current serial), checked: ask before sending anything."""

    def __init__(self, name: str, serial: str) -> None:
        super().__init__()
        self.name, self.serial = name, serial


class Revoked(Message):
    """The CA revoked `serial` of `name`; `replacement`: the new current serial when one was ordered first."""

    def __init__(self, name: str, serial: str, reason: str, replacement: str | None) -> None:
        super().__init__()
        self.name, self.serial, self.reason, self.replacement = name, serial, reason, replacement


class RevokeFailed(Failed):
    """The revocation was refused or could not be sent."""


class CertificatesScreen(Screen[None]):
    app: CertifyApp
    BINDINGS = [
        Binding("n", "new", "New"),
        Binding("r", "request", "Request/renew"),
        Binding("d", "delete", "Delete"),
        Binding("t", "test", "Test"),
        Binding("D", "deploy", "Deploy again", show=False),
        Binding("x", "revoke", "Revoke", show=False),
        Binding("slash", "filter", "Filter"),
        Binding("o", "sort", "Sort"),
        Binding("l", "toggle_log", "Log"),
        Binding("L", "app_log", "App log", show=False),
        Binding("plus,equals_sign", "resize_log(2)", "Log bigger", show=False),
        Binding("minus", "resize_log(-2)", "Log smaller", show=False),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        Binding("f5,ctrl+r", "reload", "Reload", show=False),
    ]

    loaded = False  # set once the first rows arrived (tests wait for it)
    _follow_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Label("certify-tui", id="title-bar")
        yield Input(placeholder="Filter: any text (Esc clears)", id="filter")
        yield Label("Loading…", id="empty")
        yield CertificateList(id="certificates")
        yield LogPane(id="log-pane")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#filter").display = False
        self.query_one(CertificateList).focus()
        self.reload()

    # -- loading ------------------------------------------------------------------------------
    def reload(self, keep: str | None = None) -> None:
        self._load(keep)

    @work(thread=True, exclusive=True, group="load-certificates", exit_on_error=False)
    def _load(self, keep: str | None) -> None:
        try:
            rows = self.app.core.certificate_rows()
            has_account = bool(rows) or bool(self.app.core.list_accounts())
        except CertifyError as exc:
            self.post_message(LoadFailed.of(exc))
            return
        self.post_message(RowsLoaded(rows, has_account, keep))

    @on(RowsLoaded)
    def _rows_loaded(self, event: RowsLoaded) -> None:
        self._show_rows(event.rows, event.has_account, event.keep)

    @on(Deleted)
    def _deleted(self, event: Deleted) -> None:
        self.notify(f"Deleted {event.name}.")
        self.reload()

    @on(Deployed)
    def _deployed(self, event: Deployed) -> None:
        self.notify(f"Deployed {event.name}.")
        self.reload(event.name)

    @on(LoadFailed)
    @on(DeleteFailed)
    @on(DeployFailed)
    @on(RevokeFailed)
    def _failed(self, event: Failed) -> None:
        titles = {DeleteFailed: "Delete failed", DeployFailed: "Deployment failed", RevokeFailed: "Not revoked"}
        self.notify(event.message, severity="error", title=titles.get(type(event), "Error"))

    def _show_rows(self, rows: list[CertificateRow], has_account: bool, keep: str | None) -> None:
        self.loaded = True
        table = self.query_one(CertificateList)
        table.set_rows(rows, keep)
        empty = self.query_one("#empty", Label)
        empty.display = not rows
        empty.update(EMPTY_NO_CERT if has_account else EMPTY_NO_ACCOUNT)
        self._update_title()
        if not rows:
            self.query_one(LogPane).follow(self.app.core.data.app_log, "certify-tui (app log)")

    # -- list events --------------------------------------------------------------------------
    @on(CertificateList.Highlighted)
    def _highlighted(self, event: CertificateList.Highlighted) -> None:
        # Follow the log only once the cursor rests: holding an arrow key or typing a filter
        # should not start a file reader per row passed.
        if self._follow_timer is not None:
            self._follow_timer.stop()
        if event.name:
            name = event.name
            self._follow_timer = self.set_timer(
                0.12, lambda: self.query_one(LogPane).follow(self.app.core.data.certificate_log(name), name))

    @on(CertificateList.Opened)
    def _opened(self, event: CertificateList.Opened) -> None:
        self.app.open_editor(event.name)

    # -- filter -------------------------------------------------------------------------------
    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.query_one(CertificateList).set_filter(event.value)
        self._update_title()

    def _update_title(self) -> None:
        table = self.query_one(CertificateList)
        total = len(table.rows)
        count = f"{len(table.shown)} of {total}" if table.filter_text else str(total)
        noun = "certificate" if total == 1 else "certificates"
        self.query_one("#title-bar", Label).update(f"certify-tui  ·  {count} {noun}  ·  ? help  ·  a accounts")

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        self.query_one(CertificateList).focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = ""
        box.display = False
        self.query_one(CertificateList).focus()

    def action_sort(self) -> None:
        """Cycle the sort column; the same column twice reverses."""
        table = self.query_one(CertificateList)
        keys = [c.key for c in COLUMNS]
        if table.sort_reverse:
            table.sort_by(keys[(keys.index(table.sort_key) + 1) % len(keys)])
        else:
            table.sort_by(table.sort_key)

    # -- actions ------------------------------------------------------------------------------
    def action_new(self) -> None:
        self.app.open_editor(None)

    def action_request(self) -> None:
        name = self.query_one(CertificateList).current_name
        if name:
            self.app.open_request(name)
        else:
            self.notify("No certificate selected.", severity="warning")

    def action_deploy(self) -> None:
        name = self.query_one(CertificateList).current_name
        if name:
            self.notify(f"Deploying {name} again (no new order)…")
            self._deploy(name)

    @work(thread=True, group="deploy", exit_on_error=False)
    def _deploy(self, name: str) -> None:
        try:
            error = self.app.core.deploy(name)
        except CertifyError as exc:
            self.post_message(DeployFailed.of(exc))
            return
        if error:
            self.post_message(DeployFailed(f"{name}: {error}"))
        else:
            self.post_message(Deployed(name))

    def action_test(self) -> None:
        from certify_tui.tui.screens.cert_test import CertTestScreen

        name = self.query_one(CertificateList).current_name
        if name:
            self.app.push_screen(CertTestScreen(name))

    def action_delete(self) -> None:
        name = self.query_one(CertificateList).current_name
        if not name:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._delete(name)

        self.app.push_screen(ConfirmScreen(f"Delete '{name}' and its certificate files? This cannot be undone.",
                                           "Delete", "Keep", danger=True), answered)

    @work(thread=True, group="delete", exit_on_error=False)
    def _delete(self, name: str) -> None:
        try:
            self.app.core.remove_certificate(name)
        except CertifyError as exc:
            self.post_message(DeleteFailed.of(exc))
            return
        self.post_message(Deleted(name))

    def action_revoke(self) -> None:
        name = self.query_one(CertificateList).current_name
        if name:
            self._revocation_target(name)
        else:
            self.notify("No certificate selected.", severity="warning")

    @work(thread=True, group="revoke", exit_on_error=False)
    def _revocation_target(self, name: str) -> None:
        try:
            name, serial = self.app.core.revocation_target(name)
        except CertifyError as exc:
            self.post_message(RevokeFailed.of(exc))
            return
        self.post_message(RevokeReady(name, serial))

    @on(RevokeReady)
    def _ask_revoke(self, event: RevokeReady) -> None:
        from certify_tui.tui.screens.revoke import RevokeChoice, RevokeScreen

        def answered(choice: RevokeChoice | None) -> None:
            if choice is not None:
                self.notify(f"Revoking {event.name} ({choice.reason})…")
                self._revoke(event.name, choice.reason, choice.renew)

        self.app.push_screen(RevokeScreen(event.name, event.serial), answered)

    @work(thread=True, group="revoke", exit_on_error=False)
    def _revoke(self, name: str, reason: str, renew: bool) -> None:
        try:
            result = self.app.core.revoke(name, reason=reason, renew=renew)
        except CertifyError as exc:
            self.post_message(RevokeFailed.of(exc))
            return
        self.post_message(Revoked(result.name, result.serial, result.reason, result.replacement_serial))

    @on(Revoked)
    def _revoked(self, event: Revoked) -> None:
        then = f"; {event.replacement} is in place" if event.replacement else "; request it to replace it"
        self.notify(f"Revoked {event.name} ({event.serial}, {event.reason}){then}.")
        self.reload(event.name)

    def action_toggle_log(self) -> None:
        pane = self.query_one(LogPane)
        pane.display = not pane.display

    def action_app_log(self) -> None:
        pane = self.query_one(LogPane)
        pane.display = True
        pane.follow(self.app.core.data.app_log, "certify-tui (app log)")

    def action_resize_log(self, delta: int) -> None:
        pane = self.query_one(LogPane)
        pane.display = True
        height = pane.styles.height.value if pane.styles.height else 8
        pane.styles.height = max(3, min(int(height) + delta, self.size.height - 6))

    def action_reload(self) -> None:
        self.reload(self.query_one(CertificateList).current_name)
