"""Register an ACME account: CA, terms of service, EAB, key type; dismisses with the new id or None.

The CA's directory (terms of service, whether it needs EAB) is read in a thread worker when
the CA choice or the trust bundle changes, and again on ctrl+t. Results for a choice the user
has since changed are dropped, so a slow CA never overwrites a newer answer.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Button, Checkbox, Footer, Input, Label, Select

from certify_tui.errors import CertifyError
from certify_tui.tui.messages import Failed

if TYPE_CHECKING:
    from certify_tui.tui.app import CertifyApp

CUSTOM = "custom"
DEFAULT_CA = "letsencrypt"
DEFAULT_KEY_TYPE = "ec256"
FETCH_DELAY = 0.6  # seconds of no typing before a custom URL's directory is read


class TermsRead(Message):
    """Directory read number `fetch`: the CA's terms of service and whether it needs EAB."""

    def __init__(self, fetch: int, url: str | None, needs_eab: bool) -> None:
        super().__init__()
        self.fetch, self.url, self.needs_eab = fetch, url, needs_eab


class TermsFailed(Failed):
    """Directory read number `fetch` failed."""

    def __init__(self, fetch: int, message: str, field: str | None = None) -> None:
        super().__init__(message, field)
        self.fetch = fetch


class Registered(Message):
    """The CA registered the account `account_id`."""

    def __init__(self, account_id: int) -> None:
        super().__init__()
        self.account_id = account_id


class RegisterFailed(Failed):
    """The CA (or the input) refused the registration."""
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def email_ok(text: str) -> bool:
    return bool(_EMAIL.match(text.strip()))


class AddAccountScreen(Screen[int | None]):
    app: CertifyApp
    CSS_PATH = "accounts.tcss"
    BINDINGS = [
        Binding("ctrl+s", "register", "Register", priority=True),
        Binding("ctrl+t", "fetch_terms", "Fetch terms"),
        Binding("escape", "cancel", "Cancel"),
        # A stray letter on a checkbox or list must not quit or leave a half-filled form.
        Binding("a,s,q", "ignore", show=False),
    ]
    # Spread the rows out when the terminal is tall enough; at 24 lines every row is one line.
    VERTICAL_BREAKPOINTS = [(0, "-short"), (34, "-tall")]

    def __init__(self) -> None:
        super().__init__()
        self.presets: dict[str, Any] = {}
        self.busy = False
        # What the CA's directory said, for the choice in `tos_key` (ca, bundle):
        # "idle" (nothing to read yet), "waiting" (for typing to stop), "loading", "known" or "failed".
        self.tos_state = "idle"
        self.tos_key: tuple[str, str] | None = None
        self.tos_url: str | None = None
        self.tos_needs_eab = False
        self.tos_error = ""
        self._fetch_timer: Timer | None = None
        self._agreed_for: str | None = None  # the CA the agree box was ticked for
        self._fetch_generation = 0  # numbers each directory read; older answers are dropped

    @property
    def _latest_fetch(self) -> int | None:
        """The directory read whose answer is awaited (None: none is)."""
        return self._fetch_generation if self.tos_state == "loading" else None

    def compose(self) -> ComposeResult:
        core = self.app.core
        self.presets = core.ca_presets()
        ca_options = [(f"{p.title} ({p.name})", p.name) for p in self.presets.values()]
        ca_options.append(("Custom directory URL…", CUSTOM))
        key_options = [(f"{name}  {text}", name) for name, text in core.key_types().items()]
        yield Label("Add an ACME account  ·  Tab next field  ·  ctrl+s register  ·  Esc cancel", id="title-bar")
        with VerticalScroll(id="form"):
            with Horizontal(classes="row"):
                yield Label("Email", classes="name")
                yield Input(placeholder="you@example.org (the CA's expiry and policy notices)", id="email",
                            compact=True)
            with Horizontal(classes="row hint-row", id="email-hint-row"):
                yield Label("", classes="name")
                yield Label("Enter an address like name@example.org.", id="email-hint", classes="hint")
            with Horizontal(classes="row"):
                yield Label("Certificate authority", classes="name")
                yield Select(ca_options, value=DEFAULT_CA, allow_blank=False, id="ca", compact=True)
            with Horizontal(classes="row", id="url-row"):
                yield Label("Directory URL", classes="name")
                yield Input(placeholder="https://ca.example.net/acme/directory", id="url", compact=True)
            with Horizontal(classes="row"):
                yield Label("Trust bundle", classes="name")
                yield Input(placeholder="optional: PEM file with a private CA's root", id="bundle",
                            compact=True)
            with Horizontal(classes="row tos-row"):
                yield Label("Terms of service", classes="name")
                yield Label("", id="tos", markup=False)
            with Horizontal(classes="row"):
                yield Label("", classes="name")
                yield Checkbox("I agree to the terms of service", id="agree", compact=True)
            with Horizontal(classes="row", id="eab-kid-row"):
                yield Label("EAB key id", classes="name")
                yield Input(placeholder="from your account page at the CA", id="eab-kid", compact=True)
            with Horizontal(classes="row", id="eab-hmac-row"):
                yield Label("EAB HMAC key", classes="name")
                yield Input(placeholder="base64url, shown once by the CA", id="eab-hmac", password=True,
                            compact=True)
            with Horizontal(classes="row"):
                yield Label("Key type", classes="name")
                yield Select(key_options, value=DEFAULT_KEY_TYPE, allow_blank=False, id="key-type", compact=True)
            with Horizontal(classes="row"):
                yield Label("Names", classes="name")
                yield Checkbox("Allow internal names (host.test, server.lan)", id="internal",
                               compact=True)
            with Horizontal(classes="row", id="error-row"):
                yield Label("", classes="name")
                yield Label("", id="error", markup=False)
            with Horizontal(classes="row button-row"):
                yield Label("", classes="name")
                yield Button("Register (ctrl+s)", variant="primary", id="register", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        for row in ("#email-hint-row", "#url-row", "#eab-kid-row", "#eab-hmac-row", "#error-row"):
            self.query_one(row).display = False
        self.query_one("#email", Input).focus()
        self._choice_changed()

    # -- the CA choice and its directory ------------------------------------------------------
    @property
    def ca_choice(self) -> str:
        value = self.query_one("#ca", Select).value
        return value if isinstance(value, str) else DEFAULT_CA

    def current_key(self) -> tuple[str, str] | None:
        """(ca as the core takes it, bundle path) for the current form, or None if no CA is given yet."""
        choice = self.ca_choice
        ca = self.query_one("#url", Input).value.strip() if choice == CUSTOM else choice
        if not ca:
            return None
        return ca, self.query_one("#bundle", Input).value.strip()

    @on(Select.Changed, "#ca")
    def _ca_selected(self) -> None:
        custom = self.ca_choice == CUSTOM
        self.query_one("#url-row").display = custom
        self._choice_changed()
        if custom and self.query_one("#ca", Select).has_focus:
            self.query_one("#url", Input).focus()

    @on(Input.Changed, "#url,#bundle")
    def _typed_location(self) -> None:
        self._choice_changed(delay=FETCH_DELAY)

    @on(Input.Submitted, "#url,#bundle")
    def _submitted_location(self) -> None:
        self._choice_changed()
        self.focus_next()

    def _choice_changed(self, delay: float = 0.0) -> None:
        if self._fetch_timer is not None:
            self._fetch_timer.stop()
            self._fetch_timer = None
        key = self.current_key()
        if key is None:
            self._set_tos("idle", None)
        elif key != self.tos_key or self.tos_state in ("idle", "waiting"):
            if delay:
                self._fetch_generation += 1  # an answer still on its way is for an older choice
                self._set_tos("waiting", key)
                self._fetch_timer = self.set_timer(delay, lambda: self._start_fetch(force=False))
            else:
                self._start_fetch(force=False)
        self._update_eab()

    def action_fetch_terms(self) -> None:
        self._start_fetch(force=True)

    def _start_fetch(self, *, force: bool) -> None:
        key = self.current_key()
        if key is None:
            self._set_tos("idle", None)
            return
        if key == self.tos_key and self.tos_state in ("loading", "known") and not force:
            return
        ca, bundle = key
        if ca != CUSTOM and not ca.startswith(("https://", "http://")) and ca not in self.presets:
            self._set_tos("idle", None)
            return
        self._set_tos("loading", key)
        self._fetch_generation += 1
        self._fetch_terms(self._fetch_generation, ca, bundle)

    @work(thread=True, exclusive=True, group="terms", exit_on_error=False)
    def _fetch_terms(self, fetch: int, ca: str, bundle: str) -> None:
        """Post the answer with its fetch number: only the latest fetch's answer is shown."""
        try:
            tos_url, needs_eab = self.app.core.terms_of_service(ca, bundle or None)
        except CertifyError as exc:
            self.post_message(TermsFailed(fetch, exc.message, exc.field))
            return
        except Exception as exc:  # noqa: BLE001 - shown inline; the form stays usable
            self.post_message(TermsFailed(fetch, f"Unexpected error: {exc}"))
            return
        self.post_message(TermsRead(fetch, tos_url, needs_eab))

    def _set_tos(self, state: str, key: tuple[str, str] | None, url: str | None = None,
                 needs_eab: bool = False, error: str = "") -> None:
        self.tos_state, self.tos_key = state, key
        self.tos_url, self.tos_needs_eab, self.tos_error = url, needs_eab, error
        ca = key[0] if key else None
        if self._agreed_for is not None and ca != self._agreed_for:
            self._agreed_for = None
            self.query_one("#agree", Checkbox).value = False  # another CA: agree again
        self._show_tos()

    def _show_tos(self) -> None:
        label = self.query_one("#tos", Label)
        agree = self.query_one("#agree", Checkbox)
        label.set_class(self.tos_state == "failed", "-error")
        preset = self.presets.get(self.ca_choice)
        if self.tos_needs_eab or (preset is not None and preset.needs_eab):
            eab = " Needs External Account Binding (EAB): fill in the key id and HMAC key below."
        else:
            eab = " No External Account Binding (EAB) needed." if self.tos_state == "known" else ""
        if self.tos_state == "idle":
            label.update("Type the CA's directory URL (https://…); its terms appear here.")
        elif self.tos_state in ("waiting", "loading"):
            label.update("Reading the CA's directory…")
        elif self.tos_state == "failed":
            label.update(f"Could not read the terms: {self.tos_error} Check the URL and trust bundle, then "
                         f"press ctrl+t to try again.{eab}")
        elif self.tos_url:
            label.update(f"{self.tos_url}\nRead them, then tick the box to agree.{eab}")
        else:
            label.update(f"This CA has no terms of service to agree to.{eab}")
        agree.disabled = self.tos_state == "known" and not self.tos_url
        self._update_eab()
        self._update_register()

    def _update_eab(self) -> None:
        preset = self.presets.get(self.ca_choice)
        needs = (preset is not None and preset.needs_eab) or (
            self.tos_needs_eab and self.tos_key == self.current_key())
        self.query_one("#eab-kid-row").display = needs
        self.query_one("#eab-hmac-row").display = needs

    @on(Checkbox.Changed, "#agree")
    def _agree_changed(self, event: Checkbox.Changed) -> None:
        key = self.current_key()
        self._agreed_for = key[0] if event.value and key else None
        self._update_register()

    @property
    def can_register(self) -> bool:
        if self.busy:
            return False
        no_terms = self.tos_state == "known" and not self.tos_url and self.tos_key == self.current_key()
        return self.query_one("#agree", Checkbox).value or no_terms

    def _update_register(self) -> None:
        button = self.query_one("#register", Button)
        button.disabled = not self.can_register
        button.label = "Registering…" if self.busy else "Register (ctrl+s)"

    # -- email --------------------------------------------------------------------------------
    @on(Input.Changed, "#email")
    def _email_changed(self, event: Input.Changed) -> None:
        if self.query_one("#email-hint-row").display:  # once shown, it goes as soon as the address is fine
            self._show_email_hint(not email_ok(event.value))

    @on(Input.Blurred, "#email")
    @on(Input.Submitted, "#email")
    def _email_done(self, event: Input.Blurred | Input.Submitted) -> None:
        self._show_email_hint(bool(event.value.strip()) and not email_ok(event.value))

    @on(Input.Submitted, "#email,#eab-kid,#eab-hmac")
    def _next_field(self) -> None:
        self.focus_next()

    def _show_email_hint(self, bad: bool) -> None:
        self.query_one("#email", Input).set_class(bad, "-invalid")
        self.query_one("#email-hint-row").display = bad

    # -- register -----------------------------------------------------------------------------
    @on(Button.Pressed, "#register")
    def _register_pressed(self) -> None:
        self.action_register()

    def _form_problem(self) -> tuple[str, str] | None:
        """(message, widget id to focus) for input the form can check itself, or None."""
        if not email_ok(self.query_one("#email", Input).value):
            self._show_email_hint(True)
            return "Enter a valid email address.", "#email"
        if self.current_key() is None:
            return "Type the CA's directory URL.", "#url"
        return None

    def action_register(self) -> None:
        if not self.can_register:
            if not self.busy:
                self.notify("Tick “I agree to the terms of service” first.", severity="warning")
            return
        problem = self._form_problem()
        if problem:
            self._show_error(problem[0])
            self.query_one(problem[1]).focus()
            return
        key = self.current_key()
        assert key is not None
        value = self.query_one("#key-type", Select).value
        request: dict[str, Any] = {
            "email": self.query_one("#email", Input).value.strip(),
            "ca": key[0],
            "ca_bundle": key[1] or None,
            "agree_tos": self.query_one("#agree", Checkbox).value,
            "key_type": value if isinstance(value, str) else DEFAULT_KEY_TYPE,
            "allow_internal_names": self.query_one("#internal", Checkbox).value,
            "eab_kid": None,
            "eab_hmac_key": None,
        }
        if self.query_one("#eab-kid-row").display:
            request["eab_kid"] = self.query_one("#eab-kid", Input).value.strip() or None
            request["eab_hmac_key"] = self.query_one("#eab-hmac", Input).value.strip() or None
        self.busy = True
        self._show_error("")
        self._update_register()
        self._register(request)

    @work(thread=True, exclusive=True, group="register", exit_on_error=False)
    def _register(self, request: dict[str, Any]) -> None:
        try:
            account = self.app.core.add_account(**request)
        except CertifyError as exc:
            self.post_message(RegisterFailed.of(exc))
            return
        except Exception as exc:  # noqa: BLE001 - shown inline; the form keeps its values
            self.post_message(RegisterFailed(f"Unexpected error: {exc}"))
            return
        self.post_message(Registered(int(account.id)))

    def _show_error(self, message: str) -> None:
        self.query_one("#error", Label).update(message)
        self.query_one("#error-row").display = bool(message)

    # -- worker results -----------------------------------------------------------------------
    @on(TermsRead)
    def _terms_read(self, event: TermsRead) -> None:
        if event.fetch == self._latest_fetch:
            self._set_tos("known", self.tos_key, event.url, event.needs_eab)

    @on(TermsFailed)
    def _terms_failed(self, event: TermsFailed) -> None:
        if event.fetch == self._latest_fetch:
            self._set_tos("failed", self.tos_key, error=event.message)

    @on(Registered)
    def _registered(self, event: Registered) -> None:
        self.busy = False
        self.dismiss(event.account_id)

    @on(RegisterFailed)
    def _register_failed(self, event: RegisterFailed) -> None:
        self.busy = False
        self._update_register()
        self._show_error(event.message)
        self.notify(event.message, severity="error", title="Registration failed")

    def action_ignore(self) -> None:
        """Swallow the app's one-letter keys while the form is open (ctrl+c still quits)."""

    def action_cancel(self) -> None:
        if self.busy:
            self.notify("Registering with the CA: wait for its answer (at most a minute).", severity="warning")
            return
        self.dismiss(None)
