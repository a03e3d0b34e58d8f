"""A request does what its preview said: a stale preview orders nothing, and the events name the plan's steps."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from helpers import add_account, add_standalone_cert, standalone, unique
from servers.common import free_port
from servers.pebble import PebbleServer

from certify_tui.ca import order as acme_order
from certify_tui.events import ProgressEvent
from certify_tui.lifecycle import Core
from certify_tui.model import TaskConfig
from certify_tui.plan import PlanChanged
from certify_tui.service.api import ApiServer
from certify_tui.service.discovery import read_token

ORDER_STEPS = ("order", "authorization", "validation", "finalize", "download", "store", "deploy", "task")


@pytest.fixture
def orders(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The names of every order placed (or resumed) from now on."""
    placed: list[list[str]] = []
    real = acme_order.issue

    def issue(session: Any, names: list[str], *args: Any, **kwargs: Any) -> Any:
        placed.append(list(names))
        return real(session, names, *args, **kwargs)

    monkeypatch.setattr(acme_order, "issue", issue)
    return placed


def _add_a_domain(core: Core, name: str, pebble: PebbleServer) -> None:
    spec = core.certificate_spec(name)
    spec.domains.append(f"new.{name}.example.test")
    core.update_certificate(name, spec)


def _add_a_rule(core: Core, name: str, pebble: PebbleServer) -> None:
    """A rule of its own for the name: the same listener, but another rule than the one previewed."""
    core.set_challenge_rule(name, f"{name}.example.test", **standalone(pebble))


@pytest.mark.parametrize(("change", "what"), [(_add_a_domain, "names, rules"), (_add_a_rule, "rules")],
                         ids=["domain added", "rule added"])
def test_a_stale_preview_orders_nothing(core: Core, pebble: PebbleServer, orders: list[list[str]],
                                        change: Callable[[Core, str, PebbleServer], None], what: str) -> None:
    add_account(core, pebble)
    name = unique("stale")
    add_standalone_cert(core, pebble, name, [f"{name}.example.test"])
    shown = core.preview(name)
    # Changed through the core, as another face (or a person in another window) would.
    change(core, name, pebble)
    events: list[ProgressEvent] = []

    with pytest.raises(PlanChanged) as refused:
        core.request(name, plan=shown, on_event=events.append)

    assert refused.value.message == (f"'{name}' changed since it was previewed ({what}): nothing was ordered; "
                                     "preview it again, then request.")
    assert orders == []
    assert [e.step for e in events] == ["start", "failed"] and events[-1].message == refused.value.message
    view = core.certificate_view(core.get_certificate(name))
    assert view["versions"] == 0 and view["serial"] is None and view["files"] is None
    assert view["status"] == "new" and view["failure_count"] == 0 and view["last_error"] is None
    # A fresh preview is what runs.
    fresh = core.preview(name)
    result = core.request(name, plan=fresh)
    assert result.plan is not None and result.plan.fingerprint == fresh.fingerprint
    assert orders == [fresh.identifiers]


def test_events_carry_the_ids_of_the_plan_steps(core: Core, pebble: PebbleServer, tmp_path: Path) -> None:
    add_account(core, pebble)
    name = unique("steps")
    names = [f"{name}.example.test", f"www.{name}.example.test"]
    add_standalone_cert(core, pebble, name, names)
    spec = core.certificate_spec(name)
    spec.tasks = [TaskConfig("export", {"path": str(tmp_path / "out"), "formats": "pem"})]
    core.update_certificate(name, spec)
    plan = core.preview(name)
    assert [s.id for s in plan.steps] == ["order", *[f"validate:{n}" for n in names], "store", "deploy", "task:1"]
    events: list[ProgressEvent] = []
    heard: list[Any] = []

    result = core.request(name, plan=plan, on_event=events.append, on_plan=heard.append)

    assert result.deployed and [p.fingerprint for p in heard] == [plan.fingerprint]
    ids = {s.id for s in plan.steps}
    stepped = [e for e in events if e.step in ORDER_STEPS]
    assert all(e.plan_step in ids for e in stepped), [(e.step, e.plan_step) for e in stepped]
    assert {e.plan_step for e in stepped} == ids  # every step of the plan was run and said so
    for identifier in names:
        mine = {e.step for e in events if e.identifier == identifier}
        assert {"authorization", "validation"} <= mine
        assert {e.plan_step for e in events if e.identifier == identifier} == {f"validate:{identifier}"}
    assert {e.step for e in events if e.plan_step == "order"} >= {"order", "finalize", "download"}
    assert [e.ok for e in events if e.plan_step == "task:1" and e.step == "task"][-1] is True
    assert (tmp_path / "out" / "fullchain.pem").exists()


def test_api_renews_only_what_the_client_previewed(core: Core, pebble: PebbleServer, data_dir: Path,
                                                   orders: list[list[str]]) -> None:
    add_account(core, pebble)
    name = unique("apiplan")
    add_standalone_cert(core, pebble, name, [f"{name}.example.test"])
    server = ApiServer(core, port=free_port()).start()
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {read_token(data_dir)}"
    session.trust_env = False
    try:
        def call(method: str, path: str, **kwargs: Any) -> requests.Response:
            return session.request(method, f"{server.url}/api/certificates/{name}{path}", timeout=120, **kwargs)

        shown = call("GET", "/preview").json()
        assert [s["id"] for s in shown["steps"]][:2] == ["order", f"validate:{name}.example.test"]
        core.set_challenge_rule(name, "*", **standalone(pebble, port=free_port()))
        stale = call("POST", "/renew", json={"plan": shown["fingerprint"]})
        assert stale.status_code == 409, stale.text
        assert "changed since it was previewed" in stale.json()["error"] and orders == []
        assert call("POST", "/renew", json={"plan": 5}).status_code == 400

        core.set_challenge_rule(name, "*", **standalone(pebble))
        current = call("GET", "/preview").json()
        assert current["fingerprint"] == shown["fingerprint"]  # the same settings: the same plan
        done = call("POST", "/renew", json={"plan": current["fingerprint"]})
        assert done.status_code == 200, done.text
        assert done.json()["ok"] is True and len(orders) == 1
    finally:
        session.close()
        server.stop()
