"""The plan without a CA: its steps, its fingerprint, what it shows and hides, and the step ids events carry."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from certify_tui.events import ORDER, STORE, RequestLog
from certify_tui.keys import generate_key, key_to_pem
from certify_tui.lifecycle import Core
from certify_tui.lifecycle.certificates import CertificateSpec
from certify_tui.model import ChallengeRule, RenewalPolicy, TaskConfig
from certify_tui.plan import PlanChanged
from certify_tui.store.models import Account

TSIG_SECRET = base64.b64encode(b"a very secret tsig key!").decode()
HOOK_SECRET = "Bearer hook-secret-123"


@pytest.fixture
def core(tmp_path: Path) -> Iterator[Core]:
    core = Core.open(str(tmp_path / "data"))
    Account.create(email="a@example.org", directory_url="https://ca.invalid/dir", status="valid",
                   account_key_pem=key_to_pem(generate_key()).decode(), allow_internal_names=True)
    yield core
    core.close()


def _spec(name: str = "shop", domains: list[str] | None = None) -> CertificateSpec:
    return CertificateSpec(
        name=name, domains=domains or ["shop.example.test", "www.shop.example.test"],
        rules=[ChallengeRule("www.shop.example.test", "dns-01", "rfc2136",
                             {"server": "127.0.0.1", "tsig_key_name": "k", "tsig_secret": TSIG_SECRET}),
               ChallengeRule("*", "http-01", "standalone")],
        tasks=[TaskConfig("webhook", {"url": "https://hooks.example.test/x", "secret_header": HOOK_SECRET})])


def test_steps_in_the_order_a_request_runs_them(core: Core) -> None:
    core.add_certificate(_spec())
    plan = core.preview("shop")
    assert [(s.id, s.kind) for s in plan.steps] == [
        ("order", "order"), ("validate:shop.example.test", "validate"), ("validate:www.shop.example.test", "validate"),
        ("store", "store"), ("deploy", "deploy"), ("task:1", "task")]
    titles = {s.id: s.title for s in plan.steps}
    assert "http-01 via standalone" in titles["validate:shop.example.test"]
    assert "dns-01 via rfc2136" in titles["validate:www.shop.example.test"]
    assert titles["task:1"].startswith("run task 1, Call a webhook")
    # Execution carries the rules as stored, secrets and all; the plan's rule for each name is its own.
    execution = plan.execution
    assert execution.rules[execution.rule_of["www.shop.example.test"]].options["tsig_secret"] == TSIG_SECRET
    assert execution.rules[execution.rule_of["shop.example.test"]].pattern == "*"
    assert execution.deployment.mode == "files" and len(execution.deployment.tasks) == 1


def test_json_and_text_show_the_steps_never_the_secrets(core: Core) -> None:
    core.add_certificate(_spec())
    plan = core.preview("shop")
    data = json.loads(json.dumps(plan.to_dict()))
    assert "execution" not in data
    assert data["fingerprint"] == plan.fingerprint and len(plan.fingerprint) == 64
    assert [s["id"] for s in data["steps"]] == [s.id for s in plan.steps]
    assert data["identifiers"] == plan.identifiers and data["validations"][1]["provider"] == "rfc2136"
    text = plan.render_text()
    assert "Steps:\n  1. order from" in text and "  2. validate shop.example.test" in text
    for shown in (json.dumps(data), text, repr(plan)):
        assert TSIG_SECRET not in shown and HOOK_SECRET not in shown


def test_the_fingerprint_follows_what_would_run(core: Core) -> None:
    core.add_certificate(_spec())
    before = core.preview("shop")
    assert core.preview("shop").fingerprint == before.fingerprint  # stable: nothing changed
    spec = core.certificate_spec("shop")
    spec.renewal, spec.auto_renew = RenewalPolicy("days_before", 20), False  # when to renew is not what a request does
    core.update_certificate("shop", spec)
    assert core.preview("shop").fingerprint == before.fingerprint

    spec = core.certificate_spec("shop")
    spec.domains.append("api.shop.example.test")
    core.update_certificate("shop", spec)
    grown = core.preview("shop")
    assert grown.fingerprint != before.fingerprint
    assert grown.changes_from(before) == ["names", "rules"]
    with pytest.raises(PlanChanged, match=r"^'shop' changed since it was previewed \(names, rules\): nothing was "
                                          r"ordered; preview it again, then request\.$"):
        grown.check_unchanged(before)
    grown.check_unchanged(core.preview("shop"))

    spec = core.certificate_spec("shop")
    spec.key_type = "rsa2048"
    core.update_certificate("shop", spec)
    assert core.preview("shop").changes_from(grown) == ["key"]

    spec = core.certificate_spec("shop")
    spec.tasks = [TaskConfig("webhook", {"url": "https://hooks.example.test/other"})]
    core.update_certificate("shop", spec)
    assert core.preview("shop").changes_from(grown) == ["key", "tasks"]


def test_a_draft_previews_as_its_saved_certificate_will(core: Core) -> None:
    """The editor shows the plan of an unsaved draft, then requests with it once saved: the same plan."""
    draft = core.preview_spec(_spec("new"))
    core.add_certificate(_spec("new"))
    assert core.preview("new").fingerprint == draft.fingerprint

    spec = core.certificate_spec("new")
    spec.domains = ["new.example.test"]
    edited = core.preview_spec(spec, editing="new")
    core.update_certificate("new", spec)
    assert core.preview("new").fingerprint == edited.fingerprint != draft.fingerprint


def test_events_name_the_step_they_belong_to() -> None:
    log = RequestLog()
    log.step("start", "request")
    with log.in_step(ORDER):
        log.step("order", "new order")
        log.step("validation", "validated", "a.example.test", ok=True)
        log.info("serving the token", "a.example.test")
        with log.in_step(STORE):
            log.step("store", "stored", ok=True)
        log.step("finalize", "issued", ok=True)
    log.step("done", "done", ok=True)
    assert [(e.step, e.plan_step) for e in log.events] == [
        ("start", None), ("order", "order"), ("validation", "validate:a.example.test"),
        ("info", "validate:a.example.test"), ("store", "store"), ("finalize", "order"), ("done", None)]
    assert "validate:" not in log.events[2].line()  # the log line keeps its format
