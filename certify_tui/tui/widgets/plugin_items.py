"""An ordered list of plug-in-configured items (challenge rules, deployment tasks) with a form for the highlighted one.

The list shows one line per item and its keys add, remove and move items; below it come the highlighted
item's own fields (composed by a subclass) and a PluginForm for its plug-in's options. Items are plain
dicts with an "options" key, edited in place, so the form keeps editing its item when the list is reordered.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from rich.text import Text
from textual import on
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from certify_tui.plugins import Plugin
from certify_tui.tui.widgets.plugin_form import PluginForm

Item = dict[str, Any]


class ItemList(OptionList):
    """The list part: subclasses bind keys to `add_item`, `remove_item` and `move_item(delta)`."""

    EMPTY: ClassVar[str] = ""  # the line shown (dimmed, not selectable) while there are no items

    class Edit(Message):
        """A key asked to add, remove or move (by `delta`) the highlighted item."""

        def __init__(self, action: Literal["add", "remove", "move"], delta: int = 0) -> None:
            super().__init__()
            self.action = action
            self.delta = delta

    def action_add_item(self) -> None:
        self.post_message(self.Edit("add"))

    def action_remove_item(self) -> None:
        self.post_message(self.Edit("remove"))

    def action_move_item(self, delta: int) -> None:
        self.post_message(self.Edit("move", delta))

    def show_items(self, prompts: list[Text], highlight: int) -> None:
        self.clear_options()
        if not prompts:
            if self.EMPTY:
                self.add_option(Option(Text(self.EMPTY, style="dim"), disabled=True))
            return
        self.add_options(prompts)
        self.highlighted = max(0, min(highlight, len(prompts) - 1))


class PluginItems(Vertical):
    """The items, the highlighted one's fields and its plug-in form. Subclasses compose an ItemList, their
    fields and an empty Vertical `FORM_BOX`, and say how an item is shown, found and added."""

    FORM_ID: ClassVar[str]  # the PluginForm's id
    FORM_BOX: ClassVar[str]  # selector of the Vertical the form is mounted in

    class Changed(Message):
        """An item was added, removed, moved or edited."""

        def __init__(self, items: PluginItems) -> None:
            super().__init__()
            self.items = items

        @property
        def control(self) -> PluginItems:
            return self.items

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.items: list[Item] = []
        self.index = 0  # the highlighted item
        self._form: tuple[PluginForm, Item] | None = None  # the form on screen and the item it edits

    # -- what a subclass says about its items -----------------------------------------------------
    def plugin_class(self, item: Item) -> type[Plugin] | None:
        """The plug-in whose parameters configure `item` (None: unknown or not chosen yet)."""
        raise NotImplementedError

    def prompt(self, number: int, item: Item) -> Text:
        """The item's line in the list; `number` counts from 1."""
        raise NotImplementedError

    async def show_fields(self, item: Item | None) -> None:
        """Fill the item's own fields (None: there is no item)."""

    async def add_item(self) -> None:
        """What the add key does."""

    # -- shared behaviour --------------------------------------------------------------------------
    @property
    def current(self) -> Item | None:
        return self.items[self.index] if self.items else None

    def item_list(self) -> ItemList:
        return self.query_one(ItemList)

    async def load(self, items: list[Item]) -> None:
        self.items = items
        self.rebuild(0)
        await self.show_item()

    def rebuild(self, highlight: int) -> None:
        """Redraw the list, highlighting `highlight` (kept within the list)."""
        self.index = max(0, min(highlight, len(self.items) - 1))
        self.item_list().show_items([self.prompt(i + 1, item) for i, item in enumerate(self.items)], self.index)

    def refresh_prompt(self) -> None:
        """Redraw the highlighted item's line after an edit."""
        if self.items:
            prompt = self.prompt(self.index + 1, self.items[self.index])
            self.item_list().replace_option_prompt_at_index(self.index, prompt)
        self.post_message(self.Changed(self))

    async def show_item(self) -> None:
        """Load the highlighted item into the fields and the form below the list."""
        await self.show_fields(self.current)
        await self.show_form()

    async def show_form(self) -> None:
        """The highlighted item's plug-in form, or none when its plug-in is unknown or not chosen."""
        box = self.query_one(self.FORM_BOX, Vertical)
        await box.remove_children()
        self._form = None
        item = self.current
        cls = self.plugin_class(item) if item is not None else None
        if item is None or cls is None:
            return
        form = PluginForm(cls.params, item["options"], owner=cls.id, id=self.FORM_ID)
        self._form = (form, item)
        await box.mount(form)

    async def insert_item(self, at: int, item: Item) -> None:
        self.items.insert(at, item)
        self.rebuild(at)
        await self.show_item()
        self.post_message(self.Changed(self))

    async def remove_current(self) -> None:
        if not self.items:
            return
        del self.items[self.index]
        self.rebuild(self.index)
        await self.show_item()
        self.post_message(self.Changed(self))

    async def move_current(self, delta: int) -> None:
        """Items run in order: move the highlighted one up (-1) or down (+1); its form follows it."""
        target = self.index + delta
        if not self.items or not 0 <= target < len(self.items):
            return
        self.items[self.index], self.items[target] = self.items[target], self.items[self.index]
        self.rebuild(target)
        await self.show_fields(self.current)  # the position in the heading; the form edits the same item
        self.post_message(self.Changed(self))

    @on(ItemList.Edit)
    async def _edit(self, event: ItemList.Edit) -> None:
        event.stop()
        if event.action == "add":
            await self.add_item()
        elif event.action == "remove":
            await self.remove_current()
        else:
            await self.move_current(event.delta)

    @on(OptionList.OptionHighlighted, "ItemList")
    async def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_index != self.index and event.option_index < len(self.items):
            self.index = event.option_index
            await self.show_item()

    @on(PluginForm.Changed)
    def _options_changed(self, event: PluginForm.Changed) -> None:
        event.stop()
        if self._form and event.form is self._form[0]:
            self._form[1]["options"] = event.form.values()
            self.refresh_prompt()
