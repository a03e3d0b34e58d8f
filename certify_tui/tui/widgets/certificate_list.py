"""The certificate list: a line-API view that renders only the rows on screen.

A DataTable builds every row up front and rebuilds on each filter; with 10,000 certificates
that misses the 50 ms per keystroke target. Here filtering recomputes a list of indices and
sorting reorders it; drawing touches only the visible lines.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.events import Click
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from certify_tui import clock
from certify_tui.lifecycle.certificates import CertificateRow

# status -> (symbol, word, component class): symbols and words read without colour (NO_COLOR).
STATUS_LOOK = {
    "valid": ("✓", "valid", "status-valid"),
    "failed": ("✗", "failed", "status-failed"),
    "new": ("○", "new", "status-new"),
    "expired": ("✗", "expired", "status-failed"),
    "revoked": ("✗", "revoked", "status-failed"),
}
EXPIRING_DAYS = 14


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    width: int  # fixed width, or for flexible columns their share of the remaining room
    flex: bool = False
    minimum: int = 6


COLUMNS: tuple[Column, ...] = (
    Column("name", "Name", 3, flex=True, minimum=10),
    Column("primary", "Domains", 5, flex=True, minimum=14),
    Column("status", "Status", 10),
    Column("expires", "Expires", 17),
    Column("next", "Renews", 10),
    Column("result", "Last result", 4, flex=True, minimum=8),
)
SORT_KEYS: dict[str, Callable[[CertificateRow], str | datetime]] = {
    "name": lambda r: r.name.lower(),
    "primary": lambda r: r.primary,
    "status": lambda r: r.status,
    "expires": lambda r: r.not_after or datetime.max.replace(tzinfo=UTC),
    "next": lambda r: r.renews_at or datetime.max.replace(tzinfo=UTC),
    "result": lambda r: r.last_error or "",
}


def status_cell(row: CertificateRow, now: datetime) -> tuple[str, str]:
    symbol, word, style = STATUS_LOOK.get(row.status, ("?", row.status, "status-new"))
    if row.status == "valid" and row.not_after is not None:
        days = (row.not_after - now).days
        if row.not_after <= now:
            symbol, word, style = "✗", "expired", "status-failed"
        elif days < EXPIRING_DAYS:
            symbol, word, style = "!", "expiring", "status-warning"
    return f"{symbol} {word}", style


def expires_cell(row: CertificateRow, now: datetime) -> str:
    if row.not_after is None:
        return "-"
    return f"{row.not_after:%Y-%m-%d} ({(row.not_after - now).days}d)"


def result_cell(row: CertificateRow) -> str:
    if row.last_error:
        return row.last_error
    return "ok" if row.status == "valid" else "-"


def cells(row: CertificateRow, now: datetime) -> dict[str, str]:
    others = f" +{row.name_count - 1}" if row.name_count > 1 else ""
    return {
        "name": row.name,
        "primary": row.primary + others,
        "status": status_cell(row, now)[0],
        "expires": expires_cell(row, now),
        "next": f"{row.renews_at:%Y-%m-%d}" if row.renews_at and row.auto_renew else (
            "manual" if not row.auto_renew else "-"),
        "result": result_cell(row),
    }


def fit(text: str, width: int) -> str:
    return text[: width - 1] + "…" if len(text) > width else text.ljust(width)


class CertificateList(ScrollView, can_focus=True):
    """Rows of certificates with a cursor; Enter posts `Opened`, moving posts `Highlighted`."""

    BINDINGS = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "jump(0)", "First", show=False),
        Binding("end", "jump(-1)", "Last", show=False),
        Binding("enter", "open", "Open"),
    ]
    COMPONENT_CLASSES = {
        "certificate-list--header", "certificate-list--cursor", "status-valid", "status-failed",
        "status-new", "status-warning",
    }
    DEFAULT_CSS = """
    CertificateList { height: 1fr; }
    CertificateList > .certificate-list--header { text-style: bold; background: $panel; }
    CertificateList > .certificate-list--cursor { background: $accent 40%; }
    CertificateList:focus > .certificate-list--cursor { background: $accent; color: $text; }
    CertificateList > .status-valid { color: $success; }
    CertificateList > .status-failed { color: $error; }
    CertificateList > .status-warning { color: $warning; }
    CertificateList > .status-new { color: $text-muted; }
    """

    class Highlighted(Message):
        def __init__(self, name: str | None) -> None:
            super().__init__()
            self.name = name

    class Opened(Message):
        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    cursor = reactive(0, always_update=True)

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.rows: list[CertificateRow] = []
        self.shown: list[int] = []  # indices into rows, filtered and sorted
        self._search: list[str] = []
        self.filter_text = ""
        self.sort_key = "name"
        self.sort_reverse = False
        self._now = clock.now()
        self._cells: dict[int, dict[str, str]] = {}

    # -- data ---------------------------------------------------------------------------------
    def set_rows(self, rows: Sequence[CertificateRow], keep: str | None = None) -> None:
        self.rows = list(rows)
        self._now = clock.now()
        self._cells.clear()
        self._search = [
            " ".join((r.name, r.primary, r.status, r.last_error or "",
                      f"{r.not_after:%Y-%m-%d}" if r.not_after else "")).lower()
            for r in self.rows
        ]
        self._recompute(keep or self.current_name)

    def set_filter(self, text: str) -> None:
        self.filter_text = text.strip().lower()
        self._recompute(self.current_name)

    def sort_by(self, key: str) -> None:
        """Sort by a column; choosing the same column again reverses the order."""
        self.sort_reverse = not self.sort_reverse if key == self.sort_key else False
        self.sort_key = key
        self._recompute(self.current_name)

    def _recompute(self, keep: str | None) -> None:
        needle = self.filter_text
        indices = [i for i, text in enumerate(self._search) if needle in text] if needle else list(
            range(len(self.rows)))
        key = SORT_KEYS[self.sort_key]
        if self.sort_key != "name" or self.sort_reverse:  # rows arrive sorted by name
            indices.sort(key=lambda i: key(self.rows[i]), reverse=self.sort_reverse)
        self.shown = indices
        self.virtual_size = Size(self.size.width, len(indices) + 1)
        position = 0
        if keep is not None:
            position = next((n for n, i in enumerate(indices) if self.rows[i].name == keep), 0)
        self.cursor = min(position, max(len(indices) - 1, 0))
        self.refresh()

    @property
    def current_name(self) -> str | None:
        if not self.shown or self.cursor >= len(self.shown):
            return None
        return self.rows[self.shown[self.cursor]].name

    # -- cursor -------------------------------------------------------------------------------
    def watch_cursor(self, old: int, new: int) -> None:
        # Rows sit one line below their index (the header is drawn sticky at the top).
        self.scroll_to_region(Region(0, new, 1, 2), animate=False, force=True)
        self.refresh()
        self.post_message(self.Highlighted(self.current_name))

    def action_cursor(self, delta: int) -> None:
        if self.shown:
            self.cursor = max(0, min(self.cursor + delta, len(self.shown) - 1))

    def action_page(self, direction: int) -> None:
        self.action_cursor(direction * max(self.size.height - 2, 1))

    def action_jump(self, where: int) -> None:
        if self.shown:
            self.cursor = 0 if where == 0 else len(self.shown) - 1

    def action_open(self) -> None:
        if self.current_name:
            self.post_message(self.Opened(self.current_name))

    def on_click(self, event: Click) -> None:
        line = event.y + int(self.scroll_offset.y) - 1
        if 0 <= line < len(self.shown):
            if line == self.cursor and event.chain >= 2:
                self.action_open()
            self.cursor = line

    # -- drawing ------------------------------------------------------------------------------
    def _widths(self, total: int) -> list[int]:
        """Fixed columns keep their width; flexible ones share the rest by weight, never below minimum."""
        fixed = sum(c.width for c in COLUMNS if not c.flex) + len(COLUMNS) - 1
        room = max(total - fixed, 0)
        shares = sum(c.width for c in COLUMNS if c.flex)
        widths = [max(room * c.width // shares, c.minimum) if c.flex else c.width for c in COLUMNS]
        spare = total - sum(widths) - (len(COLUMNS) - 1)
        if spare > 0:  # rounding leftovers go to the domains column
            widths[1] += spare
        return widths

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        widths = self._widths(width)
        if y == 0:
            header = self.get_component_rich_style("certificate-list--header")
            arrow = "▼" if not self.sort_reverse else "▲"
            text = " ".join(fit(c.title + (arrow if c.key == self.sort_key else ""), w)
                            for c, w in zip(COLUMNS, widths, strict=True))
            return Strip([Segment(fit(text, width), header)], width)
        line = y - 1 + int(self.scroll_offset.y)
        if line >= len(self.shown):
            return Strip.blank(width, self.rich_style)
        index = self.shown[line]
        row = self.rows[index]
        values = self._cells.get(index)
        if values is None:
            values = self._cells[index] = cells(row, self._now)
        base = self.rich_style
        if line == self.cursor:
            base = base + self.get_component_rich_style("certificate-list--cursor")
        segments: list[Segment] = []
        for column, w in zip(COLUMNS, widths, strict=True):
            style: Style = base
            if column.key == "status":
                style = base + self.get_component_rich_style(status_cell(row, self._now)[1], partial=True)
            segments.append(Segment(fit(values[column.key], w), style))
            segments.append(Segment(" ", base))
        strip = Strip(segments[:-1])
        return strip.adjust_cell_length(width, base)

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, len(self.shown) + 1)
