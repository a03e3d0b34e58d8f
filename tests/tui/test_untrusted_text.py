"""Messages quoting untrusted text (what people typed, what a CA answered) are shown as plain text."""

from __future__ import annotations

from textual.widgets._toast import Toast
from tui_helpers import add_account, fresh_core

from certify_tui.errors import UsageError


async def test_notifications_never_interpret_markup(make_app) -> None:
    core = fresh_core("untrusted-notify")
    add_account()
    app = make_app(core)
    async with app.run_test(size=(80, 24)) as pilot:
        message = UsageError("No certificate named '[@click=app.quit]x[/] [/y]\x1b[2J'.").message
        app.screen.notify(message, severity="error")  # what every screen does with a core error
        await pilot.pause()
        (notification,) = list(app._notifications)
        assert notification.markup is False
        content = Toast(notification).render()
        assert content.plain.endswith("No certificate named '[@click=app.quit]x[/] [/y]\\x1b[2J'.")
        assert not [span for span in content.spans if "click" in str(span.style)]
        assert app.return_code is None


async def test_form_errors_never_interpret_markup(make_app) -> None:
    """A plug-in form's field error quotes the value as typed."""
    from textual.widgets import Input, Label

    from certify_tui.challenges.http_standalone import StandaloneHttpProvider
    from certify_tui.tui.widgets.plugin_form import PluginForm

    core = fresh_core("untrusted-form")
    app = make_app(core)
    async with app.run_test(size=(100, 30)) as pilot:
        form = PluginForm(StandaloneHttpProvider.params, owner="standalone")
        await app.screen.mount(form)
        await pilot.pause()
        form.query_one("#field-address", Input).value = "[b]1[/b][/x]"
        await pilot.pause()
        label = form.query_one("#error-address", Label)
        shown = label.render()
        assert "'[b]1[/b][/x]'" in shown.plain, shown.plain
        assert "must be an IP address" in shown.plain
