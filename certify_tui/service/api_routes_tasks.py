"""`/api/certificates/{name}/tasks...`: a certificate's deployment tasks, numbered from 1 as `cert task list`
shows them; every change goes through the core's task operations (validated by check_tasks)."""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from certify_tui.errors import UsageError
from certify_tui.lifecycle.certificates import task_view
from certify_tui.model import TaskConfig
from certify_tui.service.api_bodies import TASK_SCHEMA, task_from_json
from certify_tui.service.api_http import ApiContext, Route, json_response, read_json_object

TASK_VIEW = {"type": "object", "description": "{number, type, title, trigger, retries, retry_delay, "
                                              "stop_on_failure, options (secrets masked)}"}
TASK_LIST = {"type": "array", "items": TASK_VIEW}
NOT_FOUND = {404: "no such certificate"}
NO_TASK = {422: "no such task number, or a bad value: {error, field}"}


def _views(tasks: list[TaskConfig]) -> list[dict[str, object]]:
    return [task_view(number, task) for number, task in enumerate(tasks, 1)]


def list_tasks(ctx: ApiContext, request: Request, name: str) -> Response:
    return json_response(_views(ctx.core.list_tasks(name)))


def add_task(ctx: ApiContext, request: Request, name: str) -> Response:
    ctx.core.get_certificate(name)  # 404 before the body's errors
    task = task_from_json(read_json_object(request, '{"type": "export", "options": {...}}'))
    tasks = ctx.core.add_task(name, task)
    return json_response(task_view(len(tasks), tasks[-1]), 201,
                         {"Location": f"/api/certificates/{name}/tasks/{len(tasks)}"})


def remove_task(ctx: ApiContext, request: Request, name: str, number: int) -> Response:
    ctx.core.remove_task(name, number)
    return json_response(_views(ctx.core.list_tasks(name)))


def move_task(ctx: ApiContext, request: Request, name: str, number: int) -> Response:
    body = read_json_object(request, '{"to": 1}')
    to = body.get("to")
    if not isinstance(to, int) or isinstance(to, bool) or set(body) != {"to"}:
        raise UsageError('The body must be {"to": M}: the position (from 1) to move the task to.', field="tasks")
    return json_response(_views(ctx.core.move_task(name, number, to)))


def run_task(ctx: ApiContext, request: Request, name: str, number: int) -> Response:
    outcome = ctx.core.run_task(name, number)
    return json_response({"number": number, "title": outcome.title, "ok": outcome.ok, "message": outcome.message,
                          "attempts": outcome.attempts})


TASKS = "/api/certificates/<name>/tasks"
ROUTES = (
    Route("GET", TASKS, list_tasks, "The deployment tasks in the order they run", {200: "the tasks", **NOT_FOUND},
          TASK_LIST),
    Route("POST", TASKS, add_task, "Add a task after the others (as `cert task add`)",
          {201: "added: the task", 400: "malformed JSON", **NOT_FOUND, 422: "a bad value: {error, field}"},
          TASK_VIEW, body=TASK_SCHEMA),
    Route("DELETE", f"{TASKS}/<int:number>", remove_task, "Remove task N (from 1)",
          {200: "the tasks left", **NOT_FOUND, **NO_TASK}, TASK_LIST),
    Route("POST", f"{TASKS}/<int:number>/move", move_task, "Move task N to position M",
          {200: "the tasks in their new order", **NOT_FOUND, **NO_TASK}, TASK_LIST,
          body={"type": "object", "required": ["to"], "properties": {"to": {"type": "integer", "minimum": 1}},
                "additionalProperties": False}),
    Route("POST", f"{TASKS}/<int:number>/run", run_task, "Run task N now against the live files (a manual one too)",
          {200: "{number, title, ok, message, attempts}: ok is false when the task failed", **NOT_FOUND,
           **NO_TASK, 409: "nothing issued yet"}, {"type": "object"}),
)
