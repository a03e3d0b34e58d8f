"""Deployment tasks that name a stored credential (issue 11 part 3): stored apart, filled in at run time, so
rotating the credential reaches every task; removal refused while one uses it; previews show only the name."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from certify_tui import secrets_box
from certify_tui.deploy.tasks.credentials import TASK_KIND, task_options
from certify_tui.deploy.tasks.runner import prepare
from certify_tui.errors import NotFoundError, UsageError
from certify_tui.keys import generate_key, key_to_pem
from certify_tui.lifecycle import Core, credentials
from certify_tui.model import TaskConfig
from certify_tui.store.models import Account

TOKEN = "Bearer task-secret-0123456789"
ROTATED = "Bearer rotated-secret-9876543210"
URL = "http://127.0.0.1:9/hook"


@pytest.fixture
def core(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Core]:
    monkeypatch.delenv(secrets_box.ENV_SECRET_KEY, raising=False)
    opened = Core.open(str(tmp_path / "d"))
    Account.create(email="a@example.org", directory_url="https://ca.invalid/dir", status="valid",
                   account_key_pem=key_to_pem(generate_key()).decode(), allow_internal_names=True)
    opened.add_certificate(name="web", domains=["web.example.test"])
    try:
        yield opened
    finally:
        opened.close()


def test_task_json_keeps_the_old_shape_unless_a_credential_is_used() -> None:
    plain = TaskConfig("webhook", {"url": URL}, "Hook")
    assert plain.to_json() == {"options": {"url": URL}, "title": "Hook", "type": "webhook"}
    assert TaskConfig.from_json(plain.to_json()) == plain
    named = TaskConfig("webhook", {}, "Hook", credential="hook")
    assert named.to_json()["credential"] == "hook"
    assert TaskConfig.from_json(named.to_json()) == named


def test_task_keeps_its_own_options_and_runs_with_the_credentials(core: Core) -> None:
    stored = credentials.add_credential("hook", "webhook", {"url": URL, "secret_header": TOKEN}, TASK_KIND)
    assert (stored.challenge, stored.provider) == (TASK_KIND, "webhook")
    assert stored.secrets == {"secret_header": TOKEN} and stored.values == {"url": URL}

    tasks = core.add_task("web", TaskConfig("webhook", {"timeout": 30}, credential="HOOK"))
    task = tasks[-1]
    assert task.credential == "hook" and task.options == {"timeout": 30}  # no url, no secret stored in the task
    assert task_options(task, "webhook") == {"url": URL, "secret_header": TOKEN, "timeout": 30}
    (_title, instance), = prepare([task])
    assert instance.options["secret_header"] == TOKEN and instance.options["timeout"] == 30

    credentials.set_credential("hook", {"secret_header": ROTATED})  # rotation reaches the task
    (_title, instance), = prepare(core.list_tasks("web"))
    assert instance.options["secret_header"] == ROTATED

    plan = core.preview("web")
    line, = plan.tasks
    assert "with credential hook" in line and TOKEN not in line and ROTATED not in line
    shown = json.dumps(plan.to_dict())
    assert ROTATED not in shown and ROTATED not in plan.render_text()


def test_removal_is_refused_while_a_task_uses_it(core: Core) -> None:
    credentials.add_credential("hook", "webhook", {"url": URL}, TASK_KIND)
    core.add_task("web", TaskConfig("webhook", {}, credential="hook"))
    assert credentials.certificates_using("hook") == ["web"]
    with pytest.raises(UsageError, match="used by web") as refused:
        credentials.remove_credential("hook")
    assert refused.value.field == "credential"
    core.remove_task("web", 1)
    assert credentials.remove_credential("hook") == "hook"


def test_the_credential_must_be_for_that_task_type(core: Core) -> None:
    credentials.add_credential("hook", "webhook", {"url": URL}, TASK_KIND)
    credentials.add_credential("ns1", "rfc2136", {"server": "127.0.0.1", "tsig_key_name": "k",
                                                  "tsig_secret": "c2VjcmV0LXRzaWcta2V5LWZvci10ZXN0cw=="})
    with pytest.raises(UsageError, match="is for the webhook task, not the command task"):
        core.add_task("web", TaskConfig("command", {"command": "/bin/true"}, credential="hook"))
    with pytest.raises(UsageError, match="is for dns-01 rfc2136, not the webhook task"):
        core.add_task("web", TaskConfig("webhook", {}, credential="ns1"))
    with pytest.raises(NotFoundError):
        core.add_task("web", TaskConfig("webhook", {}, credential="missing"))
    with pytest.raises(UsageError, match="unknown option 'host'"):
        credentials.add_credential("bad", "webhook", {"host": "x"}, TASK_KIND)
    with pytest.raises(UsageError, match="no check of its own"):
        credentials.probe_credential("hook")


def test_api_task_body_takes_the_credential_by_name() -> None:
    from certify_tui.service.api_bodies import TASK_SCHEMA, task_from_json

    assert "credential" in TASK_SCHEMA["properties"]
    task = task_from_json({"type": "webhook", "credential": "hook", "retries": 2})
    assert task == TaskConfig("webhook", {"retries": 2}, "", credential="hook")
    assert task_from_json({"type": "webhook", "options": {"url": URL}}).credential is None
    with pytest.raises(UsageError) as bad:
        task_from_json({"type": "webhook", "credential": 5})
    assert bad.value.field == "tasks"
