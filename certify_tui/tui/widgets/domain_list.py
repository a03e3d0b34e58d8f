"""The names of one certificate, primary first: remove with Delete, make primary with p."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import OptionList

from certify_tui.identifiers import to_unicode


def shown_name(name: str) -> str:
    """IDNs as people read them, with the A-label the CA sees."""
    unicode = to_unicode(name)
    return name if unicode == name else f"{unicode}  ({name})"


class DomainList(OptionList):
    BINDINGS = [
        Binding("delete,backspace", "remove", "Remove"),
        Binding("p", "make_primary", "Primary"),
    ]

    class Changed(Message):
        def __init__(self, domain_list: DomainList) -> None:
            super().__init__()
            self.domain_list = domain_list

        @property
        def control(self) -> DomainList:
            return self.domain_list

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.names: list[str] = []

    def set_names(self, names: list[str], highlight: int | None = None, *, announce: bool = True) -> None:
        self.names = list(names)
        self.clear_options()
        for index, name in enumerate(self.names):
            line = Text("★ " if index == 0 else "  ")
            line.append(shown_name(name))
            if index == 0:
                line.append("  primary", style="dim")
            self.add_option(line)
        if self.names:
            self.highlighted = min(highlight if highlight is not None else 0, len(self.names) - 1)
        if announce:
            self.post_message(self.Changed(self))

    def add_name(self, name: str) -> bool:
        if name in self.names:
            return False
        self.set_names([*self.names, name], len(self.names))
        return True

    def action_remove(self) -> None:
        index = self.highlighted
        if index is None or not self.names:
            return
        names = self.names[:index] + self.names[index + 1:]
        self.set_names(names, min(index, len(names) - 1) if names else None)

    def action_make_primary(self) -> None:
        index = self.highlighted
        if index is None or index == 0 or not self.names:
            return
        names = [self.names[index], *self.names[:index], *self.names[index + 1:]]
        self.set_names(names, 0)
