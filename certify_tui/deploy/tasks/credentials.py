"""Deployment tasks that name a stored credential: its values fill the task's options when it runs.

A task keeps only its own options and the credential's name, so rotating the credential reaches every task
using it. A credential for tasks is stored with the kind "task" and the task type's id as its provider.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from certify_tui.errors import UsageError
from certify_tui.model import Credential, TaskConfig
from certify_tui.store.credentials import get_credential

TASK_KIND = "task"  # the credential's `challenge`: its values are a deployment task type's options


def credential_kind(credential: Credential) -> str:
    """"the webhook task", "dns-01 cloudflare": what a credential is for, in messages."""
    if credential.challenge == TASK_KIND:
        return f"the {credential.provider} task"
    return f"{credential.challenge} {credential.provider}"


def task_credential(task: TaskConfig, type_id: str) -> Credential | None:
    """The task's credential (NotFoundError if it is gone); a UsageError when it is for another kind."""
    if not task.credential:
        return None
    credential = get_credential(task.credential)
    if (credential.challenge, credential.provider) != (TASK_KIND, type_id):
        raise UsageError(f"The credential '{credential.name}' is for {credential_kind(credential)}, not the "
                         f"{type_id} task: choose one made with `credential add NAME --task {type_id}`.",
                         field="credential")
    return credential


def task_options(task: TaskConfig, type_id: str) -> dict[str, Any]:
    """The options the task runs with: its own over its credential's current values (secrets still sealed)."""
    credential = task_credential(task, type_id)
    own: Mapping[str, Any] = task.options or {}
    return {**credential.options(), **own} if credential is not None else dict(own)
