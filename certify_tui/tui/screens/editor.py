"""Certificate editor: five steps (Domains, Validation, Deployment, Advanced, Preview), keyboard first.

The screen keeps the draft in plain Python state (names, rules, tasks, the chosen site) and in its
widgets; the core checks each name as it is typed, builds the preview from the draft and validates
it again on save.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Checkbox, Footer, Input, Label, OptionList, Select, TabbedContent, TabPane

from certify_tui.errors import CertifyError, UsageError
from certify_tui.identifiers import covers, is_wildcard, matches_rule, to_unicode
from certify_tui.lifecycle.certificates import CertificateSpec
from certify_tui.tui.messages import WorkDone, WorkFailed
from certify_tui.tui.screens.confirm import ConfirmScreen
from certify_tui.tui.widgets.domain_list import DomainList
from certify_tui.tui.widgets.plan_view import PlanView
from certify_tui.tui.widgets.plugin_form import PluginForm
from certify_tui.tui.widgets.task_list import TaskList, task_prompt

if TYPE_CHECKING:
    from certify_tui.challenges.base import ChallengeProvider
    from certify_tui.deploy.base import DeploymentTask, Site
    from certify_tui.lifecycle import Core
    from certify_tui.plan import Plan
    from certify_tui.tui.app import CertifyApp

STEPS = ("domains", "validation", "deployment", "advanced", "preview")
STEP_TITLES = {"domains": "Domains", "validation": "Validation", "deployment": "Deployment",
               "advanced": "Advanced", "preview": "Preview"}
FIRST_FOCUS = {"domains": "#domain-input", "validation": "#rules", "deployment": "#deploy-mode",
               "advanced": "#key-type", "preview": "#plan"}
RENEWAL_KINDS = (("% of the lifetime", "percent"), ("days before expiry", "days_before"),
                 ("days after issuance", "days_after"))
# Words in a core message -> the step where it is fixed (the first match wins).
FIX_IN = (
    (("rule", "option", "provider", "challenge", "pattern"), "validation"),
    (("deployment", "site", "task"), "deployment"),
    (("key type",), "advanced"),
    (("certificate name", "domain", "identifier", "wildcard", "label", "suffix", "account", "name"), "domains"),
)


def _row(label: str, *widgets: Any, id: str | None = None) -> Horizontal:
    """A label on the left, the field on the right: one line per setting fits 80x24."""
    return Horizontal(Label(label, classes="row-label"), *widgets, classes="row", id=id)


def fix_step(message: str, task_ids: tuple[str, ...] = ()) -> str | None:
    """The step where the problem `message` describes is fixed; `task_ids` are the deployment task types,
    whose option errors start with the type ("export: option 'path' ...") as a provider's do."""
    lower = message.lower()
    owner, sep, _ = message.partition(":")
    if "deployment mode" in lower or (sep and owner.strip() in task_ids):
        return "deployment"
    for words, step in FIX_IN:
        if any(word in lower for word in words):
            return step
    return None


def preview_plan(core: Core, spec: CertificateSpec, editing: str | None) -> Plan:
    """The plan for a draft; `editing` names the stored certificate the draft changes."""
    return core.preview_spec(spec, editing=editing)


class RuleList(OptionList):
    """The challenge rules, first match wins."""

    BINDINGS = [
        Binding("a,insert", "screen.add_rule", "Add rule"),
        Binding("delete,backspace", "screen.remove_rule", "Remove rule"),
    ]


class CertificateEditorScreen(Screen[str | None]):
    """Edits the certificate `name`, or a new one when None; dismisses with the saved name or None."""

    app: CertifyApp
    CSS_PATH = "editor.tcss"
    BINDINGS = [
        Binding("ctrl+right,alt+n,ctrl+n", "step(1)", "Steps", priority=True, key_display="^←/^→"),
        Binding("ctrl+left,alt+p", "step(-1)", "Previous step", priority=True, show=False),
        Binding("ctrl+s", "save(False)", "Save", priority=True),
        Binding("ctrl+r", "save(True)", "Save+request", priority=True),
        Binding("ctrl+l", "load_site", "Names from a site", show=False, priority=True),
        Binding("escape", "back", "Back"),
        Binding("q", "quit", "Quit", show=False),  # the app's q would drop unsaved changes without asking
        # The app's keys still work here, but the footer has no room for them at 80 columns.
        Binding("question_mark", "app.help", "Help", show=False),
        Binding("a", "app.accounts", "Accounts", show=False),
        Binding("s", "app.settings", "Settings", show=False),
    ]

    loaded = False  # set once the draft is on screen (tests wait for it)
    saving = False

    def __init__(self, name: str | None) -> None:
        super().__init__()
        self.certificate_name = name
        self.accounts: list[tuple[str, str]] = []  # (id, "email (CA)") of active accounts
        self.rules: list[dict[str, Any]] = []
        self.rule_index = 0
        self._form_target: tuple[PluginForm, dict[str, Any]] | None = None
        self.tasks: list[dict[str, Any]] = []  # {"type", "options", "title"}; "" title = the type's title
        self.task_index = 0
        self._task_form_target: tuple[PluginForm, dict[str, Any]] | None = None
        self.site_id: str | None = None  # the chosen site for the "single" mode
        self.sites: list[Site] | None = None  # None until discovered
        self.sites_error: str | None = None
        self._baseline: dict[str, Any] | None = None
        self._preview_serial = 0
        self.shown_plan: Plan | None = None  # the preview on screen when saving, handed to the request

    # -- layout -------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        core = self.app.core
        self.providers: dict[str, list[type[ChallengeProvider]]] = core.challenge_providers()
        self.modes = core.deployment_modes()
        try:
            self.task_types: dict[str, type[DeploymentTask]] = {t.id: t for t in core.deployment_task_types()}
        except (CertifyError, ImportError):  # the editor stays usable without the task plug-ins
            self.task_types = {}
        self.key_types = core.key_types()
        title = f"Edit certificate · {self.certificate_name}" if self.certificate_name else "New certificate"
        yield Label(f"{title}  ·  ctrl+←/→ steps  ·  ctrl+s save  ·  esc back", id="title-bar")
        with TabbedContent(id="steps"):
            with TabPane("1 Domains", id="domains"), VerticalScroll(classes="step"):
                if self.certificate_name:
                    yield _row("Certificate", Label(self.certificate_name, id="cert-name-fixed"))
                else:
                    yield _row("Certificate name", Input(placeholder="defaults to the primary domain",
                                                         id="cert-name", compact=True))
                    yield Label("Names its files and folder: letters, digits, '.', '_', '-'.",
                                classes="help indented")
                yield _row("Add domain", Input(placeholder="type a name, Enter adds it", id="domain-input",
                                               compact=True))
                yield Label("", id="domain-check", classes="indented", markup=False)
                yield DomainList(id="domain-list")
                yield Label("Delete removes the highlighted name; p makes it the primary (first) name.",
                            classes="help")
                yield Label("", id="wildcard-hint")
                yield _row("Account", Label("Loading…", id="account-single"),
                           Select[str]([], prompt="Choose an account", id="account", compact=True))
            with TabPane("2 Validation", id="validation"), VerticalScroll(classes="step"):
                yield RuleList(id="rules")
                yield Label("Tried in order: the first pattern matching a name decides how the CA checks it. "
                            "a adds a rule, Delete removes one; edit the highlighted rule below.", classes="help")
                yield _row("Pattern", Input(placeholder="* for every name, or *.example.com, www.example.com",
                                            id="rule-pattern", compact=True))
                yield _row("Challenge", Select[str]([(c, c) for c in self.providers], allow_blank=False,
                                                    id="rule-challenge", compact=True))
                yield _row("Provider", Select[str]([], allow_blank=True, prompt="none", id="rule-provider",
                                                   compact=True),
                           Label("", id="no-provider"))
                yield Label("", id="provider-description", classes="help indented")
                yield Vertical(id="provider-form-box")
            with TabPane("3 Deployment", id="deployment"), VerticalScroll(classes="step"):
                yield _row("Mode", Select[str]([(m, m) for m in self.modes], allow_blank=False, id="deploy-mode",
                                               compact=True))
                yield Label("", id="deploy-description", classes="help indented")
                yield _row("Site", Select[str]([], prompt="Choose a site", id="deploy-site", compact=True),
                           id="site-row")
                yield Label("", id="sites-note", classes="indented", markup=False)
                yield _row("Add task", Select[str]([(t.title, t.id) for t in self.task_types.values()],
                                                   prompt="choose a type to add a task", id="new-task-type",
                                                   compact=True))
                yield TaskList(id="tasks")
                yield Label("Run in this order after each request. a adds a task, Delete removes one, u (ctrl+↑) "
                            "moves it up; edit the highlighted task below.", classes="help")
                with Vertical(id="task-editor"):
                    yield _row("Task", Label("", id="task-heading"))
                    yield Label("", id="task-description", classes="help indented")
                    yield _row("Title", Input(id="task-title", compact=True))
                    yield Vertical(id="task-form-box")
            with TabPane("4 Advanced", id="advanced"), VerticalScroll(classes="step"):
                yield _row("Key type", Select[str]([(f"{k}  {d}", k) for k, d in self.key_types.items()],
                                                   allow_blank=False, id="key-type", compact=True))
                yield _row("", Checkbox("Reuse the key on renewal", id="reuse-key", compact=True))
                yield _row("Preferred chain", Input(placeholder="issuer name, e.g. ISRG Root X1 (optional)",
                                                    id="preferred-chain", compact=True))
                yield _row("Profile", Input(placeholder="ACME profile the CA offers (optional)", id="profile",
                                            compact=True))
                yield _row("Renew at", Input(type="number", id="renewal-value", compact=True),
                           Select[str](RENEWAL_KINDS, allow_blank=False, id="renewal-kind", compact=True))
                yield Label("", id="renewal-error", classes="indented", markup=False)
                yield _row("", Checkbox("Renew automatically", id="auto-renew", compact=True))
            with TabPane("5 Preview", id="preview"):
                yield PlanView(id="plan")
        yield Label("", id="status")
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#account", Select).display = False
        self.query_one("#renewal-error").display = False
        self.query_one("#status").display = False
        self.query_one("#site-row").display = False
        self.query_one("#sites-note").display = False
        self.query_one(TaskList).border_title = "Tasks"
        self.query_one("#plan", PlanView).show_waiting("")
        self.query_one("#cert-name" if not self.certificate_name else "#domain-input").focus()
        self._load()

    # -- loading ------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="editor-load", exit_on_error=False)
    def _load(self) -> None:
        core = self.app.core
        try:
            accounts = [(str(a.id), f"{a.email} ({a.ca_name or a.directory_url})")
                        for a in core.list_accounts() if a.status == "valid"]
            # A new certificate starts from the default rule chosen in settings (e.g. a webroot).
            spec = (core.certificate_spec(self.certificate_name) if self.certificate_name
                    else CertificateSpec(name="", domains=[], rules=[core.default_rule()]))
        except CertifyError as exc:
            self.post_message(WorkFailed("load", exc.message))
            return
        self.post_message(WorkDone("load", (accounts, spec)))

    async def _fill(self, accounts: list[tuple[str, str]], spec: CertificateSpec | None) -> None:
        self.accounts = accounts
        draft = spec or CertificateSpec(name="", domains=[])
        self.query_one(DomainList).set_names(draft.domains, announce=False)
        single = self.query_one("#account-single", Label)
        select = self.query_one("#account", Select)
        ids = [i for i, _ in accounts]
        if len(accounts) > 1:
            select.set_options([(label, i) for i, label in accounts])
            if draft.account in ids:
                select.value = draft.account
            select.display, single.display = True, False
        elif accounts:
            single.update(accounts[0][1])
        else:
            single.update(Text("No active ACME account: add one in Accounts (a on the list) first.",
                               style="bold red"))
        # Rules: the stored ones, or the spec's default rule (http-01 with its default provider).
        if draft.rules:
            self.rules = [{"pattern": r.get("pattern", "*"), "challenge": r["challenge"],
                           "provider": r.get("provider"), "options": dict(r.get("options") or {})}
                          for r in draft.rules]
        else:
            providers = self.providers.get(draft.challenge) or []
            self.rules = [{"pattern": "*", "challenge": draft.challenge,
                           "provider": draft.provider or (providers[0].id if providers else None),
                           "options": dict(draft.options)}]
        self._rebuild_rule_list(0)
        await self._show_rule()
        self.tasks = []
        for task in draft.tasks or []:
            cls = self.task_types.get(task.get("type", ""))
            title = task.get("title") or ""
            self.tasks.append({"type": task.get("type"), "options": dict(task.get("options") or {}),
                               "title": "" if cls is not None and title == cls.title else title})
        self.site_id = draft.deployment_site
        self._rebuild_task_list(0)
        await self._show_task()
        with self.prevent(Select.Changed, Input.Changed, Checkbox.Changed):
            self.query_one("#deploy-mode", Select).value = draft.deployment_mode
            self.query_one("#key-type", Select).value = draft.key_type
            self.query_one("#reuse-key", Checkbox).value = draft.reuse_key
            self.query_one("#preferred-chain", Input).value = draft.preferred_chain or ""
            self.query_one("#profile", Input).value = draft.profile or ""
            kind, amount = next(iter((draft.renewal or {"percent": 75}).items()))
            self.query_one("#renewal-kind", Select).value = kind if kind in dict(
                (v, k) for k, v in RENEWAL_KINDS) else "percent"
            self.query_one("#renewal-value", Input).value = f"{float(amount):g}"
            self.query_one("#auto-renew", Checkbox).value = draft.auto_renew
        self._show_deployment()
        self._update_wildcard_hint()
        self._baseline = self._draft()
        self.loaded = True
        self._renewal_changed()

    @on(WorkDone)
    async def _work_done(self, event: WorkDone) -> None:
        if event.tag == "load":
            await self._fill(*event.value)
        elif event.tag == "check":
            self._checked(*event.value)
        elif event.tag == "site-names":
            checked, errors = event.value
            domains = self.query_one(DomainList)
            added = [n for n in checked if domains.add_name(n)]
            if errors:
                self._set_check(f"✗ {errors[0]}", ok=False)
            else:
                self._set_check(f"Added {len(added)} name(s) from the site." if added
                                else "The site's names are already in the list.", ok=True)
        elif event.tag == "preview":
            serial, plan = event.value
            if serial == self._preview_serial:
                self.query_one(PlanView).show_plan(plan)
        elif event.tag == "save":
            self._saved(*event.value)
        elif event.tag == "sites":
            self._sites_found(*event.value)

    @on(WorkFailed)
    def _work_failed(self, event: WorkFailed) -> None:
        if event.tag == "preview":
            serial, _, message = event.message.partition("\0")
            if int(serial) == self._preview_serial:
                self._show_preview_error(message)
        elif event.tag == "save":
            self.saving = False
            self._show_status(event.message)
            self.notify(event.message, severity="error", title="Not saved")
        else:
            self.notify(event.message, severity="error", title="Cannot edit")

    # -- step navigation ----------------------------------------------------------------------
    def action_step(self, delta: int) -> None:
        tabs = self.query_one(TabbedContent)
        index = STEPS.index(tabs.active) if tabs.active in STEPS else 0
        self.go_to(STEPS[max(0, min(len(STEPS) - 1, index + delta))])

    def go_to(self, step: str) -> None:
        self.query_one(TabbedContent).active = step
        self.call_after_refresh(lambda: self.query_one(FIRST_FOCUS[step]).focus())

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "preview":
            self.refresh_preview()
        elif event.pane.id == "deployment" and self.loaded:
            self._show_deployment(rediscover=True)

    # -- Domains ------------------------------------------------------------------------------
    @on(Input.Submitted, "#cert-name")
    def _name_done(self) -> None:
        self.query_one("#domain-input").focus()

    @on(Input.Changed, "#domain-input")
    def _domain_typed(self, event: Input.Changed) -> None:
        if event.value.strip():
            self._check(event.value, False)
        else:
            self._set_check("")

    @on(Input.Submitted, "#domain-input")
    def _domain_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self._check(event.value, True)
        elif self.query_one(DomainList).names:
            self.go_to("validation")

    def _account_ref(self) -> str | None:
        select = self.query_one("#account", Select)
        if len(self.accounts) > 1:
            return None if select.value is Select.NULL else str(select.value)
        return self.accounts[0][0] if self.accounts else None

    @work(thread=True, group="check-domain", exit_on_error=False)
    def _check(self, text: str, add: bool) -> None:
        try:
            name = self.app.core.check_domain(text, self._account_ref())
        except CertifyError as exc:
            self.post_message(WorkDone("check", (text, add, None, exc.message)))
            return
        self.post_message(WorkDone("check", (text, add, name, None)))

    def _checked(self, text: str, add: bool, name: str | None, error: str | None) -> None:
        box = self.query_one("#domain-input", Input)
        if box.value != text:
            return  # the user typed on; a newer check is on its way
        if error:
            self._set_check(f"✗ {error}", ok=False)
            return
        assert name is not None
        shown = to_unicode(name)
        note = f"✓ {name}" + (f"  ({shown})" if shown != name else "")
        if is_wildcard(name):
            note += "  needs a dns-01 rule"
        domains = self.query_one(DomainList)
        if not add:
            self._set_check(note + ("  (already in the list)" if name in domains.names else ""), ok=True)
            return
        if not domains.add_name(name):
            self._set_check(f"✗ {name} is already in the list", ok=False)
            return
        with self.prevent(Input.Changed):
            box.value = ""
        self._set_check(f"Added {name}. Type another name, or ctrl+→ for Validation.", ok=True)

    def action_load_site(self) -> None:
        """Add the host names of a discovered nginx/Apache site to the Domains step."""
        from certify_tui.tui.screens.site_picker import SitePickerScreen

        def picked(hostnames: list[str] | None) -> None:
            if hostnames:
                self._load_names(hostnames)

        self.go_to("domains")
        self.app.push_screen(SitePickerScreen(), picked)

    @work(thread=True, exit_on_error=False, group="load-site-names")
    def _load_names(self, hostnames: list[str]) -> None:
        checked, errors = [], []
        for host in hostnames:
            try:
                checked.append(self.app.core.check_domain(host, self._account_ref()))
            except CertifyError as exc:
                errors.append(exc.message)
        self.post_message(WorkDone("site-names", (checked, errors)))

    def _set_check(self, message: str, ok: bool = True) -> None:
        label = self.query_one("#domain-check", Label)
        label.update(message)
        label.set_class(bool(message) and ok, "-ok")
        label.set_class(bool(message) and not ok, "-error")

    @on(DomainList.Changed)
    def _domains_changed(self) -> None:
        self._update_wildcard_hint()

    def _update_wildcard_hint(self) -> None:
        hints = []
        for name in self.query_one(DomainList).names:
            if is_wildcard(name) and self._challenge_for(name) != "dns-01":
                hints.append(f"⚠ {to_unicode(name)} needs dns-01: add a dns-01 rule in Validation")
        hint = self.query_one("#wildcard-hint", Label)
        hint.update("\n".join(hints))
        hint.display = bool(hints)

    def _challenge_for(self, name: str) -> str | None:
        for rule in self.rules:
            try:
                if rule["pattern"].strip() and matches_rule(rule["pattern"], name):
                    return str(rule["challenge"])
            except UsageError:
                continue
        return None

    # -- Validation ---------------------------------------------------------------------------
    def _provider_class(self, rule: dict[str, Any]) -> type[ChallengeProvider] | None:
        return next((p for p in self.providers.get(rule["challenge"], []) if p.id == rule["provider"]), None)

    def _rule_prompt(self, index: int) -> Text:
        rule = self.rules[index]
        line = Text(f"{index + 1}. ")
        line.append(rule["pattern"].strip() or "(no pattern yet)", style="bold")
        line.append(f"  →  {rule['challenge']} / {rule['provider'] or 'no provider'}")
        cls = self._provider_class(rule)
        if cls is not None and rule["options"]:
            secret = {p.key for p in cls.params if p.secret}
            shown = ", ".join(f"{k}={'********' if k in secret and v else v}" for k, v in rule["options"].items())
            line.append(f"  {shown}", style="dim")
        return line

    def _rebuild_rule_list(self, highlight: int) -> None:
        rules = self.query_one(RuleList)
        rules.clear_options()
        rules.add_options([self._rule_prompt(i) for i in range(len(self.rules))])
        self.rule_index = max(0, min(highlight, len(self.rules) - 1))
        rules.highlighted = self.rule_index

    def _refresh_rule_prompt(self) -> None:
        self.query_one(RuleList).replace_option_prompt_at_index(self.rule_index, self._rule_prompt(self.rule_index))
        self._update_wildcard_hint()

    async def _show_rule(self) -> None:
        """Load the highlighted rule into the fields below the list."""
        rule = self.rules[self.rule_index]
        with self.prevent(Input.Changed, Select.Changed):
            self.query_one("#rule-pattern", Input).value = rule["pattern"]
            self.query_one("#rule-challenge", Select).value = rule["challenge"]
        await self._show_provider(rule)

    async def _show_provider(self, rule: dict[str, Any]) -> None:
        providers = self.providers.get(rule["challenge"], [])
        select = self.query_one("#rule-provider", Select)
        missing = self.query_one("#no-provider", Label)
        with self.prevent(Select.Changed):
            select.set_options([(f"{p.id}  {p.title}", p.id) for p in providers])
            if rule["provider"] in [p.id for p in providers]:
                select.value = rule["provider"]
        select.display = bool(providers)
        missing.display = not providers
        missing.update(f"No {rule['challenge']} providers yet" if not providers else "")
        box = self.query_one("#provider-form-box", Vertical)
        await box.remove_children()
        self._form_target = None
        cls = self._provider_class(rule)
        description = self.query_one("#provider-description", Label)
        if cls is None:
            description.update(f"Names this rule matches cannot be validated until a {rule['challenge']} "
                               "provider is available; use another challenge." if not providers else
                               "Choose a provider.")
            return
        description.update(cls.description)
        form = PluginForm(cls.params, rule["options"], owner=cls.id, id="provider-form")
        self._form_target = (form, rule)
        await box.mount(form)

    @on(OptionList.OptionHighlighted, "#rules")
    async def _rule_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_index != self.rule_index and event.option_index < len(self.rules):
            self.rule_index = event.option_index
            await self._show_rule()

    @on(Input.Changed, "#rule-pattern")
    def _pattern_changed(self, event: Input.Changed) -> None:
        if self.rules:
            self.rules[self.rule_index]["pattern"] = event.value
            self._refresh_rule_prompt()

    @on(Select.Changed, "#rule-challenge")
    async def _challenge_changed(self, event: Select.Changed) -> None:
        rule = self.rules[self.rule_index] if self.rules else None
        if rule is None or event.value is Select.NULL or event.value == rule["challenge"]:
            return
        providers = self.providers.get(str(event.value), [])
        rule.update(challenge=str(event.value), provider=providers[0].id if providers else None, options={})
        self._refresh_rule_prompt()
        await self._show_provider(rule)

    @on(Select.Changed, "#rule-provider")
    async def _provider_changed(self, event: Select.Changed) -> None:
        rule = self.rules[self.rule_index] if self.rules else None
        if rule is None or event.value is Select.NULL or event.value == rule["provider"]:
            return
        rule.update(provider=str(event.value), options={})
        self._refresh_rule_prompt()
        await self._show_provider(rule)

    @on(PluginForm.Changed)
    def _options_changed(self, event: PluginForm.Changed) -> None:
        if self._form_target and event.form is self._form_target[0]:
            self._form_target[1]["options"] = event.form.values()
            self._refresh_rule_prompt()
        elif self._task_form_target and event.form is self._task_form_target[0]:
            self._task_form_target[1]["options"] = event.form.values()
            self._refresh_task_prompt()

    async def action_add_rule(self) -> None:
        providers = self.providers.get("http-01", [])
        rule = {"pattern": "", "challenge": "http-01", "provider": providers[0].id if providers else None,
                "options": {}}
        # A rule after the catch-all '*' would never match, so new rules go before it.
        catch_all = next((i for i, r in enumerate(self.rules) if r["pattern"].strip() == "*"), len(self.rules))
        self.rules.insert(catch_all, rule)
        self._rebuild_rule_list(catch_all)
        await self._show_rule()
        self.query_one("#rule-pattern").focus()

    async def action_remove_rule(self) -> None:
        if len(self.rules) <= 1:
            self.notify("A certificate needs at least one rule: change this one instead.", severity="warning")
            return
        del self.rules[self.rule_index]
        self._rebuild_rule_list(self.rule_index)
        await self._show_rule()
        self._update_wildcard_hint()

    # -- Deployment ---------------------------------------------------------------------------
    @property
    def deployment_mode(self) -> str:
        return str(self.query_one("#deploy-mode", Select).value)

    @on(Select.Changed, "#deploy-mode")
    def _mode_changed(self) -> None:
        self._show_deployment(rediscover=self.sites is None)

    def _show_deployment(self, rediscover: bool = False) -> None:
        """The mode's description, and the site choice ("single") or the sites it would cover ("auto")."""
        mode = self.deployment_mode
        self.query_one("#deploy-description", Label).update(self.modes.get(mode, ""))
        uses_sites = mode in ("auto", "single")
        self.query_one("#site-row").display = mode == "single"
        if uses_sites and rediscover:
            self._discover()
        note = self.query_one("#sites-note", Label)
        note.display = uses_sites
        if not uses_sites:
            return
        problem = True
        if self.sites is None:
            text: str | Text = "Looking for nginx and Apache sites…"
            problem = False
        elif self.sites_error:
            text = f"✗ {self.sites_error}"
        elif not self.sites:
            text = "No nginx or Apache sites found: set their configuration files in Settings (s)."
        elif mode == "single":
            text = self._site_detail()
            problem = self.site_id is None or text.plain.startswith("✗")
        else:
            text, problem = self._coverage()
        note.update(text)
        note.set_class(problem, "-warning")

    def _site_detail(self) -> Text:
        site = next((s for s in self.sites or [] if s.id == self.site_id), None)
        if self.site_id is None:
            return Text(f"Choose one of the {len(self.sites or [])} site(s) found.")
        if site is None:
            return Text(f"✗ The site {self.site_id} is not in the web server configuration any more: choose again.")
        ports = ", ".join(str(p) for p in site.ports) or "no port"
        line = Text(f"{site.config_file}:{site.line} · listens on {ports}" + (" with TLS" if site.tls else ""))
        if site.certificate:
            line.append(f" · now serves {site.certificate}")
        return line

    def _coverage(self) -> tuple[Text, bool]:
        """The discovered TLS sites whose every host name the current names cover (the ones "auto" deploys to)."""
        names = self.query_one(DomainList).names

        def covered(site: Site) -> bool:
            try:
                return site.tls and bool(site.hostnames) and all(any(covers(n, h) for n in names)
                                                                 for h in site.hostnames)
            except UsageError:  # a regex server name: no certificate covers it
                return False

        sites = [s for s in self.sites or [] if covered(s)]
        if not sites:
            return Text(f"None of the {len(self.sites or [])} site(s) found has all its names in this "
                        "certificate: nothing would be deployed."), True
        text = Text(f"Deploys to {len(sites)} of {len(self.sites or [])} site(s) found:")
        for site in sites:
            text.append(f"\n• {site.server} {', '.join(site.hostnames)}  ")
            text.append(f"{site.config_file}:{site.line}", style="dim")
        return text, False

    @work(thread=True, exclusive=True, group="editor-sites", exit_on_error=False)
    def _discover(self) -> None:
        try:
            sites = list(self.app.core.discover_sites())
        except CertifyError as exc:
            self.post_message(WorkDone("sites", ([], exc.message)))
        except Exception as exc:  # noqa: BLE001 - shown as a line, never a traceback
            self.post_message(WorkDone("sites", ([], f"Site discovery failed: {exc}")))
        else:
            self.post_message(WorkDone("sites", (sites, None)))

    def _sites_found(self, sites: list[Site], error: str | None) -> None:
        self.sites, self.sites_error = sites, error
        options = [(f"{s.server}  {', '.join(s.hostnames) or '(no name)'}  {s.config_file}:{s.line}", s.id)
                   for s in sites]
        if self.site_id and self.site_id not in [s.id for s in sites]:
            options.append((f"{self.site_id}  (not found any more)", self.site_id))
        select = self.query_one("#deploy-site", Select)
        with self.prevent(Select.Changed):
            select.set_options(options)
            if self.site_id:
                select.value = self.site_id
        self._show_deployment()

    @on(Select.Changed, "#deploy-site")
    def _site_chosen(self, event: Select.Changed) -> None:
        self.site_id = None if event.value is Select.NULL else str(event.value)
        self._show_deployment()

    def _task_prompt(self, index: int) -> Text:
        task = self.tasks[index]
        return task_prompt(index + 1, task, self.task_types.get(task["type"]))

    def _rebuild_task_list(self, highlight: int) -> None:
        self.task_index = max(0, min(highlight, len(self.tasks) - 1))
        self.query_one(TaskList).show_tasks([self._task_prompt(i) for i in range(len(self.tasks))],
                                            self.task_index)

    def _refresh_task_prompt(self) -> None:
        if self.tasks:
            self.query_one(TaskList).replace_option_prompt_at_index(self.task_index,
                                                                    self._task_prompt(self.task_index))

    async def _show_task(self) -> None:
        """Load the highlighted task into the fields below the list."""
        box = self.query_one("#task-form-box", Vertical)
        await box.remove_children()
        self._task_form_target = None
        self.query_one("#task-editor").display = bool(self.tasks)
        if not self.tasks:
            return
        task = self.tasks[self.task_index]
        cls = self.task_types.get(task["type"])
        title = self.query_one("#task-title", Input)
        with self.prevent(Input.Changed):
            title.value = task["title"]
        title.placeholder = cls.title if cls else ""
        self.query_one("#task-heading", Label).update(
            Text.assemble(f"{self.task_index + 1} of {len(self.tasks)} · ",
                          (cls.title if cls else f"unknown type '{task['type']}'", "bold")))
        self.query_one("#task-description", Label).update(
            cls.description if cls else "This type of task does not exist (any more): remove the task.")
        if cls is not None:
            form = PluginForm(cls.params, task["options"], owner=cls.id, id="task-form")
            self._task_form_target = (form, task)
            await box.mount(form)

    @on(OptionList.OptionHighlighted, "#tasks")
    async def _task_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_index != self.task_index and event.option_index < len(self.tasks):
            self.task_index = event.option_index
            await self._show_task()

    @on(Input.Changed, "#task-title")
    def _task_title_changed(self, event: Input.Changed) -> None:
        if self.tasks:
            self.tasks[self.task_index]["title"] = event.value
            self._refresh_task_prompt()

    def action_add_task(self) -> None:
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
        self.tasks.append({"type": str(event.value), "options": {}, "title": ""})
        self._rebuild_task_list(len(self.tasks) - 1)
        await self._show_task()

        def edit() -> None:
            fields = self.query("#task-form Input, #task-form Select, #task-form Checkbox")
            if fields:
                fields.first().focus()

        self.call_after_refresh(edit)

    async def action_remove_task(self) -> None:
        if not self.tasks:
            return
        del self.tasks[self.task_index]
        self._rebuild_task_list(self.task_index)
        await self._show_task()

    def action_move_task(self, delta: int) -> None:
        """Tasks run in order: move the highlighted one up (-1) or down (+1)."""
        target = self.task_index + delta
        if not self.tasks or not 0 <= target < len(self.tasks):
            return
        self.tasks[self.task_index], self.tasks[target] = self.tasks[target], self.tasks[self.task_index]
        self._rebuild_task_list(target)  # the form follows: it edits the same task dict
        heading = self.query_one("#task-heading", Label)
        cls = self.task_types.get(self.tasks[target]["type"])
        heading.update(Text.assemble(f"{target + 1} of {len(self.tasks)} · ",
                                     (cls.title if cls else str(self.tasks[target]["type"]), "bold")))

    def _task_specs(self) -> list[dict[str, Any]]:
        specs = []
        for task in self.tasks:
            cls = self.task_types.get(task["type"])
            title = task["title"].strip() or (cls.title if cls else "")
            specs.append({"type": task["type"], "options": dict(task["options"]), "title": title})
        return specs

    # -- Advanced -----------------------------------------------------------------------------
    def _renewal(self) -> tuple[dict[str, Any], str | None]:
        kind = str(self.query_one("#renewal-kind", Select).value)
        text = self.query_one("#renewal-value", Input).value.strip()
        try:
            amount = float(text)
        except ValueError:
            return {}, "Renewal: enter a number (Advanced step)."
        if kind == "percent" and not 1 <= amount <= 99:
            return {}, "Renewal: the percentage of the lifetime must be from 1 to 99 (Advanced step)."
        if kind != "percent" and amount <= 0:
            return {}, "Renewal: the number of days must be more than 0 (Advanced step)."
        return {kind: int(amount) if amount == int(amount) else amount}, None

    @on(Input.Changed, "#renewal-value")
    @on(Select.Changed, "#renewal-kind")
    def _renewal_changed(self) -> None:
        if not self.loaded:
            return
        _, error = self._renewal()
        label = self.query_one("#renewal-error", Label)
        label.update(f"✗ {error}" if error else "")
        label.set_class(bool(error), "-error")
        label.display = bool(error)

    # -- the draft ----------------------------------------------------------------------------
    def _cert_name(self) -> str:
        if self.certificate_name:
            return self.certificate_name
        typed = self.query_one("#cert-name", Input).value.strip()
        names = self.query_one(DomainList).names
        if typed or not names:
            return typed
        return names[0].replace("*.", "wildcard.", 1)

    def draft_spec(self) -> tuple[CertificateSpec, str | None]:
        """The draft as a spec for the core, and any error the core would not catch."""
        renewal, error = self._renewal()
        spec = CertificateSpec(
            name=self._cert_name(), domains=list(self.query_one(DomainList).names), account=self._account_ref(),
            rules=[{"pattern": r["pattern"].strip(), "challenge": r["challenge"], "provider": r["provider"],
                    "options": dict(r["options"])} for r in self.rules],
            key_type=str(self.query_one("#key-type", Select).value),
            reuse_key=self.query_one("#reuse-key", Checkbox).value,
            preferred_chain=self.query_one("#preferred-chain", Input).value.strip() or None,
            profile=self.query_one("#profile", Input).value.strip() or None,
            renewal=renewal, auto_renew=self.query_one("#auto-renew", Checkbox).value,
            deployment_mode=self.deployment_mode,
            deployment_site=self.site_id if self.deployment_mode == "single" else None,
            tasks=self._task_specs(),
        )
        return spec, error

    def _draft(self) -> dict[str, Any]:
        """What the user can change, comparable before and after (defaults filled in)."""
        spec, _ = self.draft_spec()
        rules = []
        for rule in self.rules:
            cls = self._provider_class(rule)
            params = cls.params if cls else ()
            options = {p.key: str(rule["options"].get(p.key, p.default)) for p in params}
            rules.append((rule["pattern"].strip(), rule["challenge"], rule["provider"], options))
        tasks = []
        for task in spec.tasks or []:
            cls = self.task_types.get(task["type"])
            params = cls.params if cls else ()
            tasks.append((task["type"], task["title"],
                          {p.key: str(task["options"].get(p.key, p.default)) for p in params}))
        return {**spec.__dict__, "rules": rules, "tasks": tasks, "renewal": (
            str(self.query_one("#renewal-kind", Select).value), self.query_one("#renewal-value", Input).value)}

    @property
    def dirty(self) -> bool:
        return self.loaded and self._baseline != self._draft()

    # -- Preview ------------------------------------------------------------------------------
    def refresh_preview(self) -> None:
        if not self.loaded:
            return
        self._preview_serial += 1
        spec, error = self.draft_spec()
        if error:
            self._show_preview_error(error)
            return
        self.query_one(PlanView).show_waiting()
        self._preview(self._preview_serial, spec)

    @work(thread=True, exclusive=True, group="editor-preview", exit_on_error=False)
    def _preview(self, serial: int, spec: CertificateSpec) -> None:
        try:
            plan = preview_plan(self.app.core, spec, self.certificate_name)
        except CertifyError as exc:
            self.post_message(WorkFailed("preview", f"{serial}\0{exc.message}"))
            return
        except Exception as exc:  # noqa: BLE001 - shown as a line, never a traceback
            self.post_message(WorkFailed("preview", f"{serial}\0Unexpected error: {exc}"))
            return
        self.post_message(WorkDone("preview", (serial, plan)))

    def _show_preview_error(self, message: str) -> None:
        step = fix_step(message, tuple(self.task_types))
        hint = f"Fix it in {STEP_TITLES[step]} (ctrl+← goes back), then come back here." if step else ""
        self.query_one(PlanView).show_error(message, hint)

    # -- saving and leaving -------------------------------------------------------------------
    def action_save(self, then_request: bool = False) -> None:
        if not self.loaded or self.saving:
            return
        spec, error = self.draft_spec()
        if error:
            self._show_status(error)
            self.notify(error, severity="error", title="Not saved")
            return
        self.saving = True
        self._show_status("")
        # The plan on screen, if the person is looking at it: the request must still do what it says.
        self.shown_plan = self.query_one(PlanView).plan if self.query_one(TabbedContent).active == "preview" else None
        self._save(spec, then_request)

    @work(thread=True, exclusive=True, group="editor-save", exit_on_error=False)
    def _save(self, spec: CertificateSpec, then_request: bool) -> None:
        core = self.app.core
        try:
            if self.certificate_name:
                cert = core.update_certificate(self.certificate_name, spec)
            else:
                cert = core.add_certificate(spec)
        except CertifyError as exc:
            self.post_message(WorkFailed("save", exc.message))
            return
        except Exception as exc:  # noqa: BLE001 - shown as a line, never a traceback
            self.post_message(WorkFailed("save", f"Unexpected error: {exc}"))
            return
        self.post_message(WorkDone("save", (cert.name, then_request)))

    def _saved(self, name: str, then_request: bool) -> None:
        self.saving = False
        self.notify(f"Saved {name}.")
        self.dismiss(name)
        if then_request:
            self.app.call_later(self.app.open_request, name, self.shown_plan)

    def _show_status(self, message: str) -> None:
        status = self.query_one("#status", Label)
        step = fix_step(message, tuple(self.task_types)) if message else None
        where = f"  ({STEP_TITLES[step]} step)" if step else ""
        status.update(Text.assemble(("✗ ", "bold"), message, where) if message else "")
        status.display = bool(message)

    def action_back(self) -> None:
        self._leave(lambda: self.dismiss(None))

    async def action_quit(self) -> None:
        self._leave(lambda: self.app.call_later(self.app.action_quit))

    def _leave(self, then: Callable[[], object]) -> None:
        """Run `then` at once, or after the user agrees to drop unsaved changes."""
        if not self.dirty:
            then()
            return

        def answered(yes: bool | None) -> None:
            if yes:
                then()

        what = f"your changes to '{self.certificate_name}'" if self.certificate_name else "this new certificate"
        self.app.push_screen(ConfirmScreen(f"Discard {what}? Nothing has been saved.", "Discard", "Keep editing",
                                           danger=True), answered)
