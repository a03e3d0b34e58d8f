"""The revocation dialog: names the certificate and its serial, picks the reason, asks before anything is sent.

Dismisses with the choice (reason, renew) or None; the certificates screen runs the revocation in a worker.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Label, RadioButton, RadioSet

from certify_tui.lifecycle.revoke import REVOKE_REASONS

REASON_NOTES = {
    "unspecified": "no particular reason",
    "keyCompromise": "the private key leaked: signed by the certificate's own key",
    "superseded": "replaced by another certificate",
    "cessationOfOperation": "the names are no longer used",
}


@dataclass(frozen=True)
class RevokeChoice:
    reason: str
    renew: bool


class RevokeScreen(ModalScreen[RevokeChoice | None]):
    CSS_PATH = "revoke.tcss"
    BINDINGS = [Binding("escape", "cancel", "Keep it")]

    def __init__(self, name: str, serial: str) -> None:
        super().__init__()
        self.certificate_name = name
        self.serial = serial

    @property
    def reason(self) -> str:
        pressed = self.query_one(RadioSet).pressed_index
        return list(REVOKE_REASONS)[max(pressed, 0)]

    @property
    def renew(self) -> bool:
        return self.query_one("#renew", Checkbox).value

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self._question("unspecified", renew=False), id="question", markup=False)  # a name is untrusted
            yield Label("Reason:")
            with RadioSet(id="reason"):
                for number, (reason, note) in enumerate(REASON_NOTES.items()):
                    yield RadioButton(f"{reason}: {note}", value=number == 0, id=f"reason-{reason}")
            yield Checkbox("Order and deploy a replacement first, then revoke this one", id="renew")
            with Horizontal(id="buttons"):
                yield Button("Revoke", variant="error", id="revoke")
                yield Button("Keep it (Esc)", id="keep")

    def on_mount(self) -> None:
        self.query_one(RadioSet).focus()  # the reason first; Revoke is never the default

    def _question(self, reason: str, *, renew: bool) -> str:
        then = " after its replacement is deployed" if renew else ""
        return (f"Revoke '{self.certificate_name}' (serial {self.serial}) at its CA with reason {reason}{then}? "
                "This cannot be undone.")

    @on(RadioSet.Changed)
    @on(Checkbox.Changed)
    def _changed(self) -> None:
        self.query_one("#question", Label).update(self._question(self.reason, renew=self.renew))

    @on(Button.Pressed, "#revoke")
    def _revoke(self) -> None:
        self.dismiss(RevokeChoice(self.reason, self.renew))

    @on(Button.Pressed, "#keep")
    def action_cancel(self) -> None:
        self.dismiss(None)
