"""A form built from a plug-in's declared parameters (challenge providers, deployment tasks).

One field per `Param`: an Input for str/path/int, a Checkbox for bool, a Select for choice; the
label above, the help text and any error below. Secrets are password inputs that never hold the
stored value: an existing secret is shown masked and kept unless the user types a new one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Checkbox, Input, Label, Select

from certify_tui.errors import UsageError
from certify_tui.plugins import SECRET_MASK, Param


def _shown(value: Any) -> str:
    return "" if value is None else str(value)


class PluginForm(Vertical):
    """Fields for `params`, filled from `values` (stored options) or each parameter's default."""

    DEFAULT_CSS = """
    PluginForm { height: auto; }
    PluginForm .field-row { height: auto; margin-top: 1; }
    PluginForm .field-label { width: 18; text-style: bold; }
    PluginForm .field-help { width: 1fr; color: $text-muted; margin-left: 18; }
    PluginForm .field-error { width: 1fr; color: $error; margin-left: 18; display: none; }
    PluginForm .field-error.-shown { display: block; }
    PluginForm Input, PluginForm Select { width: 1fr; max-width: 64; }
    """

    class Changed(Message):
        """Any field changed; `form.values()` has the new values."""

        def __init__(self, form: PluginForm) -> None:
            super().__init__()
            self.form = form

        @property
        def control(self) -> PluginForm:
            return self.form

    def __init__(self, params: Sequence[Param], values: Mapping[str, Any] | None = None, *,
                 owner: str = "options", id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.params = tuple(params)
        self.owner = owner  # names the plug-in in error messages, as Plugin.validate_options does
        self._initial = dict(values or {})
        # Stored secrets stay here and never reach a widget; a typed value replaces them.
        self._stored_secrets = {p.key: self._initial[p.key] for p in self.params
                                if p.secret and self._initial.get(p.key)}

    # -- building -----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        for param in self.params:
            label = "" if param.type == "bool" else param.label + (" *" if param.required else "")
            with Horizontal(classes="field-row"):
                yield Label(label, classes="field-label", id=f"label-{param.key}")
                yield self._field(param)
            yield Label("", classes="field-error", id=f"error-{param.key}", markup=False)
            if param.help:
                yield Label(param.help, classes="field-help")

    def _field(self, param: Param) -> Input | Checkbox | Select[str]:
        value = self._initial.get(param.key, param.default)
        field_id = f"field-{param.key}"
        if param.type == "bool":
            return Checkbox(param.label, bool(value), id=field_id, compact=True)
        if param.type == "choice":
            options = [(choice, choice) for choice in param.choices]
            current = _shown(value) if _shown(value) in param.choices else Select.NULL
            return Select(options, value=current, allow_blank=not param.required, id=field_id, compact=True)
        if param.secret:
            kept = param.key in self._stored_secrets
            hint = f"{SECRET_MASK} (kept; type to replace)" if kept else "hidden as you type"
            return Input(password=True, placeholder=hint, id=field_id, compact=True)
        placeholder = "a whole number" if param.type == "int" else ""
        if param.type == "int" and (param.minimum is not None or param.maximum is not None):
            placeholder = f"{param.minimum}-{param.maximum}"
        return Input(_shown(value), placeholder=placeholder, id=field_id, compact=True,
                     type="integer" if param.type == "int" else "text")

    # -- reading ------------------------------------------------------------------------------
    def raw_values(self) -> dict[str, Any]:
        """What the fields hold: empty fields left out (so defaults apply), stored secrets kept."""
        values: dict[str, Any] = {}
        for param in self.params:
            widget = self.query_one(f"#field-{param.key}")
            if isinstance(widget, Checkbox):
                values[param.key] = widget.value
            elif isinstance(widget, Select):
                if widget.value is not Select.NULL:
                    values[param.key] = widget.value
            else:
                assert isinstance(widget, Input)
                text = widget.value if param.secret else widget.value.strip()
                if text:
                    values[param.key] = text
                elif param.key in self._stored_secrets:
                    values[param.key] = self._stored_secrets[param.key]
        return values

    def errors(self) -> dict[str, str]:
        """Per-field messages, with the same rules (and words) as `Plugin.validate_input`."""
        raw = self.raw_values()
        found: dict[str, str] = {}
        for param in self.params:
            if param.key in raw:
                try:
                    param.check_input(param.parse(raw[param.key], self.owner), self.owner)
                except UsageError as exc:
                    found[param.key] = exc.message
            elif param.required:
                found[param.key] = f"{self.owner}: option '{param.key}' ({param.label}) is required."
        return found

    def values(self) -> dict[str, Any]:
        """Typed values (ints as int), defaults for empty fields; fields in error keep their raw text."""
        raw = self.raw_values()
        typed: dict[str, Any] = {}
        for param in self.params:
            if param.key in raw:
                try:
                    typed[param.key] = param.parse(raw[param.key], self.owner)
                except UsageError:
                    typed[param.key] = raw[param.key]
            elif param.default is not None:
                typed[param.key] = param.default
        return typed

    def show_errors(self, only_touched: bool = False) -> dict[str, str]:
        """Write each field's error under it; returns the errors."""
        found = self.errors()
        for param in self.params:
            label = self.query_one(f"#error-{param.key}", Label)
            message = found.get(param.key, "")
            if only_touched and param.key not in self._touched:
                message = ""
            label.update(message)
            label.set_class(bool(message), "-shown")
        return found

    def show_error(self, key: str, message: str) -> bool:
        """Write an error found elsewhere (the core's check) under the field `key`; False if there is none."""
        if key not in {p.key for p in self.params}:
            return False
        label = self.query_one(f"#error-{key}", Label)
        label.update(message)
        label.set_class(bool(message), "-shown")
        return True

    _touched: set[str]

    def on_mount(self) -> None:
        self._touched = set()

    @on(Input.Changed)
    @on(Checkbox.Changed)
    @on(Select.Changed)
    def _field_changed(self, event: Input.Changed | Checkbox.Changed | Select.Changed) -> None:
        event.stop()
        widget_id = event.control.id or ""
        if widget_id.startswith("field-"):
            self._touched.add(widget_id.removeprefix("field-"))
        self.show_errors(only_touched=True)
        self.post_message(self.Changed(self))
