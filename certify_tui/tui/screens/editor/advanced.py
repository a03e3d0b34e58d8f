"""Step 4, Advanced: the key, the chain and profile asked of the CA, when (and whether) to renew, and the
accounts at other CAs to fail over to."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import on
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Checkbox, Input, Label, Select

from certify_tui.errors import UsageError
from certify_tui.lifecycle.certificates import CertificateSpec, renewal_policy
from certify_tui.lifecycle.settings import split_accounts
from certify_tui.model import RenewalPolicy
from certify_tui.tui.screens.editor.steps import row

if TYPE_CHECKING:
    from certify_tui.tui.app import CertifyApp

RENEWAL_KINDS = (("% of the lifetime", "percent"), ("days before expiry", "days_before"),
                 ("days after issuance", "days_after"))


class AdvancedStep(VerticalScroll):
    """Edits `key_type`, `reuse_key`, `preferred_chain`, `profile`, `renewal`, `auto_renew` and
    `fallback_accounts`."""

    app: CertifyApp
    loaded = False  # the renewal is checked as typed once the stored value is shown

    def compose(self) -> ComposeResult:
        key_types = self.app.core.key_types()
        yield row("Key type", Select[str]([(f"{k}  {d}", k) for k, d in key_types.items()], allow_blank=False,
                                          id="key-type", compact=True))
        yield row("", Checkbox("Reuse the key on renewal", id="reuse-key", compact=True))
        yield row("Preferred chain", Input(placeholder="issuer name, e.g. ISRG Root X1 (optional)",
                                           id="preferred-chain", compact=True))
        yield row("Profile", Input(placeholder="ACME profile the CA offers (optional)", id="profile", compact=True))
        yield row("Renew at", Input(type="number", id="renewal-value", compact=True),
                  Select[str](RENEWAL_KINDS, allow_blank=False, id="renewal-kind", compact=True))
        yield Label("", id="renewal-error", classes="indented", markup=False)
        yield row("", Checkbox("Renew automatically", id="auto-renew", compact=True))
        yield row("Fall back to", Input(placeholder="accounts at other CAs: ids or emails, comma separated "
                                                    "(optional)", id="fallback-accounts", compact=True))

    def on_mount(self) -> None:
        self.query_one("#renewal-error").display = False

    # -- the spec's slice ----------------------------------------------------------------------
    def load(self, spec: CertificateSpec) -> None:
        with self.prevent(Select.Changed, Input.Changed, Checkbox.Changed):
            self.query_one("#key-type", Select).value = spec.key_type
            self.query_one("#reuse-key", Checkbox).value = spec.reuse_key
            self.query_one("#preferred-chain", Input).value = spec.preferred_chain or ""
            self.query_one("#profile", Input).value = spec.profile or ""
            renewal = spec.renewal or RenewalPolicy()
            kind, amount = renewal.kind, renewal.value
            kinds = {value for _, value in RENEWAL_KINDS}
            self.query_one("#renewal-kind", Select).value = kind if kind in kinds else "percent"
            self.query_one("#renewal-value", Input).value = f"{float(amount):g}"
            self.query_one("#auto-renew", Checkbox).value = spec.auto_renew
            self.query_one("#fallback-accounts", Input).value = ", ".join(spec.fallback_accounts or [])
        self.loaded = True
        self._renewal_changed()

    def apply(self, spec: CertificateSpec) -> str | None:
        """Write the slice into `spec`; returns the renewal's error (then the spec's renewal is empty)."""
        spec.key_type = str(self.query_one("#key-type", Select).value)
        spec.reuse_key = self.query_one("#reuse-key", Checkbox).value
        spec.preferred_chain = self.query_one("#preferred-chain", Input).value.strip() or None
        spec.profile = self.query_one("#profile", Input).value.strip() or None
        spec.renewal, error = self.renewal()
        spec.auto_renew = self.query_one("#auto-renew", Checkbox).value
        spec.fallback_accounts = split_accounts(self.query_one("#fallback-accounts", Input).value)
        return error

    def comparable(self) -> dict[str, Any]:
        """The renewal as typed (a draft with an invalid renewal is still a change)."""
        return {"renewal": (str(self.query_one("#renewal-kind", Select).value),
                            self.query_one("#renewal-value", Input).value)}

    # -- renewal -----------------------------------------------------------------------------------
    def renewal(self) -> tuple[RenewalPolicy | None, str | None]:
        """The renewal as typed, checked by the core; None and the core's reason when it is refused."""
        kind = str(self.query_one("#renewal-kind", Select).value)
        try:
            return renewal_policy(kind, self.query_one("#renewal-value", Input).value.strip()), None
        except UsageError as exc:
            return None, exc.message

    @on(Input.Changed, "#renewal-value")
    @on(Select.Changed, "#renewal-kind")
    def _renewal_changed(self) -> None:
        if not self.loaded:
            return
        _, error = self.renewal()
        label = self.query_one("#renewal-error", Label)
        label.update(f"✗ {error}" if error else "")
        label.set_class(bool(error), "-error")
        label.display = bool(error)
