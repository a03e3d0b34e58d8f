"""Help: every key binding of the screen underneath and of the app, read from the bindings themselves.

Nothing here is a hand-kept list of keys: adding a Binding to a screen or widget adds it here.
Only the short command-palette section is fixed text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Label, Static

PALETTE_HELP = (
    "Press ctrl+p anywhere to open the command palette, then type a few letters of what you want: "
    "New certificate, Accounts, Settings, Filter certificates, Show app log, Help, Quit… "
    "↑/↓ choose, Enter runs the command, Esc closes the palette."
)


@dataclass(frozen=True)
class HelpGroup:
    title: str
    rows: list[tuple[str, str]]  # (keys as shown, what they do)


def key_text(app: App[Any], binding: Binding) -> str:
    """A key as a person types it: ctrl+r rather than ^r, enter rather than ⏎."""
    shown = re.sub(r"(^|\+)\^(?=.)", r"\1ctrl+", app.get_key_display(binding))
    return shown.replace("⏎", "enter").replace("⌫", "backspace")


def _describe(binding: Binding) -> str:
    if binding.description:
        return binding.description
    if binding.tooltip:
        return binding.tooltip
    action = binding.action.split(".")[-1].split("(")[0]
    return action.replace("_", " ").capitalize()


def _node_title(node: DOMNode, screen: Screen[Any]) -> str:
    if isinstance(node, App):
        return "Everywhere"
    words = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", type(node).__name__.removesuffix("Screen")).strip()
    words = words[:1] + words[1:].lower()
    if node is screen:
        return f"{words} screen"
    return f"{words} (when focused)"


def _declared_depth(node: DOMNode, binding: Binding) -> int:
    """0 if the node's own class declares the binding, 1 for its base class, …: own keys list first."""
    for depth, cls in enumerate(type(node).__mro__):
        for declared in cls.__dict__.get("BINDINGS", ()):
            action, description = ((declared.action, declared.description) if isinstance(declared, Binding)
                                   else (declared[1], declared[2] if len(declared) > 2 else ""))
            if action == binding.action and description == binding.description:
                return depth
    return len(type(node).__mro__)


def node_rows(node: DOMNode) -> list[tuple[str, str]]:
    """One row per action, its keys joined (`+ / =`), system bindings left out, own bindings first."""
    app = node.app
    merged: dict[tuple[str, str], list[str]] = {}
    depth: dict[tuple[str, str], int] = {}
    for _key, binding in node._bindings:  # the node's merged BINDINGS (its class and base classes)
        if binding.system:
            continue
        row = (binding.action, _describe(binding))
        keys = merged.setdefault(row, [])
        depth.setdefault(row, _declared_depth(node, binding))
        shown = key_text(app, binding)
        if shown not in keys:
            keys.append(shown)
    ordered = sorted(merged, key=lambda row: depth[row])  # stable: declaration order within a class
    return [(" / ".join(merged[row]), row[1]) for row in ordered]


def binding_groups(screen: Screen[Any]) -> list[HelpGroup]:
    """The bindings that apply on `screen`: its focused widget and that widget's containers, the
    screen, then the app (the order Textual looks them up in)."""
    focused = screen.focused
    chain: list[DOMNode] = list(focused.ancestors_with_self) if focused is not None else [screen, screen.app]
    if screen.app not in chain:
        chain.append(screen.app)
    # Screen first, then the focused widget's own keys, then everywhere: what a person looks for first.
    ordered = [screen] + [n for n in chain if n is not screen and not isinstance(n, App)] + [screen.app]
    groups = []
    for node in ordered:
        rows = node_rows(node)
        if rows:
            groups.append(HelpGroup(_node_title(node, screen), rows))
    return groups


def _table(rows: list[tuple[str, str]]) -> Table:
    table = Table.grid(padding=(0, 2), expand=True)
    table.add_column(no_wrap=True, min_width=12, style="bold")
    table.add_column(ratio=1)
    for keys, description in rows:
        table.add_row(Text(keys), Text(description))
    return table


class HelpScreen(ModalScreen[None]):
    CSS_PATH = "help.tcss"
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def __init__(self) -> None:
        super().__init__()
        self.groups: list[HelpGroup] = []

    def _underlying(self) -> Screen[Any]:
        stack = self.app.screen_stack
        if self in stack:
            index = stack.index(self)
            return stack[index - 1] if index > 0 else stack[0]
        return stack[-1]

    def compose(self) -> ComposeResult:
        self.groups = binding_groups(self._underlying())
        with Vertical(id="help-dialog"):
            yield Label("Keys  ·  ↑/↓ scroll  ·  Esc, q or ? closes", id="help-title")
            with VerticalScroll(id="help-body"):
                for group in self.groups:
                    yield Label(group.title, classes="help-group")
                    yield Static(_table(group.rows), classes="help-rows")
                yield Label("Command palette", classes="help-group")
                yield Static(PALETTE_HELP, classes="help-rows")

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()

    def action_close(self) -> None:
        self.dismiss()
