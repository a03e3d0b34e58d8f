"""Step 3, Deployment: where the files go (the mode, and the site for "single") and the tasks run afterwards."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Label, Select

from certify_tui.errors import CertifyError
from certify_tui.lifecycle.certificates import BINDING_CHOICES, CertificateSpec
from certify_tui.tui.messages import Failed
from certify_tui.tui.screens.editor.steps import row
from certify_tui.tui.screens.editor.tasks import TaskEditor
from certify_tui.tui.widgets.plugin_items import Item

if TYPE_CHECKING:
    from certify_tui.deploy.base import DeploymentTask, Site
    from certify_tui.tui.app import CertifyApp


class SitesLoaded(Message):
    """The nginx and Apache sites discovered on this machine."""

    def __init__(self, sites: list[Site]) -> None:
        super().__init__()
        self.sites = sites


class SitesFailed(Failed):
    """Site discovery failed."""


class DeploymentStep(VerticalScroll):
    """Edits `deployment_mode`, `deployment_site` and `tasks`; `names` gives the Domains step's current names
    (the "auto" mode deploys to the sites they cover)."""

    app: CertifyApp

    def __init__(self, names: Callable[[], Sequence[str]], *, classes: str | None = None) -> None:
        super().__init__(classes=classes)
        self.names = names
        self.site_id: str | None = None  # the chosen site for the "single" mode
        self.sites: list[Site] | None = None  # None until discovered
        self.sites_error: str | None = None

    def compose(self) -> ComposeResult:
        core = self.app.core
        self.modes = core.deployment_modes()
        task_types = {t.id: t for t in core.deployment_task_types()}  # a broken plug-in is skipped, never raised
        yield row("Mode", Select[str]([(m, m) for m in self.modes], allow_blank=False, id="deploy-mode",
                                      compact=True))
        yield Label("", id="deploy-description", classes="help indented")
        yield row("Site", Select[str]([], prompt="Choose a site", id="deploy-site", compact=True), id="site-row")
        yield Label("", id="sites-note", classes="indented", markup=False)
        yield row("Binding", Select[str]([(label, key) for key, label in BINDING_CHOICES.items()],
                                         allow_blank=False, id="deploy-binding", compact=True), id="binding-row")
        yield TaskEditor(task_types)

    def on_mount(self) -> None:
        self.query_one("#site-row").display = False
        self.query_one("#binding-row").display = False
        self.query_one("#sites-note").display = False

    # -- the spec's slice ----------------------------------------------------------------------
    @property
    def task_types(self) -> dict[str, type[DeploymentTask]]:
        return self.query_one(TaskEditor).task_types

    @property
    def tasks(self) -> list[Item]:
        return self.query_one(TaskEditor).items

    @property
    def mode(self) -> str:
        return str(self.query_one("#deploy-mode", Select).value)

    async def load(self, spec: CertificateSpec) -> None:
        self.site_id = spec.deployment_site
        await self.query_one(TaskEditor).load_tasks(spec.tasks or [])
        with self.prevent(Select.Changed):
            self.query_one("#deploy-mode", Select).value = spec.deployment_mode
            self.query_one("#deploy-binding", Select).value = spec.deployment_binding

    def apply(self, spec: CertificateSpec) -> None:
        spec.deployment_mode = self.mode
        spec.deployment_site = self.site_id if self.mode == "single" else None
        spec.deployment_binding = str(self.query_one("#deploy-binding", Select).value)
        spec.tasks = self.query_one(TaskEditor).specs()

    def comparable(self) -> dict[str, Any]:
        return {"tasks": self.query_one(TaskEditor).comparable()}

    # -- the mode and the sites ------------------------------------------------------------------
    @on(Select.Changed, "#deploy-mode")
    def _mode_changed(self) -> None:
        self.show(rediscover=self.sites is None)

    @on(Select.Changed, "#deploy-binding")
    def _binding_changed(self) -> None:
        self.show()

    @on(Select.Changed, "#deploy-site")
    def _site_chosen(self, event: Select.Changed) -> None:
        self.site_id = None if event.value is Select.NULL else str(event.value)
        self.show()

    def show(self, rediscover: bool = False) -> None:
        """The mode's description, and the site choice ("single") or the sites it would cover ("auto")."""
        mode = self.mode
        self.query_one("#deploy-description", Label).update(self.modes.get(mode, ""))
        uses_sites = mode in ("auto", "single")
        self.query_one("#site-row").display = mode == "single"
        self.query_one("#binding-row").display = uses_sites
        if uses_sites and rediscover:
            self._discover()
        note = self.query_one("#sites-note", Label)
        note.display = uses_sites
        if not uses_sites:
            return
        problem = True
        if self.sites is None:
            text: str | Text = "Looking for nginx and Apache sites…"
            problem = False
        elif self.sites_error:
            text = f"✗ {self.sites_error}"
        elif not self.sites:
            text = "No nginx or Apache sites found: set their configuration files in Settings (s)."
        elif mode == "single":
            text = self._site_detail()
            problem = self.site_id is None or text.plain.startswith("✗")
        else:
            text, problem = self._coverage()
        note.update(text)
        note.set_class(problem, "-warning")

    def _site_detail(self) -> Text:
        site = next((s for s in self.sites or [] if s.id == self.site_id), None)
        if self.site_id is None:
            return Text(f"Choose one of the {len(self.sites or [])} site(s) found.")
        if site is None:
            return Text(f"✗ The site {self.site_id} is not in the web server configuration any more: choose again.")
        ports = ", ".join(str(p) for p in site.ports) or "no port"
        line = Text(f"{site.config_file}:{site.line} · listens on {ports}" + (" with TLS" if site.tls else ""))
        if site.certificate:
            line.append(f" · now serves {site.certificate}")
        return line

    def _coverage(self) -> tuple[Text, bool]:
        """The discovered sites "auto" deploys to with the current names and binding, and those it skips."""
        from certify_tui.deploy.sites import select_sites

        found = self.sites or []
        chosen = select_sites(list(self.names()), found, str(self.query_one("#deploy-binding", Select).value))
        if not chosen.sites:
            text = Text(f"None of the {len(found)} site(s) found has all its names in this certificate"
                        + (" and TLS" if chosen.skipped else "") + ": nothing would be deployed.")
        else:
            text = Text(f"Deploys to {len(chosen.sites)} of {len(found)} site(s) found:")
        for site in chosen.sites:
            text.append(f"\n• {site.server} {', '.join(site.hostnames)}  ")
            text.append(site.location, style="dim")
            if site in chosen.add_tls:
                text.append("  (adds a TLS listener)")
        skipped = [(s, "only partly covered by this certificate") for s in chosen.partial] + list(chosen.skipped)
        for site, reason in skipped:
            text.append(f"\n– skipped {site.server} {', '.join(site.hostnames)}: {reason}", style="dim")
        return text, not chosen.sites

    @work(thread=True, exclusive=True, group="editor-sites", exit_on_error=False)
    def _discover(self) -> None:
        try:
            sites = list(self.app.core.discover_sites())
        except CertifyError as exc:
            self.post_message(SitesFailed.of(exc))
        except Exception as exc:  # noqa: BLE001 - shown as a line, never a traceback
            self.post_message(SitesFailed(f"Site discovery failed: {exc}"))
        else:
            self.post_message(SitesLoaded(sites))

    @on(SitesLoaded)
    def _sites_loaded(self, event: SitesLoaded) -> None:
        self._sites_found(event.sites, None)

    @on(SitesFailed)
    def _sites_failed(self, event: SitesFailed) -> None:
        event.stop()  # shown in the step, not as an editor error
        self._sites_found([], event.message)

    def _sites_found(self, sites: list[Site], error: str | None) -> None:
        self.sites, self.sites_error = sites, error
        if self.site_id and self.site_id not in [s.id for s in sites]:
            # Stored as "file:line" by an older version, or the site gained a port: choose it by its id now.
            from certify_tui.deploy.sites.identity import resolve_stored

            current = resolve_stored(self.site_id, sites)
            self.site_id = current.id if current is not None else self.site_id
        options = [(f"{s.server}  {', '.join(s.hostnames) or '(no name)'}  {s.config_file}:{s.line}", s.id)
                   for s in sites]
        if self.site_id and self.site_id not in [s.id for s in sites]:
            options.append((f"{self.site_id}  (not found any more)", self.site_id))
        select = self.query_one("#deploy-site", Select)
        with self.prevent(Select.Changed):
            select.set_options(options)
            if self.site_id:
                select.value = self.site_id
        self.show()
