"""Store a new credential for a challenge provider, from the editor's validation step; dismisses with it or None.

The name and the provider's parameters (secrets masked) are checked by the core exactly as
`certify-tui credential add` checks them; saving runs in a thread worker and its errors are shown
under the field they are about.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label

from certify_tui.errors import CertifyError
from certify_tui.model import Credential
from certify_tui.tui.messages import Failed
from certify_tui.tui.widgets.plugin_form import PluginForm

if TYPE_CHECKING:
    from certify_tui.challenges.base import ChallengeProvider
    from certify_tui.plugins import Plugin
    from certify_tui.tui.app import CertifyApp

_OPTION_IN_MESSAGE = re.compile(r"option '([^']+)'")  # the provider's checks name the option they refuse


class CredentialSaved(Message):
    """The credential is stored."""

    def __init__(self, credential: Credential) -> None:
        super().__init__()
        self.credential = credential


class CredentialRefused(Failed):
    """The core refused the name or a value (field "credential": the name)."""


class NewCredentialScreen(ModalScreen[Credential | None]):
    """A name and `provider`'s parameters, filled from `values` (the rule's own options, so typed secrets
    can move into the credential)."""

    app: CertifyApp
    CSS_PATH = "credential_new.tcss"
    BINDINGS = [
        Binding("ctrl+s", "save", "Save credential", priority=True),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, challenge: str, provider: type[ChallengeProvider] | type[Plugin],
                 values: Mapping[str, Any] | None = None) -> None:
        # A challenge provider from the editor, or SmtpLogin (challenge "notify") from the settings screen.
        super().__init__()
        self.challenge = challenge
        self.provider = provider
        self.values = dict(values or {})
        self.saving = False

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            what = "SMTP login" if self.challenge == "notify" else f"{self.challenge} credential for {self.provider.id}"
            yield Label(f"New {what}  ·  ctrl+s save  ·  Esc cancel",
                        id="credential-title", markup=False)
            with VerticalScroll(id="credential-fields"):
                with Horizontal(classes="field-row"):
                    yield Label("Name *", classes="field-label")
                    yield Input(placeholder="e.g. dns-main (letters, digits, . _ -)", id="credential-name",
                                compact=True)
                yield Label("", id="credential-name-error", classes="field-error", markup=False)
                yield PluginForm(self.provider.params, self.values, owner=self.provider.id, id="credential-form")
            yield Label("", id="credential-status", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#credential-name", Input).focus()

    @property
    def form(self) -> PluginForm:
        return self.query_one("#credential-form", PluginForm)

    def _given_options(self) -> dict[str, Any]:
        """What the fields hold, without the values equal to a default: those stay the provider's."""
        defaults = {p.key: p.default for p in self.provider.params if p.default is not None}
        return {key: value for key, value in self.form.raw_values().items()
                if key not in defaults or str(value) != str(defaults[key])}

    @on(Input.Submitted, "#credential-name")
    def _next_field(self) -> None:
        self.focus_next()

    @on(Input.Changed, "#credential-name")
    def _name_changed(self) -> None:
        self._show_name_error("")

    def action_save(self) -> None:
        if self.saving:
            return
        name = self.query_one("#credential-name", Input).value.strip()
        problems = self.form.show_errors()
        if not name:
            self._show_name_error("Give the credential a name.")
            self.query_one("#credential-name", Input).focus()
            return
        if problems:
            self.form.query_one(f"#field-{next(iter(problems))}").focus()
            return
        self.saving = True
        self._show_status("Saving…")
        self._save(name, self._given_options())

    @work(thread=True, exclusive=True, group="credential-save", exit_on_error=False)
    def _save(self, name: str, options: dict[str, Any]) -> None:
        try:
            credential = self.app.core.add_credential(name, self.provider.id, options, self.challenge)
        except CertifyError as exc:
            self.post_message(CredentialRefused.of(exc))
            return
        except Exception as exc:  # noqa: BLE001 - shown as a line, never a traceback
            self.post_message(CredentialRefused(f"Unexpected error: {exc}"))
            return
        self.post_message(CredentialSaved(credential))

    @on(CredentialSaved)
    def _saved(self, event: CredentialSaved) -> None:
        self.saving = False
        self.notify(f"Stored the credential {event.credential.name}.")
        self.dismiss(event.credential)

    @on(CredentialRefused)
    def _refused(self, event: CredentialRefused) -> None:
        self.saving = False
        self._show_status("")
        if event.field == "credential":
            self._show_name_error(event.message)
            self.query_one("#credential-name", Input).focus()
            return
        option = _OPTION_IN_MESSAGE.search(event.message)
        if option and self.form.show_error(option.group(1), event.message):
            self.form.query_one(f"#field-{option.group(1)}").focus()
            return
        self._show_status(f"✗ {event.message}", error=True)

    def _show_name_error(self, message: str) -> None:
        label = self.query_one("#credential-name-error", Label)
        label.update(message)
        label.set_class(bool(message), "-shown")

    def _show_status(self, message: str, *, error: bool = False) -> None:
        status = self.query_one("#credential-status", Label)
        status.update(message)
        status.set_class(error, "-error")
        status.display = bool(message)

    def action_cancel(self) -> None:
        if not self.saving:
            self.dismiss(None)
