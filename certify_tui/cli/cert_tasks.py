"""`certify-tui cert task ...`: a certificate's deployment tasks, numbered from 1 as `task list` shows them."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from certify_tui.cli.options import OPTION_HELP, option_pairs
from certify_tui.cli.output import print_json, print_table
from certify_tui.cli.parser import Subcommands
from certify_tui.deploy.base import TRIGGERS
from certify_tui.errors import UsageError, safe_text
from certify_tui.events import ProgressEvent
from certify_tui.lifecycle import Core
from certify_tui.lifecycle.certificates import task_view
from certify_tui.model import TaskConfig


def register(actions: Subcommands) -> None:
    task = actions.add_parser("task", help="deployment tasks run after each request (export, command, ...)")
    verbs = task.add_subparsers(dest="task_action", metavar="ACTION", required=True)

    add = verbs.add_parser("add", help="add a task after the others")
    add.add_argument("name")
    add.add_argument("--type", required=True, help="the task type (certify-tui cert task types lists them)")
    add.add_argument("--option", "-o", action="append", metavar="KEY=VALUE", help=f"task option: {OPTION_HELP}")
    add.add_argument("--trigger", choices=TRIGGERS, help="when it runs (default success; manual: by hand only)")
    add.add_argument("--retries", type=int, metavar="N", help="how many more times to try if it fails (0-10)")
    add.add_argument("--retry-delay", type=int, metavar="S", help="seconds between tries (default 5)")
    add.add_argument("--stop-on-failure", action=argparse.BooleanOptionalAction, default=None,
                     help="skip the following tasks if this one fails (the default)")
    add.add_argument("--title", help="what people see (default: the type's title)")
    add.add_argument("--credential", metavar="NAME",
                     help="a stored credential for this task type (credential add NAME --task TYPE)")
    add.add_argument("--json", action="store_true")
    add.set_defaults(run=_add)

    lst = verbs.add_parser("list", help="list the tasks in the order they run")
    lst.add_argument("name")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(run=_list)

    remove = verbs.add_parser("remove", help="remove task N")
    remove.add_argument("name")
    remove.add_argument("number", type=int, metavar="N")
    remove.add_argument("--json", action="store_true")
    remove.set_defaults(run=_remove)

    move = verbs.add_parser("move", help="move task N to position M")
    move.add_argument("name")
    move.add_argument("number", type=int, metavar="N")
    move.add_argument("--to", type=int, required=True, metavar="M")
    move.add_argument("--json", action="store_true")
    move.set_defaults(run=_move)

    types = verbs.add_parser("types", help="the task types and their options")
    types.add_argument("--json", action="store_true")
    types.set_defaults(run=_types)

    run = verbs.add_parser("run", help="run task N now against the current files (a manual one too)")
    run.add_argument("name")
    run.add_argument("number", type=int, metavar="N")
    run.add_argument("--json", action="store_true")
    run.set_defaults(run=_run)


def task_from(args: argparse.Namespace) -> TaskConfig:
    options: dict[str, Any] = option_pairs(args.option)
    for key, value in (("trigger", args.trigger), ("retries", args.retries), ("retry_delay", args.retry_delay),
                       ("stop_on_failure", args.stop_on_failure)):
        if value is None:
            continue
        if key in options:
            raise UsageError(f"Option '{key}' is given twice: give it once.", field="tasks")
        options[key] = value
    return TaskConfig(type=args.type, options=options, title=args.title or "", credential=args.credential or None)


def _print_tasks(core: Core, name: str, tasks: list[TaskConfig], as_json: bool) -> None:
    views = [task_view(number, task) for number, task in enumerate(tasks, 1)]
    if as_json:
        print_json(views)
        return
    print_table(("#", "type", "title", "trigger", "retries"),
                [(v["number"], v["type"], v["title"], v["trigger"], v["retries"]) for v in views],
                empty=f"{name} has no deployment tasks. Add one: certify-tui cert task add {name} --type TYPE")


def _add(core: Core, args: argparse.Namespace) -> int:
    tasks = core.add_task(args.name, task_from(args))
    if args.json:
        print_json(task_view(len(tasks), tasks[-1]))
    else:
        print(f"Added task {len(tasks)} ({tasks[-1].title}) to {args.name}.")
    return 0


def _list(core: Core, args: argparse.Namespace) -> int:
    _print_tasks(core, args.name, core.list_tasks(args.name), args.json)
    return 0


def _remove(core: Core, args: argparse.Namespace) -> int:
    removed = core.remove_task(args.name, args.number)
    if args.json:
        _print_tasks(core, args.name, core.list_tasks(args.name), True)
        return 0
    print(f"Removed task {args.number} ({removed.title or removed.type}).")
    return 0


def _move(core: Core, args: argparse.Namespace) -> int:
    _print_tasks(core, args.name, core.move_task(args.name, args.number, args.to), args.json)
    return 0


def _run(core: Core, args: argparse.Namespace) -> int:
    def show(event: ProgressEvent) -> None:
        if args.verbose:
            print(event.line(), file=sys.stderr)

    outcome = core.run_task(args.name, args.number, on_event=show)
    if args.json:
        print_json({"number": args.number, "title": outcome.title, "ok": outcome.ok, "message": outcome.message,
                    "attempts": outcome.attempts})
    if not outcome.ok:
        print(f"certify-tui: error: task {args.number} ({safe_text(outcome.title)}) failed: "
              f"{safe_text(outcome.message)}", file=sys.stderr)
        return 1
    print(f"Task {args.number} ({outcome.title}): {outcome.message}.")
    return 0


def _types(core: Core, args: argparse.Namespace) -> int:
    types = core.deployment_task_types()
    if args.json:
        print_json([{"id": t.id, "title": t.title, "description": t.description, "params": t.describe_params()}
                    for t in types])
        return 0
    for t in types:
        print(f"{t.id}: {t.title}")
        for p in t.params:
            flags = ", ".join(f for f, on in (("required", p.required), ("secret", p.secret)) if on)
            print(f"  -o {p.key}=...  {p.label} [{p.type}{', ' + flags if flags else ''}]")
    return 0
