"""Pick a discovered web server site; the editor loads its host names into the Domains step."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from certify_tui.errors import CertifyError
from certify_tui.tui.messages import Failed

if TYPE_CHECKING:
    from certify_tui.deploy.base import Site
    from certify_tui.tui.app import CertifyApp


class SitesFound(Message):
    """The nginx and Apache sites discovered on this machine."""

    def __init__(self, sites: list[Site]) -> None:
        super().__init__()
        self.sites = sites


class DiscoveryFailed(Failed):
    """The web server configuration could not be read."""


class SitePickerScreen(ModalScreen[list[str] | None]):
    """Dismisses with the chosen site's host names, or None."""

    app: CertifyApp
    CSS_PATH = "site_picker.tcss"
    BINDINGS = [Binding("escape", "dismiss(None)", "Back")]

    def __init__(self) -> None:
        super().__init__()
        self.sites: list[Site] = []
        self.loaded = False

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label("Load host names from a site  ·  Enter picks  ·  Esc back", id="picker-title")
            yield Label("Reading the nginx and Apache configuration…", id="picker-note")
            yield OptionList(id="sites")

    def on_mount(self) -> None:
        self._discover()

    @work(thread=True, exit_on_error=False, group="discover-sites")
    def _discover(self) -> None:
        try:
            sites = self.app.core.discover_sites()
        except CertifyError as exc:
            self.post_message(DiscoveryFailed.of(exc))
            return
        self.post_message(SitesFound(list(sites)))

    @on(SitesFound)
    def _found(self, message: SitesFound) -> None:
        self.loaded = True
        self.sites = [s for s in message.sites if s.hostnames]
        note = self.query_one("#picker-note", Label)
        if not self.sites:
            note.update("No nginx or Apache site with host names was found (settings: nginx_config, apache_config).")
            return
        note.update(f"{len(self.sites)} site(s) found.")
        options = self.query_one(OptionList)
        options.add_options([Option(f"{s.server:<6} {' '.join(s.hostnames)}  ({s.config_file}:{s.line})")
                             for s in self.sites])
        options.highlighted = 0
        options.focus()

    @on(DiscoveryFailed)
    def _failed(self, message: DiscoveryFailed) -> None:
        self.loaded = True
        self.query_one("#picker-note", Label).update(f"✗ {message.message}")

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(list(self.sites[event.option_index].hostnames))
