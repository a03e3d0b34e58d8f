"""Certificate editor: every step by keys, preview and save through the core, snapshots of each step."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Input, Label, Select
from tui_helpers import SIZES, SNAP_ROOT, add_account, add_certificate, fresh_core, wait_until

from certify_tui.deploy.tasks import get_task
from certify_tui.model import ChallengeRule, TaskConfig
from certify_tui.plugins import SECRET_MASK, Param, Plugin
from certify_tui.tui.screens.confirm import ConfirmScreen
from certify_tui.tui.screens.editor import CertificateEditorScreen, RuleList
from certify_tui.tui.widgets.domain_list import DomainList
from certify_tui.tui.widgets.plan_view import PlanView
from certify_tui.tui.widgets.plugin_form import PluginForm
from certify_tui.tui.widgets.task_list import TaskList


def editor(pilot) -> CertificateEditorScreen:
    screen = pilot.app.screen
    assert isinstance(screen, CertificateEditorScreen)
    return screen


def label_text(screen, selector: str) -> str:
    return str(screen.query_one(selector, Label).render())


async def open_editor(pilot, name: str | None = None) -> CertificateEditorScreen:
    pilot.app.open_editor(name)
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, CertificateEditorScreen) and pilot.app.screen.loaded)
    await pilot.pause()
    return editor(pilot)


async def type_domain(pilot, name: str, *, add: bool = True) -> None:
    """Type a name into the domain input and wait for the core's verdict (and its addition)."""
    screen = editor(pilot)
    before = len(screen.query_one(DomainList).names)
    await pilot.press(*name)
    await wait_until(pilot, lambda: label_text(screen, "#domain-check") != "")
    if add:
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(screen.query_one(DomainList).names) == before + 1)


async def choose(pilot, option_index_delta: int) -> None:
    """Open the focused Select, move down `option_index_delta` options, pick."""
    await pilot.press("enter")
    await pilot.pause()
    await pilot.press(*["down"] * option_index_delta, "enter")
    await pilot.pause()


async def wait_plan(pilot) -> PlanView:
    view = editor(pilot).query_one(PlanView)
    await wait_until(pilot, lambda: view.plan is not None or view.error is not None)
    return view


async def test_create_a_certificate_entirely_by_keys(make_app, tmp_path) -> None:
    webroot = tmp_path / "html"
    webroot.mkdir()  # a webroot must exist when it is given
    core = fresh_core("editor-create")
    add_account()
    app = make_app(core)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_editor(pilot)
        assert app.focused is screen.query_one("#cert-name")
        await pilot.press(*"web", "enter")  # Enter moves on to the domain input
        assert app.focused is screen.query_one("#domain-input")

        await type_domain(pilot, "example.com")
        await type_domain(pilot, "www.example.com")
        assert "Added www.example.com" in label_text(screen, "#domain-check")

        # An IDN is checked as typed and shown with its A-label.
        await type_domain(pilot, "bücher.example.com", add=False)
        assert "✓ xn--bcher-kva.example.com" in label_text(screen, "#domain-check")
        await pilot.press("ctrl+u")

        # An invalid name: the core's reason appears under the input, and Enter adds nothing.
        await type_domain(pilot, "bad..name", add=False)
        assert "empty label" in label_text(screen, "#domain-check")
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert screen.query_one(DomainList).names == ["example.com", "www.example.com"]
        await pilot.press("ctrl+u")

        # A wildcard is accepted as a name, with the hint that it needs a dns-01 rule.
        await type_domain(pilot, "*.example.com")
        hint = screen.query_one("#wildcard-hint", Label)
        assert hint.display
        assert "*.example.com needs dns-01: add a dns-01 rule in Validation" in str(hint.render())

        # On the list: remove the wildcard, make www the primary.
        await pilot.press("tab")
        assert app.focused is screen.query_one(DomainList)
        await pilot.press("end", "delete")
        assert not hint.display
        await pilot.press("p")
        assert screen.query_one(DomainList).names == ["www.example.com", "example.com"]

        # Validation: switch the default rule to the webroot provider and fill its path.
        await pilot.press("ctrl+right")
        await pilot.pause()
        assert app.focused is screen.query_one(RuleList)
        assert [(r["pattern"], r["challenge"], r["provider"]) for r in screen.rules] == [("*", "http-01", "standalone")]
        await pilot.press("tab", "tab", "tab")
        assert app.focused is screen.query_one("#rule-provider")
        await choose(pilot, 1)
        await wait_until(pilot, lambda: bool(screen.query("#field-path")))
        assert screen.rules[0]["provider"] == "webroot"
        await pilot.press("tab", *str(webroot))
        assert screen.rules[0]["options"] == {"path": str(webroot)}

        # Advanced: key type ec384 (second in the list).
        await pilot.press("ctrl+right", "ctrl+right")
        await pilot.pause()
        assert app.focused is screen.query_one("#key-type")
        await choose(pilot, 1)
        assert screen.query_one("#key-type", Select).value == "ec384"

        # Preview: both names, the webroot path, the new key type.
        await pilot.press("ctrl+right")
        view = await wait_plan(pilot)
        assert view.error is None, view.error
        assert "www.example.com (primary)" in view.text
        assert "example.com" in view.text and str(webroot) in view.text and "ec384" in view.text

        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, CertificateEditorScreen))
        cert = core.get_certificate("web")
        assert cert.identifiers == ["www.example.com", "example.com"]
        assert cert.primary_identifier == "www.example.com"
        assert cert.key_type == "ec384"
        assert cert.challenge_rules == (ChallengeRule(pattern="*", challenge="http-01", provider="webroot",
                                                      options={"path": str(webroot)}),)


async def test_editing_loads_the_stored_settings(make_app) -> None:
    core = fresh_core("editor-edit")
    add_certificate(add_account(), "shop", ["shop.example.com", "www.shop.example.com"])
    app = make_app(core)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_editor(pilot, "shop")
        assert not screen.query("#cert-name")
        assert label_text(screen, "#cert-name-fixed") == "shop"
        assert screen.query_one(DomainList).names == ["shop.example.com", "www.shop.example.com"]
        assert screen.rules[0]["provider"] == "standalone"
        assert screen.query_one("#field-port", Input).value == "80"
        assert screen.query_one("#renewal-value", Input).value == "75"
        assert screen.query_one("#key-type", Select).value == "ec256"
        assert not screen.dirty

        # The preview of the stored certificate under its own name (not "already exists").
        screen.go_to("preview")
        view = await wait_plan(pilot)
        assert view.error is None, view.error
        assert view.plan.certificate == "shop"
        assert all("/certificates/shop/live/" in f.path for f in view.plan.files)

        screen.go_to("domains")
        await pilot.pause()
        await type_domain(pilot, "api.shop.example.com")
        assert screen.dirty
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, CertificateEditorScreen))
        assert core.get_certificate("shop").identifiers == [
            "shop.example.com", "www.shop.example.com", "api.shop.example.com"]


async def test_invalid_save_shows_the_core_message_and_saves_nothing(make_app) -> None:
    core = fresh_core("editor-invalid")
    add_account()
    app = make_app(core)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_editor(pilot)
        await pilot.press(*"empty", "ctrl+s")
        status = screen.query_one("#status", Label)
        await wait_until(pilot, lambda: status.display)
        assert "A certificate needs at least one domain name" in str(status.render())
        assert "(Domains step)" in str(status.render())
        assert any("at least one domain name" in n.message for n in app._notifications)
        assert isinstance(app.screen, CertificateEditorScreen)
        assert core.list_certificates() == []

        # The preview says the same, in place of the plan, naming the step to fix.
        await pilot.press("ctrl+left")  # no step before Domains: stays
        screen.go_to("preview")
        view = await wait_plan(pilot)
        assert "at least one domain name" in view.text and "Fix it in Domains" in view.text


async def test_dns01_rule_offers_the_dns_providers(make_app) -> None:
    core = fresh_core("editor-dns")
    add_account()
    app = make_app(core)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_editor(pilot)
        await pilot.press(*"wild", "enter")
        await type_domain(pilot, "*.example.org")
        screen.go_to("validation")
        await pilot.pause()
        await pilot.press("tab", "tab")
        assert app.focused is screen.query_one("#rule-challenge")
        await choose(pilot, 1)  # http-01 -> dns-01
        await wait_until(pilot, lambda: screen.rules[0]["challenge"] == "dns-01")
        await pilot.pause()
        first = core.challenge_providers()["dns-01"][0]
        assert not first.id.startswith("lexicon-")  # our own providers come before the 90 DNS-API ones
        assert screen.rules[0]["provider"] == first.id
        assert screen.query_one("#rule-provider").display
        assert not screen.query_one("#wildcard-hint").display  # the wildcard now has its dns-01 rule
        screen.go_to("preview")
        view = await wait_plan(pilot)
        assert f"dns-01 via {first.id}" in view.text


async def test_rules_can_be_added_and_removed(make_app) -> None:
    core = fresh_core("editor-rules")
    add_account()
    app = make_app(core)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_editor(pilot)
        screen.go_to("validation")
        await pilot.pause()
        await pilot.press("a")  # new rule goes before the catch-all and its pattern gets focus
        assert app.focused is screen.query_one("#rule-pattern")
        await pilot.press(*"api.example.org")
        assert [r["pattern"] for r in screen.rules] == ["api.example.org", "*"]
        await pilot.press("shift+tab", "delete")
        assert [r["pattern"] for r in screen.rules] == ["*"]
        await pilot.press("delete")  # the last rule stays
        assert len(screen.rules) == 1


async def test_escape_with_changes_asks_first(make_app) -> None:
    core = fresh_core("editor-escape")
    add_account()
    app = make_app(core)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_editor(pilot)
        await pilot.press("escape")  # nothing changed: leaves at once
        await wait_until(pilot, lambda: not isinstance(app.screen, CertificateEditorScreen))

        await open_editor(pilot)
        await pilot.press(*"draft")
        await pilot.press("escape")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert isinstance(app.screen, CertificateEditorScreen)
        await pilot.press("escape", "y")
        await wait_until(pilot, lambda: not isinstance(app.screen, (CertificateEditorScreen, ConfirmScreen)))
        assert core.list_certificates() == []


async def test_save_and_request_opens_the_request(make_app, monkeypatch) -> None:
    core = fresh_core("editor-request")
    add_account()
    app = make_app(core)
    requested: list[str] = []
    monkeypatch.setattr(app, "open_request", lambda name, plan=None: requested.append(name))
    async with app.run_test(size=(80, 24)) as pilot:
        await open_editor(pilot)
        await pilot.press(*"now", "enter")
        await type_domain(pilot, "now.example.com")
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: requested == ["now"])
        assert not isinstance(app.screen, CertificateEditorScreen)



async def test_save_and_request_from_the_preview_hands_over_the_plan_shown(make_app, monkeypatch) -> None:
    """What the person looked at is what the request must do (it refuses if the certificate changed since)."""
    core = fresh_core("editor-request-plan")
    add_account()
    app = make_app(core)
    requested: list[tuple] = []
    monkeypatch.setattr(app, "open_request", lambda name, plan=None: requested.append((name, plan)))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_editor(pilot)
        await pilot.press(*"seen", "enter")
        await type_domain(pilot, "seen.example.com")
        screen.go_to("preview")
        shown = (await wait_plan(pilot)).plan
        assert shown is not None
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: len(requested) == 1)
    assert requested[0] == ("seen", shown)
    assert core.preview("seen").fingerprint == shown.fingerprint  # saved as shown: the request will run it

# -- Deployment: mode, site, tasks --------------------------------------------------------------
def task_lines(screen) -> list[str]:
    tasks = screen.query_one(TaskList)
    return [str(tasks.get_option_at_index(i).prompt) for i in range(tasks.option_count)]


async def open_deployment(pilot, name: str | None = None) -> CertificateEditorScreen:
    screen = await open_editor(pilot, name)
    screen.go_to("deployment")
    await pilot.pause()
    assert pilot.app.focused is screen.query_one("#deploy-mode")
    return screen


async def add_task(pilot, type_id: str, *first_field: str) -> None:
    """With the task list focused: a, pick the type from the list, type into the form's first field."""
    screen = editor(pilot)
    before = len(screen.tasks)
    ids = list(screen.task_types)
    await pilot.press("a")
    await pilot.pause()
    await pilot.press(*["down"] * (ids.index(type_id) + 1), "enter")  # the blank prompt comes first
    await wait_until(pilot, lambda: len(screen.tasks) == before + 1 and bool(screen.query("#task-form")))
    await pilot.pause()
    assert pilot.app.focused is screen.query("#task-form Input").first()  # straight into the form
    await pilot.press(*first_field)
    screen.query_one(TaskList).focus()
    await pilot.pause()


async def choose_mode(pilot, mode: str) -> None:
    screen = editor(pilot)
    modes = list(screen.modes)
    select = screen.query_one("#deploy-mode", Select)
    select.focus()
    delta = modes.index(mode) - modes.index(str(select.value))
    await pilot.press("enter")
    await pilot.pause()
    await pilot.press(*["down" if delta > 0 else "up"] * abs(delta), "enter")
    await wait_until(pilot, lambda: select.value == mode)


async def test_tasks_are_added_reordered_and_removed_by_keys(make_app) -> None:
    core = fresh_core("editor-tasks")
    add_certificate(add_account(), "shop", ["shop.example.com"])
    app = make_app(core)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_deployment(pilot, "shop")
        assert task_lines(screen) == ["No tasks yet: a adds one."]
        assert not screen.query_one("#task-editor").display
        await pilot.press("tab", "tab")
        assert app.focused is screen.query_one(TaskList)

        await add_task(pilot, "export", *"/srv/certs/shop")
        assert screen.query_one("#task-heading", Label).render().plain == "1 of 1 · Export files"
        await add_task(pilot, "command", *"systemctl reload haproxy")
        await add_task(pilot, "webhook", *"https://hooks.example.org/certs")
        assert task_lines(screen) == [
            "1. Export files → /srv/certs/shop (on success)",
            "2. Run a command → systemctl reload haproxy (on success)",
            "3. Call a webhook → https://hooks.example.org/certs (on success)",
        ]

        # The highlighted (last added) webhook moves up, then goes; the command moves to the top.
        await pilot.press("u")
        assert [t["type"] for t in screen.tasks] == ["export", "webhook", "command"]
        assert screen.query_one("#task-heading", Label).render().plain == "2 of 3 · Call a webhook"
        await pilot.press("delete")
        assert [t["type"] for t in screen.tasks] == ["export", "command"]
        assert screen.query_one(TaskList).highlighted == 1
        await pilot.press("ctrl+up")
        assert task_lines(screen) == ["1. Run a command → systemctl reload haproxy (on success)",
                                      "2. Export files → /srv/certs/shop (on success)"]

        # The Preview lists them in that order.
        screen.go_to("preview")
        view = await wait_plan(pilot)
        assert view.error is None, view.error
        assert view.text.index("Run a command") < view.text.index("Export files")

        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, CertificateEditorScreen))
        stored = core.get_certificate("shop").deployment.tasks
        assert stored == (
            TaskConfig(type="command", title="Run a command",
                       options=get_task("command").validate_options({"command": "systemctl reload haproxy"})),
            TaskConfig(type="export", title="Export files",
                       options=get_task("export").validate_options({"path": "/srv/certs/shop"})),
        )
        assert stored[1].options["trigger"] == "success" and stored[1].options["retries"] == 0


async def test_a_secret_task_option_stays_masked_when_reopened(make_app) -> None:
    core = fresh_core("editor-task-secret")
    add_certificate(add_account(), "shop", ["shop.example.com"])
    spec = core.certificate_spec("shop")
    spec.tasks = [TaskConfig("webhook", {"url": "https://hooks.example.org/certs",
                                         "secret_header": "Bearer s3cret-token"})]
    core.update_certificate("shop", spec)
    app = make_app(core)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_deployment(pilot, "shop")
        assert task_lines(screen) == ["1. Call a webhook → https://hooks.example.org/certs (on success)"]
        secret = screen.query_one("#task-form #field-secret_header", Input)
        assert secret.password and secret.value == "" and SECRET_MASK in secret.placeholder
        assert "s3cret" not in "".join(task_lines(screen))
        assert not screen.dirty

        # Another change saves the stored secret untouched.
        screen.query_one("#task-title", Input).focus()
        await pilot.press(*"Tell the on-call channel")
        assert task_lines(screen)[0].startswith("1. Tell the on-call channel → ")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, CertificateEditorScreen))
        (task,) = core.get_certificate("shop").deployment.tasks
        assert task.title == "Tell the on-call channel"
        assert task.options["secret_header"] == "Bearer s3cret-token"


async def test_a_task_option_error_points_at_deployment(make_app) -> None:
    core = fresh_core("editor-task-error")
    add_certificate(add_account(), "shop", ["shop.example.com"])
    app = make_app(core)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_deployment(pilot, "shop")
        await pilot.press("tab", "tab")
        await add_task(pilot, "webhook", *"not a url")
        await pilot.press("ctrl+s")
        status = screen.query_one("#status", Label)
        await wait_until(pilot, lambda: status.display)
        assert "webhook: option 'url'" in str(status.render())
        assert "(Deployment step)" in str(status.render())
        assert core.get_certificate("shop").deployment.tasks == ()


async def test_single_site_mode_without_a_site_is_refused(make_app, tmp_path) -> None:
    core = fresh_core("editor-single-none")
    add_certificate(add_account(), "shop", ["shop.example.com"])
    (tmp_path / "nginx.conf").write_text("events {}\nhttp {}\n")
    core.update_settings({"nginx_config": str(tmp_path / "nginx.conf"), "apache_config": "off"})
    app = make_app(core)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_deployment(pilot, "shop")
        await choose_mode(pilot, "single")
        assert screen.query_one("#site-row").display
        await wait_until(pilot, lambda: screen.sites is not None)
        assert "No nginx or Apache sites found" in label_text(screen, "#sites-note")
        await pilot.press("ctrl+s")
        status = screen.query_one("#status", Label)
        await wait_until(pilot, lambda: status.display)
        assert "needs a site" in str(status.render()) and "(Deployment step)" in str(status.render())
        screen.go_to("preview")
        view = await wait_plan(pilot)
        assert "needs a site" in view.text and "Fix it in Deployment" in view.text
        assert core.get_certificate("shop").deployment.mode == "files"


NGINX_CONF = """events {}
http {
    server {
        listen 443 ssl;
        server_name shop.example.com;
        ssl_certificate /x.pem;
        ssl_certificate_key /y.pem;
    }
}
"""


def write_nginx(core, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "nginx.conf"
    path.write_text(NGINX_CONF)
    core.update_settings({"nginx_config": str(path), "apache_config": "off"})  # nothing from this machine
    return path


async def test_single_site_mode_lists_the_discovered_sites(make_app, tmp_path) -> None:
    core = fresh_core("editor-single")
    add_certificate(add_account(), "shop", ["shop.example.com", "www.shop.example.com"])
    conf = write_nginx(core, tmp_path)
    app = make_app(core)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_deployment(pilot, "shop")

        # auto: the one site is covered by the certificate's names.
        await choose_mode(pilot, "auto")
        await wait_until(pilot, lambda: screen.sites is not None)
        note = label_text(screen, "#sites-note")
        assert "Deploys to 1 of 1 site(s) found" in note and f"nginx shop.example.com  {conf}:" in note

        await choose_mode(pilot, "single")
        site = screen.sites[0]
        select = screen.query_one("#deploy-site", Select)
        assert select.is_blank() and "Choose one of the 1 site(s) found" in label_text(screen, "#sites-note")
        await pilot.press("tab")
        assert app.focused is select
        await choose(pilot, 1)
        assert screen.site_id == site.id
        assert f"nginx  shop.example.com  {conf}:{site.line}" in str(select.query_one("SelectCurrent #label").render())
        assert "listens on 443 with TLS" in label_text(screen, "#sites-note")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, CertificateEditorScreen))
        deployment = core.get_certificate("shop").deployment
        assert deployment.mode == "single" and deployment.site == site.id

        # Reopened: the stored site is chosen again.
        screen = await open_deployment(pilot, "shop")
        await wait_until(pilot, lambda: screen.sites is not None)
        assert screen.query_one("#deploy-site", Select).value == site.id


async def test_binding_is_chosen_for_auto_and_single(make_app, tmp_path) -> None:
    core = fresh_core("editor-binding")
    add_certificate(add_account(), "shop", ["shop.example.com", "www.shop.example.com"])
    write_nginx(core, tmp_path)
    app = make_app(core)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_deployment(pilot, "shop")
        assert not screen.query_one("#binding-row").display  # files: no site is changed
        await choose_mode(pilot, "auto")
        assert screen.query_one("#binding-row").display
        binding = screen.query_one("#deploy-binding", Select)
        assert binding.value == "update"
        binding.focus()
        await choose(pilot, 1)
        assert binding.value == "add-or-update"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, CertificateEditorScreen))
        deployment = core.get_certificate("shop").deployment
        assert deployment.mode == "auto" and deployment.binding == "add-or-update"

        screen = await open_deployment(pilot, "shop")  # reopened: the stored binding
        assert screen.query_one("#deploy-binding", Select).value == "add-or-update"


# -- the plug-in form on its own ----------------------------------------------------------------
class TokenPlugin(Plugin):
    id = "demo"
    title = "Demo"
    params = (
        Param("zone", "Zone", required=True, help="The DNS zone."),
        Param("token", "API token", secret=True),
        Param("ttl", "TTL", type="int", default=60, minimum=30, maximum=3600),
        Param("proxied", "Proxied", type="bool", default=False),
        Param("mode", "Mode", type="choice", choices=("fast", "safe"), default="safe"),
    )


class FormApp(App[None]):
    def __init__(self, values: dict) -> None:
        super().__init__()
        self.values = values

    def compose(self) -> ComposeResult:
        yield PluginForm(TokenPlugin.params, self.values, owner=TokenPlugin.id)


async def test_plugin_form_keeps_secrets_masked_and_validates_like_the_plugin() -> None:
    app = FormApp({"zone": "example.org", "token": "s3cret-value"})
    async with app.run_test(size=(80, 30)) as pilot:
        form = app.query_one(PluginForm)
        token = form.query_one("#field-token", Input)
        assert token.password and token.value == "" and SECRET_MASK in token.placeholder
        values = form.values()
        assert values == TokenPlugin.validate_options(values) == {
            "zone": "example.org", "token": "s3cret-value", "ttl": 60, "proxied": False, "mode": "safe"}
        assert form.errors() == {}

        token.focus()
        await pilot.press(*"new")
        assert form.values()["token"] == "new"

        zone = form.query_one("#field-zone", Input)
        zone.focus()
        await pilot.press("ctrl+u")
        ttl = form.query_one("#field-ttl", Input)
        ttl.focus()
        await pilot.press("ctrl+u", *"5")
        await pilot.pause()
        errors = form.errors()
        assert errors["zone"] == "demo: option 'zone' (Zone) is required."
        assert errors["ttl"] == "demo: option 'ttl' must be between 30 and 3600."
        shown = form.query_one("#error-ttl", Label)
        assert shown.display and "between 30 and 3600" in str(shown.render())


# -- snapshots of each step ---------------------------------------------------------------------
STEPS = ["domains", "validation", "deployment", "advanced", "preview"]


def snapshot_run_before(step: str):
    async def run_before(pilot) -> None:
        screen = await open_editor(pilot)
        # Typing is covered above; here the draft is filled directly to keep the snapshots quick.
        screen.query_one("#cert-name", Input).value = "shop"
        screen.query_one(DomainList).set_names(["shop.example.com", "xn--bcher-kva.example.com"])
        screen.query_one("#domain-input", Input).value = "www.shop.example.com"  # checked as if typed
        await wait_until(pilot, lambda: label_text(screen, "#domain-check") != "")
        for _ in range(STEPS.index(step)):
            await pilot.press("ctrl+right")
            await pilot.pause()
        if step == "preview":
            await wait_plan(pilot)
        await pilot.pause(0.1)

    return run_before


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("step", STEPS)
def test_snapshot_step(snap_compare, make_app, step, size) -> None:
    core = fresh_core(f"editor-snap-{step}")
    add_account()
    app = make_app(core)
    assert snap_compare(app, terminal_size=size, run_before=snapshot_run_before(step))


def deployment_with_tasks_run_before():
    async def run_before(pilot) -> None:
        screen = await open_deployment(pilot, "shop")
        await wait_until(pilot, lambda: screen.sites is not None)
        await pilot.press("tab", "tab", "tab", "tab")  # mode, site, binding, add-task: the task list
        assert pilot.app.focused is screen.query_one(TaskList)
        await pilot.pause(0.1)

    return run_before


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot_deployment_with_tasks(snap_compare, make_app, size) -> None:
    core = fresh_core("editor-snap-deployment-tasks")
    add_certificate(add_account(), "shop", ["shop.example.com", "www.shop.example.com"])
    write_nginx(core, SNAP_ROOT / "editor-snap-deployment-tasks" / "nginx")
    spec = core.certificate_spec("shop")
    spec.deployment_mode = "single"
    spec.deployment_site = core.discover_sites()[0].id
    spec.tasks = [
        TaskConfig("export", {"path": "/srv/certs/shop", "formats": "pem,pfx", "pkcs12_password": "pfx-secret"}),
        TaskConfig("service", {"name": "haproxy", "trigger": "always"}, "Reload HAProxy"),
    ]
    core.update_certificate("shop", spec)
    app = make_app(core)
    assert snap_compare(app, terminal_size=size, run_before=deployment_with_tasks_run_before())


async def test_domains_can_be_loaded_from_a_site(make_app, tmp_path) -> None:
    """ctrl+l lists the discovered nginx sites; picking one adds its host names (checked by the core)."""
    from textual.widgets import OptionList

    from certify_tui.tui.screens.site_picker import SitePickerScreen

    core = fresh_core("editor-site-names")
    add_account()
    write_nginx(core, tmp_path)
    app = make_app(core)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_editor(pilot)
        await pilot.press("ctrl+l")
        await wait_until(pilot, lambda: isinstance(app.screen, SitePickerScreen) and app.screen.loaded)
        assert app.screen.query_one(OptionList).option_count == 1
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.query_one(DomainList).names == ["shop.example.com"])
        assert app.screen is screen


async def test_focused_input_cursor_is_steady_for_snapshots(make_app) -> None:
    """The Domains step focuses an Input; its cursor must look the same in every frame a snapshot could take.

    Before the conftest's steady_cursor fixture, the 0.5 s blink made test_snapshot_step[domains-*] fail
    about 2 runs in 3."""
    core = fresh_core("editor-steady-cursor")
    add_account()
    app = make_app(core)
    async with app.run_test(size=SIZES[0]) as pilot:
        screen = await open_editor(pilot)
        field = screen.query_one("#domain-input", Input)
        field.focus()
        await pilot.pause()
        seen = set()
        for _ in range(6):  # 1.5 s: three blink periods
            seen.add(field._cursor_visible)
            await pilot.pause(0.25)
        assert seen == {True}
