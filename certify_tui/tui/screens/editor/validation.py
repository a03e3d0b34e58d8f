"""Step 2, Validation: the challenge rules, tried in order (the first whose pattern matches a name decides)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Input, Label, Select

from certify_tui.errors import UsageError
from certify_tui.identifiers import matches_rule
from certify_tui.lifecycle.certificates import CertificateSpec
from certify_tui.model import ChallengeRule, Credential
from certify_tui.tui.screens.credential_new import NewCredentialScreen
from certify_tui.tui.screens.editor.steps import row
from certify_tui.tui.widgets.plugin_items import Item, ItemList, PluginItems

if TYPE_CHECKING:
    from certify_tui.challenges.base import ChallengeProvider
    from certify_tui.tui.app import CertifyApp


class RuleList(ItemList):
    """The challenge rules, first match wins."""

    BINDINGS = [
        Binding("a,insert", "add_item", "Add rule"),
        Binding("delete,backspace", "remove_item", "Remove rule"),
    ]


class RuleEditor(PluginItems):
    """The rules ({"pattern", "challenge", "provider", "options", "credential"}), the highlighted one's pattern,
    challenge, provider and stored credential (shown when the provider has any), and its provider's options."""

    FORM_ID = "provider-form"
    FORM_BOX = "#provider-form-box"

    def __init__(self, providers: dict[str, list[type[ChallengeProvider]]],
                 credentials: Callable[[str, str | None], list[str]] = lambda challenge, provider: []) -> None:
        super().__init__()
        self.providers = providers  # challenge type -> its providers, ours first
        self.credentials = credentials  # (challenge, provider) -> the names of its stored credentials

    def compose(self) -> ComposeResult:
        yield RuleList(id="rules")
        yield Label("Tried in order: the first pattern matching a name decides how the CA checks it. "
                    "a adds a rule, Delete removes one; edit the highlighted rule below.", classes="help")
        yield row("Pattern", Input(placeholder="* for every name, or *.example.com, www.example.com",
                                   id="rule-pattern", compact=True))
        yield row("Challenge", Select[str]([(c, c) for c in self.providers], allow_blank=False,
                                           id="rule-challenge", compact=True))
        yield row("Provider", Select[str]([], allow_blank=True, prompt="none", id="rule-provider", compact=True),
                  Label("", id="no-provider"))
        credential = row("Credential", Select[str]([], allow_blank=True, prompt="none: the options below",
                                                   id="rule-credential", compact=True), id="credential-row")
        credential.display = False  # shown when the provider has stored credentials
        yield credential
        yield Label("", id="provider-description", classes="help indented")
        yield Vertical(id="provider-form-box")

    def plugin_class(self, item: Item) -> type[ChallengeProvider] | None:
        return next((p for p in self.providers.get(item["challenge"], []) if p.id == item["provider"]), None)

    def prompt(self, number: int, item: Item) -> Text:
        line = Text(f"{number}. ")
        line.append(item["pattern"].strip() or "(no pattern yet)", style="bold")
        line.append(f"  →  {item['challenge']} / {item['provider'] or 'no provider'}")
        if item.get("credential"):
            line.append(f"  credential {item['credential']}")
        cls = self.plugin_class(item)
        if cls is not None and item["options"]:
            secret = {p.key for p in cls.params if p.secret}
            shown = ", ".join(f"{k}={'********' if k in secret and v else v}" for k, v in item["options"].items())
            line.append(f"  {shown}", style="dim")
        return line

    async def show_fields(self, item: Item | None) -> None:
        if item is None:
            return  # never: a certificate keeps at least one rule
        with self.prevent(Input.Changed, Select.Changed):
            self.query_one("#rule-pattern", Input).value = item["pattern"]
            self.query_one("#rule-challenge", Select).value = item["challenge"]
        self._show_provider_choice(item)

    def _show_provider_choice(self, rule: Item) -> None:
        """The challenge's providers to choose from, and the chosen one's description."""
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
        self._show_credential_choice(rule)
        self.screen.refresh_bindings()  # the new-credential key is shown for providers with secrets only
        cls = self.plugin_class(rule)
        description = self.query_one("#provider-description", Label)
        if cls is not None:
            description.update(cls.description)
        elif providers:
            description.update("Choose a provider.")
        else:
            description.update(f"Names this rule matches cannot be validated until a {rule['challenge']} "
                               "provider is available; use another challenge.")

    def _show_credential_choice(self, rule: Item) -> None:
        """The provider's stored credentials to pick from; the row is hidden when it has none."""
        names = self.credentials(rule["challenge"], rule["provider"]) if rule["provider"] else []
        chosen = rule.get("credential")
        if chosen and chosen not in names:
            names = [chosen, *names]  # kept as stored, even when another provider's (the check says so)
        select = self.query_one("#rule-credential", Select)
        with self.prevent(Select.Changed):
            select.set_options([(name, name) for name in names])
            select.value = chosen if chosen else Select.NULL
        self.query_one("#credential-row").display = bool(names)

    def wants_credential(self) -> bool:
        """Whether the highlighted rule's provider has secrets, which a stored credential can hold."""
        cls = self.plugin_class(self.current) if self.current is not None else None
        return cls is not None and any(p.secret for p in cls.params)

    async def use_new_credential(self, credential: Credential) -> None:
        """Pick a credential just stored for the highlighted rule; the rule's own copies of its values go, so
        the credential's apply (and rotating it reaches this certificate)."""
        rule = self.current
        if rule is None:
            return
        stored = credential.options()
        rule["options"] = {key: value for key, value in rule["options"].items() if key not in stored}
        rule["credential"] = credential.name
        self._show_credential_choice(rule)
        await self.show_form()
        self.refresh_prompt()

    @on(Select.Changed, "#rule-credential")
    def _credential_chosen(self, event: Select.Changed) -> None:
        if self.current is not None:
            self.current["credential"] = None if event.value is Select.NULL else str(event.value)
            self.refresh_prompt()

    @on(Input.Changed, "#rule-pattern")
    def _pattern_changed(self, event: Input.Changed) -> None:
        if self.current is not None:
            self.current["pattern"] = event.value
            self.refresh_prompt()

    @on(Select.Changed, "#rule-challenge")
    async def _challenge_changed(self, event: Select.Changed) -> None:
        rule = self.current
        if rule is None or event.value is Select.NULL or event.value == rule["challenge"]:
            return
        providers = self.providers.get(str(event.value), [])
        rule.update(challenge=str(event.value), provider=providers[0].id if providers else None, options={},
                    credential=None)
        await self._provider_changed_to(rule)

    @on(Select.Changed, "#rule-provider")
    async def _provider_chosen(self, event: Select.Changed) -> None:
        rule = self.current
        if rule is None or event.value is Select.NULL or event.value == rule["provider"]:
            return
        rule.update(provider=str(event.value), options={}, credential=None)
        await self._provider_changed_to(rule)

    async def _provider_changed_to(self, rule: Item) -> None:
        self.refresh_prompt()
        self._show_provider_choice(rule)
        await self.show_form()

    async def add_item(self) -> None:
        providers = self.providers.get("http-01", [])
        rule: Item = {"pattern": "", "challenge": "http-01", "provider": providers[0].id if providers else None,
                      "options": {}, "credential": None}
        # A rule after the catch-all '*' would never match, so new rules go before it.
        catch_all = next((i for i, r in enumerate(self.items) if r["pattern"].strip() == "*"), len(self.items))
        await self.insert_item(catch_all, rule)
        self.query_one("#rule-pattern").focus()

    async def remove_current(self) -> None:
        if len(self.items) <= 1:
            self.notify("A certificate needs at least one rule: change this one instead.", severity="warning")
            return
        await super().remove_current()


class ValidationStep(VerticalScroll):
    """Edits `rules`; a new certificate starts from the spec's default rule."""

    app: CertifyApp
    BINDINGS = [Binding("ctrl+o", "new_credential", "New credential")]

    def compose(self) -> ComposeResult:
        self.providers = self.app.core.challenge_providers()
        yield RuleEditor(self.providers, self.app.core.credential_names)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "new_credential":
            return self.query_one(RuleEditor).wants_credential()
        return True

    def action_new_credential(self) -> None:
        """Store a credential for the highlighted rule's provider (filled from the rule's options) and use it."""
        editor = self.query_one(RuleEditor)
        rule = editor.current
        cls = editor.plugin_class(rule) if rule is not None else None
        if rule is None or cls is None or not editor.wants_credential():
            return

        async def chosen(credential: Credential | None) -> None:
            if credential is not None:
                await editor.use_new_credential(credential)

        self.app.push_screen(NewCredentialScreen(rule["challenge"], cls, rule["options"]), chosen)

    @property
    def rules(self) -> list[Item]:
        return self.query_one(RuleEditor).items

    async def load(self, spec: CertificateSpec) -> None:
        if spec.rules:
            rules = [{"pattern": r.pattern, "challenge": r.challenge, "provider": r.provider,
                      "options": dict(r.options), "credential": r.credential} for r in spec.rules]
        else:  # the spec's default rule (http-01 with its default provider)
            providers = self.providers.get(spec.challenge) or []
            rules = [{"pattern": "*", "challenge": spec.challenge,
                      "provider": spec.provider or (providers[0].id if providers else None),
                      "options": dict(spec.options), "credential": spec.credential}]
        await self.query_one(RuleEditor).load(rules)

    def apply(self, spec: CertificateSpec) -> None:
        spec.rules = [ChallengeRule(r["pattern"].strip(), r["challenge"], r["provider"], dict(r["options"]),
                                    r.get("credential") or None) for r in self.rules]

    def comparable(self) -> dict[str, Any]:
        """The rules with every option's default filled in, to tell whether the user changed anything."""
        editor = self.query_one(RuleEditor)
        rules = []
        for rule in self.rules:
            cls = editor.plugin_class(rule)
            options = {p.key: str(rule["options"].get(p.key, p.default)) for p in (cls.params if cls else ())}
            rules.append((rule["pattern"].strip(), rule["challenge"], rule["provider"], options,
                          rule.get("credential")))
        return {"rules": rules}

    def challenge_for(self, name: str) -> str | None:
        """The challenge the first rule matching `name` uses."""
        for rule in self.rules:
            try:
                if rule["pattern"].strip() and matches_rule(rule["pattern"], name):
                    return str(rule["challenge"])
            except UsageError:
                continue
        return None
