"""The deployment tasks of the Deployment step: run in this order after each request."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Label, Select

from certify_tui.model import TaskConfig
from certify_tui.tui.screens.editor.steps import row
from certify_tui.tui.widgets.plugin_items import Item, PluginItems
from certify_tui.tui.widgets.task_list import TaskList, task_prompt

if TYPE_CHECKING:
    from certify_tui.deploy.base import DeploymentTask


class TaskEditor(PluginItems):
    """The tasks ({"type", "options", "title"}; "" title = the type's title), the highlighted one's title,
    and its type's options."""

    FORM_ID = "task-form"
    FORM_BOX = "#task-form-box"

    def __init__(self, task_types: dict[str, type[DeploymentTask]]) -> None:
        super().__init__()
        self.task_types = task_types

    def compose(self) -> ComposeResult:
        yield row("Add task", Select[str]([(t.title, t.id) for t in self.task_types.values()],
                                          prompt="choose a type to add a task", id="new-task-type", compact=True))
        yield TaskList(id="tasks")
        yield Label("Run in this order after each request. a adds a task, Delete removes one, u (ctrl+↑) "
                    "moves it up; edit the highlighted task below.", classes="help")
        with Vertical(id="task-editor"):
            yield row("Task", Label("", id="task-heading"))
            yield Label("", id="task-description", classes="help indented")
            yield row("Title", Input(id="task-title", compact=True))
            yield Vertical(id="task-form-box")

    def on_mount(self) -> None:
        self.query_one(TaskList).border_title = "Tasks"

    # -- the spec's slice ----------------------------------------------------------------------
    async def load_tasks(self, tasks: Sequence[TaskConfig]) -> None:
        """The stored tasks; a title equal to the type's title is shown as the placeholder, not as text."""
        items = []
        for task in tasks:
            cls = self.task_types.get(task.type)
            title = task.title
            items.append({"type": task.type, "options": dict(task.options),
                          "title": "" if cls is not None and title == cls.title else title,
                          "credential": task.credential})  # kept as stored (set from the CLI or the API)
        await self.load(items)

    def specs(self) -> list[TaskConfig]:
        """The tasks for the spec, each titled (the type's title when none was typed)."""
        specs = []
        for task in self.items:
            cls = self.plugin_class(task)
            title = task["title"].strip() or (cls.title if cls else "")
            specs.append(TaskConfig(task["type"], dict(task["options"]), title, task.get("credential")))
        return specs

    def comparable(self) -> list[tuple[Any, ...]]:
        """The tasks with every option's default filled in, to tell whether the user changed anything."""
        tasks = []
        for task in self.specs():
            cls = self.task_types.get(task.type)
            params = cls.params if cls else ()
            tasks.append((task.type, task.title, {p.key: str(task.options.get(p.key, p.default)) for p in params}))
        return tasks

    # -- the list and the highlighted task -------------------------------------------------------
    def plugin_class(self, item: Item) -> type[DeploymentTask] | None:
        return self.task_types.get(item["type"])

    def prompt(self, number: int, item: Item) -> Text:
        return task_prompt(number, item, self.plugin_class(item))

    async def show_fields(self, item: Item | None) -> None:
        self.query_one("#task-editor").display = item is not None
        if item is None:
            return
        cls = self.plugin_class(item)
        title = self.query_one("#task-title", Input)
        with self.prevent(Input.Changed):
            title.value = item["title"]
        title.placeholder = cls.title if cls else ""
        self.query_one("#task-heading", Label).update(
            Text.assemble(f"{self.index + 1} of {len(self.items)} · ",
                          (cls.title if cls else f"unknown type '{item['type']}'", "bold")))
        self.query_one("#task-description", Label).update(
            cls.description if cls else "This type of task does not exist (any more): remove the task.")

    @on(Input.Changed, "#task-title")
    def _title_changed(self, event: Input.Changed) -> None:
        if self.current is not None:
            self.current["title"] = event.value
            self.refresh_prompt()

    async def add_item(self) -> None:
        """Open the type choice; choosing a type adds the task (see _new_task)."""
        if not self.task_types:
            self.notify("No deployment task types are available.", severity="warning")
            return
        select = self.query_one("#new-task-type", Select)
        select.focus()
        select.action_show_overlay()

    @on(Select.Changed, "#new-task-type")
    async def _new_task(self, event: Select.Changed) -> None:
        if event.value is Select.NULL:
            return
        with self.prevent(Select.Changed):
            event.select.clear()
        await self.insert_item(len(self.items), {"type": str(event.value), "options": {}, "title": ""})

        def edit() -> None:
            fields = self.query("#task-form Input, #task-form Select, #task-form Checkbox")
            if fields:
                fields.first().focus()

        self.call_after_refresh(edit)
