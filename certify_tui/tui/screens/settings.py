"""Settings: the application settings as a form (declared like plug-in parameters), and the renewal worker.

The form comes from `core.settings_params()`, filled from `core.settings()`; ctrl+s saves through
`core.update_settings`, and any error is shown inline (nothing is saved then). "Send test notification"
(ctrl+t) sends one message to every saved channel (`settings test-notification`'s core); "New SMTP login"
(ctrl+l) stores the email channel's user and password as a credential. Loading, saving
and sending run in thread workers, so a slow database or SMTP server never freezes the screen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, Static

from certify_tui.errors import CertifyError
from certify_tui.tui.messages import Failed
from certify_tui.tui.screens.confirm import ConfirmScreen
from certify_tui.tui.widgets.plugin_form import PluginForm

if TYPE_CHECKING:
    from certify_tui.lifecycle import Core
    from certify_tui.model import Credential
    from certify_tui.notify import DeliveryResult
    from certify_tui.tui.app import CertifyApp


class SettingsLoaded(Message):
    """The stored settings (key -> value)."""

    def __init__(self, values: dict[str, Any]) -> None:
        super().__init__()
        self.values = values


class SettingsLoadFailed(Failed):
    """The settings could not be read."""


class SettingsSaved(Message):
    """The settings as saved (key -> value)."""

    def __init__(self, values: dict[str, Any]) -> None:
        super().__init__()
        self.values = values


class SettingsSaveFailed(Failed):
    """The core refused the changes; nothing was saved."""


class NotificationTestDone(Message):
    """The test notification went out (or not): to which channels, and why not."""

    def __init__(self, result: DeliveryResult) -> None:
        super().__init__()
        self.result = result


class NotificationTestFailed(Failed):
    """The channels could not even be read."""


def renewal_worker_status(core: Core) -> str:
    """What the read-only "Renewal worker" section says, from the last heartbeat any worker wrote."""
    status = core.worker_status()
    if status is None:
        return ("No renewal worker has run yet. It runs inside this app when started with `certify-tui`, "
                "or headless with `certify-tui service` (systemd: `certify-tui service --print-systemd-unit`).")
    where = "this app" if status.get("where") == "tui" else "the headless service"
    place = f"{where} (pid {status.get('pid')} on {status.get('host')})"
    if status.get("stale") or not status.get("running"):
        last = (status.get("last_check") or "never")[:16].replace("T", " ")
        return f"Not running. Last seen in {place}; last check {last} UTC."
    nxt = (status.get("next_check") or "-")[:16].replace("T", " ")
    last = (status.get("last_check") or "not yet")[:16].replace("T", " ")
    return (f"Running in {place}: checks every {status.get('interval_minutes'):g} min, "
            f"{status.get('pool_size')} at once. Last check {last}, next {nxt} UTC.")


class SettingsScreen(Screen[None]):
    app: CertifyApp
    CSS_PATH = "settings.tcss"
    BINDINGS = [
        Binding("ctrl+s", "save", "Save"),
        Binding("ctrl+t", "test_notification", "Test notification"),
        Binding("ctrl+l", "new_smtp_login", "New SMTP login"),
        Binding("escape", "back", "Back"),
        Binding("f1", "app.help", "Help"),  # ? types into the fields here
    ]

    loaded = False  # the form is filled (tests wait for it)
    saved_values: dict[str, Any] | None = None  # what the database holds, as last read or saved
    test_result: DeliveryResult | None = None  # the last test notification's (tests wait for it)

    def compose(self) -> ComposeResult:
        yield Label("Settings  ·  ctrl+s saves  ·  Esc goes back", id="title-bar")
        with VerticalScroll(id="settings-body"):
            yield Label("Loading…", id="settings-loading")
            yield Label("", id="settings-error", markup=False)
        with Vertical(id="notify-test"):
            with Horizontal(id="notify-buttons"):
                yield Button("Send test notification (ctrl+t)", id="send-test-notification", compact=True)
                yield Button("New SMTP login (ctrl+l)", id="new-smtp-login", compact=True)
            yield Static("The test sends one message to every channel saved above.", id="notify-test-result",
                         markup=False)
        with Vertical(id="renewal-worker"):
            yield Label("Renewal worker", id="renewal-worker-title")
            yield Static(renewal_worker_status(self.app.core), id="renewal-worker-state")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#settings-error").display = False
        self._load()

    # -- workers (post messages only) ---------------------------------------------------------
    @work(thread=True, exclusive=True, group="settings-load", exit_on_error=False)
    def _load(self) -> None:
        try:
            self.post_message(SettingsLoaded(dict(self.app.core.settings())))
        except CertifyError as exc:
            self.post_message(SettingsLoadFailed.of(exc))

    @work(thread=True, exclusive=True, group="settings-save", exit_on_error=False)
    def _save(self, changes: dict[str, Any]) -> None:
        try:
            self.post_message(SettingsSaved(dict(self.app.core.update_settings(changes))))
        except CertifyError as exc:
            self.post_message(SettingsSaveFailed.of(exc))

    @work(thread=True, exclusive=True, group="settings-notify-test", exit_on_error=False)
    def _send_test(self) -> None:
        try:
            self.post_message(NotificationTestDone(self.app.core.send_test_notification()))
        except CertifyError as exc:
            self.post_message(NotificationTestFailed.of(exc))

    @on(SettingsLoaded)
    async def _loaded(self, message: SettingsLoaded) -> None:
        self.saved_values = message.values
        await self.query_one("#settings-loading").remove()
        form = PluginForm(self.app.core.settings_params(), self.saved_values, owner="settings", id="settings-form")
        await self.query_one("#settings-body").mount(form, after="#settings-error")
        self.loaded = True
        form.query("Input, Checkbox, Select").first().focus()

    @on(SettingsSaved)
    def _saved(self, message: SettingsSaved) -> None:
        self.saved_values = message.values
        self._show_error(None)
        self.notify("Settings saved.")

    @on(NotificationTestDone)
    def _test_done(self, message: NotificationTestDone) -> None:
        self.test_result = message.result
        self.query_one("#send-test-notification", Button).disabled = False
        self.query_one("#notify-test-result", Static).update(message.result.message)
        if message.result.ok:
            self.notify(message.result.message, title="Test notification")
        else:
            self.notify(message.result.message, severity="error", title="Test notification")

    @on(NotificationTestFailed)
    def _test_failed(self, message: NotificationTestFailed) -> None:
        self.query_one("#send-test-notification", Button).disabled = False
        self.query_one("#notify-test-result", Static).update(f"Not sent: {message.message}")

    @on(Button.Pressed, "#send-test-notification")
    def _test_pressed(self) -> None:
        self.action_test_notification()

    @on(Button.Pressed, "#new-smtp-login")
    def _login_pressed(self) -> None:
        self.action_new_smtp_login()

    @on(SettingsLoadFailed)
    def _load_failed(self, message: SettingsLoadFailed) -> None:
        self._show_error(f"Could not read the settings: {message.message}")

    @on(SettingsSaveFailed)
    def _save_failed(self, message: SettingsSaveFailed) -> None:
        self._show_error(f"Not saved: {message.message}")

    # -- actions ------------------------------------------------------------------------------
    def _form(self) -> PluginForm | None:
        forms = self.query(PluginForm)
        return forms.first() if forms else None

    def _changes(self) -> dict[str, Any]:
        form = self._form()
        if form is None or self.saved_values is None:
            return {}
        return {k: v for k, v in form.values().items() if self.saved_values.get(k) != v}

    def _show_error(self, text: str | None) -> None:
        label = self.query_one("#settings-error", Label)
        label.update(text or "")
        label.display = bool(text)

    def action_save(self) -> None:
        form = self._form()
        if form is None:
            return
        errors = form.show_errors()
        if errors:
            labels = [p.label for p in form.params if p.key in errors]
            self._show_error(f"Not saved: {', '.join(labels)} {'needs' if len(labels) == 1 else 'need'} "
                             "a valid value (see below).")
            return
        changes = self._changes()
        if not changes:
            self._show_error(None)
            self.notify("Nothing changed.")
            return
        self._save(changes)

    def action_test_notification(self) -> None:
        if self._changes():
            self.notify("Save first (ctrl+s): the test uses the saved channels.", severity="warning")
            return
        self.query_one("#send-test-notification", Button).disabled = True
        self.query_one("#notify-test-result", Static).update("Sending…")
        self._send_test()

    def action_new_smtp_login(self) -> None:
        """Store a user and password as a credential; its name goes into the "Email: login credential" field
        (ctrl+s saves it with the rest)."""
        from certify_tui.notify_channels import NOTIFY_KIND, SmtpLogin
        from certify_tui.tui.screens.credential_new import NewCredentialScreen

        def chosen(credential: Credential | None) -> None:
            fields = self.query("#field-notify_smtp_credential")
            if credential is not None and fields:
                field = fields.first(Input)
                field.value = credential.name
                field.focus()

        self.app.push_screen(NewCredentialScreen(NOTIFY_KIND, SmtpLogin), chosen)

    def action_back(self) -> None:
        if not self._changes():
            self.dismiss()
            return

        def answered(discard: bool | None) -> None:
            if discard:
                self.dismiss()

        self.app.push_screen(ConfirmScreen("Discard the unsaved changes to the settings?", "Discard", "Keep editing",
                                           danger=True), answered)
