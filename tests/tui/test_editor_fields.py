"""The editor points at the step to fix from the error's field (CertifyError.field), not from its words;
the renewal is checked by the core's own check, shown as typed."""

from __future__ import annotations

import pytest
from test_editor import open_editor, type_domain, wait_plan
from textual.widgets import Input, Label
from tui_helpers import add_account, add_certificate, fresh_core, wait_until

from certify_tui.errors import UsageError
from certify_tui.model import RenewalPolicy
from certify_tui.tui.messages import Failed
from certify_tui.tui.screens.editor import CertificateEditorScreen
from certify_tui.tui.screens.editor.steps import step_for


@pytest.mark.parametrize(("field", "step"), [
    ("name", "domains"), ("domains", "domains"), ("account", "domains"),
    ("rules", "validation"), ("rules[2]", "validation"),
    ("deployment_mode", "deployment"), ("deployment_site", "deployment"), ("tasks[0]", "deployment"),
    ("key_type", "advanced"), ("preferred_chain", "advanced"), ("profile", "advanced"),
    ("renewal", "advanced"), ("auto_renew", "advanced"),
    ("no_such_field", None), (None, None),
])
def test_each_field_has_its_step(field: str | None, step: str | None) -> None:
    assert step_for(field) == step


def test_a_failure_message_keeps_the_error_field() -> None:
    failure = Failed.of(UsageError("Bad task option.", field="tasks[1]"))
    assert (failure.message, failure.field) == ("Bad task option.", "tasks[1]")
    assert UsageError("No field.").field is None


async def test_a_save_error_names_the_step_of_its_field(make_app, monkeypatch) -> None:
    core = fresh_core("editor-field-save")
    add_account()
    app = make_app(core)

    def refuse(spec):  # words that name no step: only the field can tell
        raise UsageError("The CA would refuse this.", field="key_type")

    monkeypatch.setattr(core, "add_certificate", refuse)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_editor(pilot)
        await pilot.press(*"web", "enter")
        await type_domain(pilot, "web.example.com")
        await pilot.press("ctrl+s")
        status = screen.query_one("#status", Label)
        await wait_until(pilot, lambda: status.display)
        assert str(status.render()) == "✗ The CA would refuse this.  (Advanced step)"
        assert isinstance(app.screen, CertificateEditorScreen) and not screen.saving


async def test_a_preview_error_names_the_step_of_its_field(make_app, monkeypatch) -> None:
    core = fresh_core("editor-field-preview")
    add_account()
    app = make_app(core)

    def refuse(spec, editing=None):
        raise UsageError("Not like this.", field="rules[0]")

    monkeypatch.setattr(core, "preview_spec", refuse)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_editor(pilot)
        screen.go_to("preview")
        view = await wait_plan(pilot)
        assert "Not like this." in view.text and "Fix it in Validation" in view.text


async def test_the_renewal_is_checked_by_the_core_as_typed(make_app) -> None:
    core = fresh_core("editor-renewal")
    add_certificate(add_account(), "shop", ["shop.example.com"])
    app = make_app(core)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_editor(pilot, "shop")
        screen.go_to("advanced")
        await pilot.pause()
        screen.query_one("#renewal-value", Input).focus()
        await pilot.press("ctrl+u", "1", "0", "0")
        error = screen.query_one("#renewal-error", Label)
        await wait_until(pilot, lambda: error.display)
        assert "Renewal percent must be between 1 and 99" in str(error.render())

        await pilot.press("ctrl+s")
        status = screen.query_one("#status", Label)
        await wait_until(pilot, lambda: status.display)
        assert "Renewal percent must be between 1 and 99" in str(status.render())
        assert "(Advanced step)" in str(status.render())
        screen.go_to("preview")
        view = await wait_plan(pilot)
        assert "Fix it in Advanced" in view.text

        screen.query_one("#renewal-value", Input).value = "80"
        await wait_until(pilot, lambda: not error.display)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, CertificateEditorScreen))
        assert core.get_certificate("shop").renewal == RenewalPolicy("percent", 80)
