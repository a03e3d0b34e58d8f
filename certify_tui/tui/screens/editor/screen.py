"""Certificate editor: five steps (Domains, Validation, Deployment, Advanced, Preview), keyboard first.

Each step is a widget that loads its slice of the CertificateSpec and writes it back (`load` / `apply`);
this screen moves between the steps, builds the draft from them, saves it and asks before dropping it.
The core checks each name as it is typed, builds the preview from the draft and validates it again on save.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Label, TabbedContent, TabPane

from certify_tui.errors import CertifyError
from certify_tui.lifecycle.certificates import CertificateSpec
from certify_tui.tui.messages import Failed
from certify_tui.tui.screens.confirm import ConfirmScreen
from certify_tui.tui.screens.editor.advanced import AdvancedStep
from certify_tui.tui.screens.editor.deployment import DeploymentStep
from certify_tui.tui.screens.editor.domains import DomainsStep
from certify_tui.tui.screens.editor.preview import PreviewFailed, PreviewStep
from certify_tui.tui.screens.editor.steps import FIRST_FOCUS, STEP_TITLES, STEPS, GoTo, step_for
from certify_tui.tui.screens.editor.validation import ValidationStep
from certify_tui.tui.widgets.plugin_items import PluginItems

if TYPE_CHECKING:
    from certify_tui.deploy.base import DeploymentTask, Site
    from certify_tui.plan import Plan
    from certify_tui.tui.app import CertifyApp
    from certify_tui.tui.widgets.plugin_items import Item


class Loaded(Message):
    """The active accounts ((id, "email (CA)")) and the spec to edit."""

    def __init__(self, accounts: list[tuple[str, str]], spec: CertificateSpec) -> None:
        super().__init__()
        self.accounts = accounts
        self.spec = spec


class LoadFailed(Failed):
    """The accounts or the stored certificate could not be read."""


class Saved(Message):
    """The certificate `name` is saved; `then_request` opens its request."""

    def __init__(self, name: str, then_request: bool) -> None:
        super().__init__()
        self.name = name
        self.then_request = then_request


class SaveFailed(Failed):
    """The core refused the draft; nothing was saved."""


class CertificateEditorScreen(Screen[str | None]):
    """Edits the certificate `name`, or a new one when None; dismisses with the saved name or None."""

    app: CertifyApp
    CSS_PATH = "editor.tcss"
    BINDINGS = [
        Binding("ctrl+right,alt+n,ctrl+n", "step(1)", "Steps", priority=True, key_display="^←/^→"),
        Binding("ctrl+left,alt+p", "step(-1)", "Previous step", priority=True, show=False),
        Binding("ctrl+s", "save(False)", "Save", priority=True),
        Binding("ctrl+r", "save(True)", "Save+request", priority=True),
        Binding("ctrl+l", "load_site", "Names from a site", show=False, priority=True),
        Binding("escape", "back", "Back"),
        Binding("q", "quit", "Quit", show=False),  # the app's q would drop unsaved changes without asking
        # The app's keys still work here, but the footer has no room for them at 80 columns.
        Binding("question_mark", "app.help", "Help", show=False),
        Binding("a", "app.accounts", "Accounts", show=False),
        Binding("s", "app.settings", "Settings", show=False),
    ]

    loaded = False  # set once the draft is on screen (tests wait for it)
    saving = False

    def __init__(self, name: str | None) -> None:
        super().__init__()
        self.certificate_name = name
        self.domains = DomainsStep(name, lambda domain: self.validation.challenge_for(domain), classes="step")
        self.validation = ValidationStep(classes="step")
        self.deployment = DeploymentStep(lambda: self.domains.names, classes="step")
        self.advanced = AdvancedStep(classes="step")
        self.preview = PreviewStep(id="plan")
        self._baseline: dict[str, Any] | None = None
        self.shown_plan: Plan | None = None  # the preview on screen when saving, handed to the request

    # -- what the steps hold (read by tests) -------------------------------------------------------
    @property
    def rules(self) -> list[Item]:
        return self.validation.rules

    @property
    def tasks(self) -> list[Item]:
        return self.deployment.tasks

    @property
    def task_types(self) -> dict[str, type[DeploymentTask]]:
        return self.deployment.task_types

    @property
    def modes(self) -> dict[str, str]:
        return self.deployment.modes

    @property
    def sites(self) -> list[Site] | None:
        return self.deployment.sites

    @property
    def site_id(self) -> str | None:
        return self.deployment.site_id

    # -- layout and loading ----------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        title = f"Edit certificate · {self.certificate_name}" if self.certificate_name else "New certificate"
        yield Label(f"{title}  ·  ctrl+←/→ steps  ·  ctrl+s save  ·  esc back", id="title-bar")
        with TabbedContent(id="steps"):
            with TabPane("1 Domains", id="domains"):
                yield self.domains
            with TabPane("2 Validation", id="validation"):
                yield self.validation
            with TabPane("3 Deployment", id="deployment"):
                yield self.deployment
            with TabPane("4 Advanced", id="advanced"):
                yield self.advanced
            with TabPane("5 Preview", id="preview"):
                yield self.preview
        yield Label("", id="status")
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#status").display = False
        self.query_one("#cert-name" if not self.certificate_name else "#domain-input").focus()
        self._load()

    @work(thread=True, exclusive=True, group="editor-load", exit_on_error=False)
    def _load(self) -> None:
        core = self.app.core
        try:
            accounts = [(str(a.id), f"{a.email} ({a.ca_name or a.directory_url})")
                        for a in core.list_accounts() if a.status == "valid"]
            # A new certificate starts from the default rule chosen in settings (e.g. a webroot).
            spec = (core.certificate_spec(self.certificate_name) if self.certificate_name
                    else CertificateSpec(name="", domains=[], rules=[core.default_rule()]))
        except CertifyError as exc:
            self.post_message(LoadFailed.of(exc))
            return
        self.post_message(Loaded(accounts, spec))

    @on(Loaded)
    async def _fill(self, event: Loaded) -> None:
        self.domains.load(event.spec, event.accounts)
        await self.validation.load(event.spec)
        await self.deployment.load(event.spec)
        self.advanced.load(event.spec)
        self.deployment.show()
        self.domains.show_wildcard_hint()
        self._baseline = self._draft()
        self.loaded = True

    @on(LoadFailed)
    def _load_failed(self, event: LoadFailed) -> None:
        self.notify(event.message, severity="error", title="Cannot edit")

    # -- step navigation ---------------------------------------------------------------------------
    def action_step(self, delta: int) -> None:
        tabs = self.query_one(TabbedContent)
        index = STEPS.index(tabs.active) if tabs.active in STEPS else 0
        self.go_to(STEPS[max(0, min(len(STEPS) - 1, index + delta))])

    def go_to(self, step: str) -> None:
        self.query_one(TabbedContent).active = step
        self.call_after_refresh(lambda: self.query_one(FIRST_FOCUS[step]).focus())

    @on(GoTo)
    def _go_to(self, event: GoTo) -> None:
        self.go_to(event.step)

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "preview":
            self.refresh_preview()
        elif event.pane.id == "deployment" and self.loaded:
            self.deployment.show(rediscover=True)

    def action_load_site(self) -> None:
        """Add the host names of a discovered nginx/Apache site to the Domains step."""
        from certify_tui.tui.screens.site_picker import SitePickerScreen

        def picked(hostnames: list[str] | None) -> None:
            if hostnames:
                self.domains.add_site_names(hostnames)

        self.go_to("domains")
        self.app.push_screen(SitePickerScreen(), picked)

    @on(PluginItems.Changed, "RuleEditor")
    def _rules_changed(self) -> None:
        self.domains.show_wildcard_hint()

    # -- the draft ---------------------------------------------------------------------------------
    def draft_spec(self) -> tuple[CertificateSpec, tuple[str, str] | None]:
        """The draft as a spec for the core, and any (message, field) problem the core would not see."""
        spec = CertificateSpec(name="", domains=[])
        self.domains.apply(spec)
        self.validation.apply(spec)
        self.deployment.apply(spec)
        renewal_error = self.advanced.apply(spec)
        return spec, (renewal_error, "renewal") if renewal_error else None

    def _draft(self) -> dict[str, Any]:
        """What the user can change, comparable before and after (defaults filled in)."""
        spec, _ = self.draft_spec()
        return {**spec.__dict__, **self.validation.comparable(), **self.deployment.comparable(),
                **self.advanced.comparable()}

    @property
    def dirty(self) -> bool:
        return self.loaded and self._baseline != self._draft()

    def refresh_preview(self) -> None:
        if not self.loaded:
            return
        spec, problem = self.draft_spec()
        if problem:
            self.preview.show_problem(problem[0], self._fix_hint(*problem))
            return
        self.preview.preview(spec, self.certificate_name)

    @on(PreviewFailed)
    def _preview_failed(self, event: PreviewFailed) -> None:
        self.preview.show_error(event.message, self._fix_hint(event.message, event.field))

    def _fix_hint(self, message: str, field: str | None) -> str:
        step = step_for(field)
        return f"Fix it in {STEP_TITLES[step]} (ctrl+← goes back), then come back here." if step else ""

    # -- saving and leaving ------------------------------------------------------------------------
    def action_save(self, then_request: bool = False) -> None:
        if not self.loaded or self.saving:
            return
        spec, problem = self.draft_spec()
        if problem:
            self._show_status(*problem)
            self.notify(problem[0], severity="error", title="Not saved")
            return
        self.saving = True
        self._show_status("")
        # The plan on screen, if the person is looking at it: the request must still do what it says.
        self.shown_plan = self.preview.plan if self.query_one(TabbedContent).active == "preview" else None
        self._save(spec, then_request)

    @work(thread=True, exclusive=True, group="editor-save", exit_on_error=False)
    def _save(self, spec: CertificateSpec, then_request: bool) -> None:
        core = self.app.core
        try:
            if self.certificate_name:
                cert = core.update_certificate(self.certificate_name, spec)
            else:
                cert = core.add_certificate(spec)
        except CertifyError as exc:
            self.post_message(SaveFailed.of(exc))
            return
        except Exception as exc:  # noqa: BLE001 - shown as a line, never a traceback
            self.post_message(SaveFailed(f"Unexpected error: {exc}"))
            return
        self.post_message(Saved(cert.name, then_request))

    @on(Saved)
    def _saved(self, event: Saved) -> None:
        self.saving = False
        self.notify(f"Saved {event.name}.")
        self.dismiss(event.name)
        if event.then_request:
            self.app.call_later(self.app.open_request, event.name, self.shown_plan)

    @on(SaveFailed)
    def _save_failed(self, event: SaveFailed) -> None:
        self.saving = False
        self._show_status(event.message, event.field)
        self.notify(event.message, severity="error", title="Not saved")

    def _show_status(self, message: str, field: str | None = None) -> None:
        status = self.query_one("#status", Label)
        step = step_for(field) if message else None
        where = f"  ({STEP_TITLES[step]} step)" if step else ""
        status.update(Text.assemble(("✗ ", "bold"), message, where) if message else "")
        status.display = bool(message)

    def action_back(self) -> None:
        self._leave(lambda: self.dismiss(None))

    async def action_quit(self) -> None:
        self._leave(lambda: self.app.call_later(self.app.action_quit))

    def _leave(self, then: Callable[[], object]) -> None:
        """Run `then` at once, or after the user agrees to drop unsaved changes."""
        if not self.dirty:
            then()
            return

        def answered(yes: bool | None) -> None:
            if yes:
                then()

        what = f"your changes to '{self.certificate_name}'" if self.certificate_name else "this new certificate"
        self.app.push_screen(ConfirmScreen(f"Discard {what}? Nothing has been saved.", "Discard", "Keep editing",
                                           danger=True), answered)
