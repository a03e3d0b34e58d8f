"""The Textual application: screens over the core's use cases, keyboard first."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from rich.console import RenderableType
from textual import events, on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.screen import ModalScreen, Screen

from certify_tui.tui.screens.certificates import CertificatesScreen
from certify_tui.tui.screens.confirm import ConfirmScreen

# The other screens are imported when first opened: the list must paint fast (see benchmarks/tui_list.py).

if TYPE_CHECKING:
    from certify_tui.lifecycle import Core
    from certify_tui.lifecycle.renew import RenewOutcome
    from certify_tui.plan import Plan
    from certify_tui.renewal.worker import RenewalWorker


class RenewalFinished(Message):
    """The background renewal worker finished with one certificate."""

    def __init__(self, outcome: RenewOutcome) -> None:
        super().__init__()
        self.outcome = outcome


class CertifyApp(App[None]):
    TITLE = "certify-tui"
    CSS_PATH = "app.tcss"
    BINDINGS = [
        Binding("question_mark", "help", "Help"),
        Binding("f1", "help", "Help", show=False, priority=True),  # works even while typing in a field
        Binding("a", "accounts", "Accounts"),
        Binding("s", "settings", "Settings"),
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(self, core: Core, *, renewal_worker: bool = False) -> None:
        super().__init__()
        self.core = core
        self.requests_running = 0  # the request screen counts itself in and out
        self.start_worker = renewal_worker
        self.renewer: RenewalWorker | None = None
        self.quitting = False

    def exit(self, result: None = None, return_code: int = 0, message: RenderableType | None = None) -> None:
        self.quitting = True
        super().exit(result, return_code, message)

    async def on_event(self, event: events.Event) -> None:
        # exit() queues its message behind keys already typed ("q s"): a key handled after it would push
        # a screen that shutdown tears down before it composes. Once quitting, input starts nothing.
        if self.quitting and isinstance(event, events.InputEvent):
            return
        await super().on_event(event)

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """Notifications show messages from the core, which quote what people typed and what CAs answered:
        never markup ('[@click=...]' in a name would make a clickable action). Every screen's notify ends here."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    def on_mount(self) -> None:
        self.push_screen(CertificatesScreen())
        if self.start_worker:
            self._start_renewal_worker()

    @work(thread=True, group="renewal-worker", exit_on_error=False)
    def _start_renewal_worker(self) -> None:
        """Renew in the background while the app is open, unless a headless service already does."""
        from certify_tui.renewal.worker import RenewalWorker

        status = self.core.worker_status()
        if status and status.get("where") == "service" and status.get("running") and not status.get("stale"):
            return  # the service renews; two workers would only compete for leases
        worker = RenewalWorker(self.core, where="tui",
                               on_outcome=lambda outcome: self.post_message(RenewalFinished(outcome)))
        worker.start()
        self.renewer = worker

    @on(RenewalFinished)
    def _renewal_finished(self, message: RenewalFinished) -> None:
        outcome = message.outcome
        if outcome.action in ("renewed", "failed", "deploy-failed"):
            severity: SeverityLevel = "information" if outcome.ok else "error"
            self.notify(f"{outcome.name}: {outcome.message}", severity=severity, title="Renewal")
            self.refresh_certificates()

    def on_unmount(self) -> None:
        if self.renewer is not None:
            self.renewer.stop(wait=False)  # in-flight orders stop at their next step and stay resumable

    # -- navigation, shared by screens and the command palette ---------------------------------
    def _home(self) -> CertificatesScreen | None:
        return next((s for s in reversed(self.screen_stack) if isinstance(s, CertificatesScreen)), None)

    def refresh_certificates(self, keep: str | None = None) -> None:
        home = self._home()
        if home is not None:
            home.reload(keep)

    def open_editor(self, name: str | None) -> None:
        from certify_tui.tui.screens.editor import CertificateEditorScreen

        def saved(result: str | None) -> None:
            if result:
                self.refresh_certificates(result)

        self.push_screen(CertificateEditorScreen(name), saved)

    def open_request(self, name: str, plan: Plan | None = None) -> None:
        """Request `name` now; `plan`: the preview the person saw, which the request must still match."""
        from certify_tui.tui.screens.request import RequestScreen

        self.push_screen(RequestScreen(name, plan), lambda _ok: self.refresh_certificates(name))

    def _push_once(self, screen_type: type[Screen[Any]], factory: Callable[[], Screen[Any]]) -> None:
        # Not over a dialog (a stray key there must not stack screens), nor twice in a row.
        if isinstance(self.screen, ModalScreen) and not isinstance(self.screen, screen_type):
            return
        if not isinstance(self.screen, screen_type):
            self.push_screen(factory())

    def action_help(self) -> None:
        from certify_tui.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_accounts(self) -> None:
        from certify_tui.tui.screens.accounts import AccountsScreen

        self._push_once(AccountsScreen, AccountsScreen)

    def action_settings(self) -> None:
        from certify_tui.tui.screens.settings import SettingsScreen

        self._push_once(SettingsScreen, SettingsScreen)

    def action_export_bundle(self) -> None:
        from certify_tui.tui.screens.bundle import ExportBundleScreen

        self._push_once(ExportBundleScreen, ExportBundleScreen)

    def action_import_bundle(self) -> None:
        from certify_tui.tui.screens.bundle import ImportBundleScreen

        self._push_once(ImportBundleScreen, ImportBundleScreen)

    async def action_quit(self) -> None:
        if self.requests_running:
            def answered(yes: bool | None) -> None:
                if yes:
                    self.exit()

            self.push_screen(ConfirmScreen(
                "A certificate request is running. Quit anyway? It stops at the next step; "
                "current certificate files are never left half-written.", "Quit", "Stay", danger=True), answered)
            return
        self.exit()

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("New certificate", "Describe a new managed certificate", lambda: self.open_editor(None))
        yield SystemCommand("Accounts", "List, add and deactivate ACME accounts", self.action_accounts)
        yield SystemCommand("Settings", "Renewal defaults and the renewal worker", self.action_settings)
        yield SystemCommand("Help", "Every key binding", self.action_help)
        yield SystemCommand("Export bundle", "Everything (accounts, certificates, credentials, settings) to one "
                                             "encrypted file, to move to another server", self.action_export_bundle)
        yield SystemCommand("Import bundle", "Preview and import an encrypted bundle from another installation",
                            self.action_import_bundle)
        home = self._home()
        if home is not None:
            yield SystemCommand("Filter certificates", "Show only certificates matching a text",
                                home.action_filter)
            yield SystemCommand("Show app log", "Follow the application log in the log pane", home.action_app_log)


def run_tui(core: Core) -> int:
    CertifyApp(core, renewal_worker=True).run()
    return 0
