"""Accounts: the ACME accounts in a table; add, view every detail, deactivate."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Label

from certify_tui.errors import CertifyError
from certify_tui.tui.messages import Failed
from certify_tui.tui.screens.account_add import AddAccountScreen
from certify_tui.tui.screens.confirm import ConfirmScreen

if TYPE_CHECKING:
    from certify_tui.tui.app import CertifyApp

EMPTY = ("No ACME account yet. Press [b]n[/b] to register one with a CA (Let's Encrypt, ZeroSSL, "
         "or your own CA's directory URL).")

# status -> (symbol, word): the symbol and the word read without colour (NO_COLOR).
STATUS_LOOK = {
    "valid": ("✓", "valid"),
    "deactivated": ("✗", "deactivated"),
    "revoked": ("✗", "revoked"),
}

# Every field of `Core.account_view`, in reading order, with the words shown for it.
DETAIL_FIELDS: tuple[tuple[str, str], ...] = (
    ("id", "ID"),
    ("email", "Email"),
    ("status", "Status"),
    ("ca", "CA"),
    ("directory_url", "Directory URL"),
    ("uri", "Account URI"),
    ("tos_url", "Terms of service"),
    ("tos_agreed", "Terms agreed"),
    ("key_type", "Key type"),
    ("ca_bundle", "Trust bundle"),
    ("allow_internal_names", "Internal names"),
    ("eab_kid", "EAB key id"),
    ("created_at", "Created"),
)
DETAIL_EMPTY = {
    "tos_url": "none (this CA has no terms of service)",
    "ca_bundle": "system trust store",
    "eab_kid": "none",
    "uri": "unknown",
}


def status_text(status: str) -> str:
    symbol, word = STATUS_LOOK.get(status, ("?", status or "unknown"))
    return f"{symbol} {word}"


def shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 1)] + "…"


def ca_label(view: dict[str, Any], width: int) -> str:
    """A preset's name, or the directory URL without its scheme, cut in the middle if long."""
    ca = str(view.get("ca") or "")
    if not ca.startswith(("https://", "http://")):
        return shorten(ca, width)
    parts = urlsplit(ca)
    return shorten(parts.netloc + parts.path, width)  # the host says the most; the path is cut first


def detail_value(key: str, value: Any) -> str:
    if isinstance(value, bool):
        text = "yes" if value else "no"
        if key == "allow_internal_names":
            text += " (names like host.test or server.lan)" if value else " (public DNS names only)"
        return text
    if key == "status":
        return status_text(str(value))
    if value is None or value == "":
        return DETAIL_EMPTY.get(key, "-")
    return str(value)


class AccountsLoaded(Message):
    """Every account as `Core.account_view` shows it; `keep` is the id to highlight."""

    def __init__(self, views: list[dict[str, Any]], keep: int | None) -> None:
        super().__init__()
        self.views, self.keep = views, keep


class LoadFailed(Failed):
    """The accounts could not be listed."""


class Deactivated(Message):
    """The CA deactivated the account `account_id`."""

    def __init__(self, account_id: int, email: str) -> None:
        super().__init__()
        self.account_id, self.email = account_id, email


class DeactivateFailed(Failed):
    """The CA (or the store) refused the deactivation."""


class AccountTable(DataTable[str]):
    """The accounts; Enter opens the details (shown in the footer, unlike DataTable's own)."""

    BINDINGS = [Binding("enter", "select_cursor", "Details")]


class AccountDetailScreen(ModalScreen[str | None]):
    """Every field of one account; dismisses with "deactivate" when x is pressed, else None."""

    CSS_PATH = "accounts.tcss"
    BINDINGS = [
        Binding("escape,enter,q", "dismiss(None)", "Close"),
        Binding("x", "dismiss('deactivate')", "Deactivate"),
    ]

    def __init__(self, view: dict[str, Any]) -> None:
        super().__init__()
        self.view = view

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(f"Account {self.view.get('id')}  ·  {self.view.get('email')}", id="detail-title",
                        markup=False)
            with VerticalScroll(id="detail-fields"):
                for key, title in DETAIL_FIELDS:
                    with Horizontal(classes="field"):
                        yield Label(title, classes="field-name")
                        yield Label(detail_value(key, self.view.get(key)), classes="field-value",
                                    id=f"detail-{key.replace('_', '-')}", markup=False)
            yield Label("Esc/Enter close  ·  x deactivate  ·  ↑↓ scroll", id="detail-keys")

    def on_mount(self) -> None:
        self.query_one("#detail-fields").focus()  # arrows scroll when a long path or URL wraps


class AccountsScreen(Screen[None]):
    app: CertifyApp
    CSS_PATH = "accounts.tcss"
    BINDINGS = [
        Binding("n", "add", "Add"),
        Binding("x", "deactivate", "Deactivate"),
        Binding("escape", "app.pop_screen", "Back"),
        Binding("f5,ctrl+r", "reload", "Reload", show=False),
    ]

    loaded = False  # set once the first rows arrived (tests wait for it)

    def __init__(self) -> None:
        super().__init__()
        self.views: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        yield Label("Accounts", id="title-bar")
        yield Label("Loading…", id="empty")
        yield AccountTable(id="accounts", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(AccountTable).focus()
        self.reload()

    # -- loading ------------------------------------------------------------------------------
    def reload(self, keep: int | None = None) -> None:
        self._load(keep)

    @work(thread=True, exclusive=True, group="load-accounts", exit_on_error=False)
    def _load(self, keep: int | None) -> None:
        try:
            core = self.app.core
            views = [core.account_view(a) for a in core.list_accounts()]
        except CertifyError as exc:
            self.post_message(LoadFailed.of(exc))
            return
        self.post_message(AccountsLoaded(views, keep))

    @on(AccountsLoaded)
    def _accounts_loaded(self, event: AccountsLoaded) -> None:
        self._show_rows(event.views, event.keep)

    @on(LoadFailed)
    def _load_failed(self, event: LoadFailed) -> None:
        self.notify(event.message, severity="error", title="Cannot list accounts")

    @on(Deactivated)
    def _deactivated(self, event: Deactivated) -> None:
        self.notify(f"Account {event.account_id} ({event.email}) is deactivated.")
        self.reload(event.account_id)

    @on(DeactivateFailed)
    def _deactivate_failed(self, event: DeactivateFailed) -> None:
        self.notify(event.message, severity="error", title="Deactivation failed")
        self._set_title()

    def _show_rows(self, views: list[dict[str, Any]], keep: int | None) -> None:
        self.views = views
        self.loaded = True
        self._fill_table(keep)
        empty = self.query_one("#empty", Label)
        empty.display = not views
        empty.update(EMPTY)
        self.query_one(AccountTable).display = bool(views)
        self._set_title()

    def _set_title(self, note: str = "") -> None:
        count = len(self.views)
        text = f"Accounts  ·  {count} account{'s' if count != 1 else ''}"
        self.query_one("#title-bar", Label).update(text + (f"  ·  {note}" if note else ""))

    def _fill_table(self, keep: int | None = None) -> None:
        """(Re)build the rows, giving email and CA the width there is (80 columns and up)."""
        table = self.query_one(AccountTable)
        if keep is None and table.row_count:
            keep = self.current_id
        table.clear(columns=True)
        # ID, key type and status are narrow (plus a cell's padding each side and a scrollbar);
        # email and CA share the rest, and one that needs less than half leaves it to the other.
        fixed = 2 + 5 + 13 + 2 * 5 + 2
        room = max(self.size.width - fixed, 32)
        need_email = max((len(str(v["email"])) for v in self.views), default=5)
        need_ca = max((len(ca_label(v, 200)) for v in self.views), default=2)
        email_width = max(min(need_email, room - min(need_ca, room // 2)), 12)
        ca_width = max(room - email_width, 12)
        table.add_column("ID", key="id")
        table.add_column("Email", key="email")
        table.add_column("CA", key="ca")
        table.add_column("Key", key="key")
        table.add_column("Status", key="status")
        for view in self.views:
            table.add_row(str(view["id"]), shorten(str(view["email"]), email_width), ca_label(view, ca_width),
                          str(view["key_type"]), status_text(str(view["status"])), key=str(view["id"]))
        if keep is not None:
            ids = [v["id"] for v in self.views]
            if keep in ids:
                table.move_cursor(row=ids.index(keep))

    def on_resize(self) -> None:
        if self.loaded:
            self._fill_table()

    # -- selection ----------------------------------------------------------------------------
    @property
    def current_view(self) -> dict[str, Any] | None:
        table = self.query_one(AccountTable)
        if not self.views or not 0 <= table.cursor_row < len(self.views):
            return None
        return self.views[table.cursor_row]

    @property
    def current_id(self) -> int | None:
        view = self.current_view
        return int(view["id"]) if view else None

    @on(DataTable.RowSelected)
    def _row_selected(self) -> None:
        self.action_details()

    # -- actions ------------------------------------------------------------------------------
    def action_details(self) -> None:
        view = self.current_view
        if view is None:
            return

        def closed(result: str | None) -> None:
            if result == "deactivate":
                self.action_deactivate()

        self.app.push_screen(AccountDetailScreen(view), closed)

    def action_add(self) -> None:
        def added(account_id: int | None) -> None:
            if account_id is not None:
                self.notify(f"Registered account {account_id}.")
            self.reload(account_id)

        self.app.push_screen(AddAccountScreen(), added)

    def action_deactivate(self) -> None:
        view = self.current_view
        if view is None:
            self.notify("No account selected.", severity="warning")
            return
        if view["status"] != "valid":
            self.notify(f"Account {view['id']} is already {view['status']}.", severity="warning")
            return
        account_id = int(view["id"])

        def answered(yes: bool | None) -> None:
            if yes:
                self._set_title(f"deactivating account {account_id}…")
                self._deactivate(account_id)

        self.app.push_screen(ConfirmScreen(
            f"Deactivate account {account_id} ({view['email']}) at {view['ca']}? The CA refuses it for "
            "good: it can never order or renew again. Certificates already issued stay valid.",
            "Deactivate", "Keep", danger=True), answered)

    @work(thread=True, group="deactivate", exit_on_error=False)
    def _deactivate(self, account_id: int) -> None:
        try:
            account = self.app.core.deactivate_account(str(account_id))
        except CertifyError as exc:
            self.post_message(DeactivateFailed.of(exc))
            return
        except Exception as exc:  # noqa: BLE001 - shown as one line; the screen stays usable
            self.post_message(DeactivateFailed(f"Unexpected error: {exc}"))
            return
        self.post_message(Deactivated(account.id, account.email))

    def action_reload(self) -> None:
        self.reload()
