"""Step 1, Domains: the certificate's name, its domain names (each checked by the core as typed) and the account."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Input, Label, Select

from certify_tui.errors import CertifyError
from certify_tui.identifiers import is_wildcard, to_unicode
from certify_tui.lifecycle.certificates import CertificateSpec
from certify_tui.tui.screens.editor.steps import GoTo, row
from certify_tui.tui.widgets.domain_list import DomainList

if TYPE_CHECKING:
    from certify_tui.tui.app import CertifyApp


class NameChecked(Message):
    """The core's verdict on a typed name: `name` as the CA will see it, or `error`."""

    def __init__(self, text: str, add: bool, name: str | None, error: str | None) -> None:
        super().__init__()
        self.text, self.add, self.name, self.error = text, add, name, error


class SiteNamesChecked(Message):
    """A site's host names, checked: the valid ones, and the reasons the others were refused."""

    def __init__(self, names: list[str], errors: list[str]) -> None:
        super().__init__()
        self.names, self.errors = names, errors


class DomainsStep(VerticalScroll):
    """Edits `name`, `domains` and `account`; `certificate_name` is fixed when editing a stored certificate.
    `challenge_for` gives the challenge the Validation step's rules pick for a name (wildcards need dns-01)."""

    app: CertifyApp

    def __init__(self, certificate_name: str | None, challenge_for: Callable[[str], str | None], *,
                 classes: str | None = None) -> None:
        super().__init__(classes=classes)
        self.certificate_name = certificate_name
        self.challenge_for = challenge_for
        self.accounts: list[tuple[str, str]] = []  # (id, "email (CA)") of active accounts

    def compose(self) -> ComposeResult:
        if self.certificate_name:
            yield row("Certificate", Label(self.certificate_name, id="cert-name-fixed"))
        else:
            yield row("Certificate name", Input(placeholder="defaults to the primary domain", id="cert-name",
                                                compact=True))
            yield Label("Names its files and folder: letters, digits, '.', '_', '-'.", classes="help indented")
        yield row("Add domain", Input(placeholder="type a name, Enter adds it", id="domain-input", compact=True))
        yield Label("", id="domain-check", classes="indented", markup=False)
        yield DomainList(id="domain-list")
        yield Label("Delete removes the highlighted name; p makes it the primary (first) name.", classes="help")
        yield Label("", id="wildcard-hint")
        yield row("Account", Label("Loading…", id="account-single"),
                  Select[str]([], prompt="Choose an account", id="account", compact=True))

    def on_mount(self) -> None:
        self.query_one("#account", Select).display = False

    # -- the spec's slice ----------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return self.query_one(DomainList).names

    def load(self, spec: CertificateSpec, accounts: list[tuple[str, str]]) -> None:
        self.accounts = accounts
        self.query_one(DomainList).set_names(spec.domains, announce=False)
        single = self.query_one("#account-single", Label)
        select = self.query_one("#account", Select)
        if len(accounts) > 1:
            select.set_options([(label, i) for i, label in accounts])
            if spec.account in [i for i, _ in accounts]:
                select.value = spec.account
            select.display, single.display = True, False
        elif accounts:
            single.update(accounts[0][1])
        else:
            single.update(Text("No active ACME account: add one in Accounts (a on the list) first.",
                               style="bold red"))

    def apply(self, spec: CertificateSpec) -> None:
        spec.name = self._cert_name()
        spec.domains = list(self.names)
        spec.account = self.account_ref()

    def _cert_name(self) -> str:
        if self.certificate_name:
            return self.certificate_name
        typed = self.query_one("#cert-name", Input).value.strip()
        if typed or not self.names:
            return typed
        return self.names[0].replace("*.", "wildcard.", 1)

    def account_ref(self) -> str | None:
        select = self.query_one("#account", Select)
        if len(self.accounts) > 1:
            return None if select.value is Select.NULL else str(select.value)
        return self.accounts[0][0] if self.accounts else None

    # -- typing names ----------------------------------------------------------------------------
    @on(Input.Submitted, "#cert-name")
    def _name_done(self) -> None:
        self.query_one("#domain-input").focus()

    @on(Input.Changed, "#domain-input")
    def _domain_typed(self, event: Input.Changed) -> None:
        if event.value.strip():
            self._check(event.value, False, self.account_ref())
        else:
            self._set_check("")

    @on(Input.Submitted, "#domain-input")
    def _domain_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self._check(event.value, True, self.account_ref())
        elif self.names:
            self.post_message(GoTo("validation"))

    @work(thread=True, group="check-domain", exit_on_error=False)
    def _check(self, text: str, add: bool, account: str | None) -> None:
        try:
            name = self.app.core.check_domain(text, account)
        except CertifyError as exc:
            self.post_message(NameChecked(text, add, None, exc.message))
            return
        self.post_message(NameChecked(text, add, name, None))

    @on(NameChecked)
    def _checked(self, event: NameChecked) -> None:
        box = self.query_one("#domain-input", Input)
        if box.value != event.text:
            return  # the user typed on; a newer check is on its way
        if event.error or event.name is None:
            self._set_check(f"✗ {event.error}", ok=False)
            return
        name = event.name
        shown = to_unicode(name)
        note = f"✓ {name}" + (f"  ({shown})" if shown != name else "")
        if is_wildcard(name):
            note += "  needs a dns-01 rule"
        domains = self.query_one(DomainList)
        if not event.add:
            self._set_check(note + ("  (already in the list)" if name in domains.names else ""), ok=True)
            return
        if not domains.add_name(name):
            self._set_check(f"✗ {name} is already in the list", ok=False)
            return
        with self.prevent(Input.Changed):
            box.value = ""
        self._set_check(f"Added {name}. Type another name, or ctrl+→ for Validation.", ok=True)

    # -- names from a discovered site ------------------------------------------------------------
    def add_site_names(self, hostnames: list[str]) -> None:
        """Check a site's host names with the core and add the valid ones."""
        self._check_site_names(hostnames, self.account_ref())

    @work(thread=True, exit_on_error=False, group="load-site-names")
    def _check_site_names(self, hostnames: list[str], account: str | None) -> None:
        checked, errors = [], []
        for host in hostnames:
            try:
                checked.append(self.app.core.check_domain(host, account))
            except CertifyError as exc:
                errors.append(exc.message)
        self.post_message(SiteNamesChecked(checked, errors))

    @on(SiteNamesChecked)
    def _site_names_checked(self, event: SiteNamesChecked) -> None:
        domains = self.query_one(DomainList)
        added = [n for n in event.names if domains.add_name(n)]
        if event.errors:
            self._set_check(f"✗ {event.errors[0]}", ok=False)
        else:
            self._set_check(f"Added {len(added)} name(s) from the site." if added
                            else "The site's names are already in the list.", ok=True)

    def _set_check(self, message: str, ok: bool = True) -> None:
        label = self.query_one("#domain-check", Label)
        label.update(message)
        label.set_class(bool(message) and ok, "-ok")
        label.set_class(bool(message) and not ok, "-error")

    @on(DomainList.Changed)
    def show_wildcard_hint(self) -> None:
        """Warn about each wildcard name that no dns-01 rule covers."""
        hints = [f"⚠ {to_unicode(name)} needs dns-01: add a dns-01 rule in Validation"
                 for name in self.names if is_wildcard(name) and self.challenge_for(name) != "dns-01"]
        hint = self.query_one("#wildcard-hint", Label)
        hint.update("\n".join(hints))
        hint.display = bool(hints)
