"""The plug-in contract shared by challenge providers and deployment tasks.

A plug-in declares its parameters; the TUI builds forms from them and the CLI validates
`--option key=value` against them, so adding a plug-in needs no UI code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from certify_tui.errors import UsageError

PARAM_TYPES = ("str", "int", "bool", "path", "choice")
SECRET_MASK = "********"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Param:
    key: str
    label: str
    type: str = "str"  # one of PARAM_TYPES
    required: bool = False
    secret: bool = False  # masked in the UI and the preview, never logged
    default: Any = None
    help: str = ""
    choices: tuple[str, ...] = ()
    minimum: int | None = None  # for int parameters
    maximum: int | None = None

    def parse(self, raw: Any, owner: str) -> Any:
        """Convert a CLI string (or a stored value) to this parameter's type."""
        if self.type == "int":
            try:
                number = int(raw)
            except (TypeError, ValueError):
                raise UsageError(f"{owner}: option '{self.key}' must be a whole number, not '{raw}'.") from None
            if (self.minimum is not None and number < self.minimum) or (
                    self.maximum is not None and number > self.maximum):
                raise UsageError(f"{owner}: option '{self.key}' must be between {self.minimum} and {self.maximum}.")
            return number
        if self.type == "bool":
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in _TRUE | _FALSE:
                return text in _TRUE
            raise UsageError(f"{owner}: option '{self.key}' must be true or false, not '{raw}'.")
        text = str(raw)
        if self.type == "choice" and text not in self.choices:
            raise UsageError(f"{owner}: option '{self.key}' must be one of {', '.join(self.choices)}.")
        if self.required and not text.strip():
            raise UsageError(f"{owner}: option '{self.key}' ({self.label}) cannot be empty.")
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key, "label": self.label, "type": self.type, "required": self.required,
            "secret": self.secret, "default": self.default, "help": self.help, "choices": list(self.choices),
            "minimum": self.minimum, "maximum": self.maximum,
        }


class Plugin:
    """Base of challenge providers and deployment tasks."""

    id: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str] = ""
    params: ClassVar[tuple[Param, ...]] = ()

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        self.options = self.validate_options(options or {})

    @classmethod
    def validate_options(cls, raw: Mapping[str, Any]) -> dict[str, Any]:
        """Typed options with defaults filled in; a clear error for unknown or missing keys."""
        known = {p.key: p for p in cls.params}
        unknown = sorted(set(raw) - set(known))
        if unknown:
            valid = ", ".join(known) or "none"
            raise UsageError(f"{cls.id}: unknown option '{unknown[0]}' (valid options: {valid}).")
        values: dict[str, Any] = {}
        for param in cls.params:
            if param.key in raw and raw[param.key] is not None:
                values[param.key] = param.parse(raw[param.key], cls.id)
            elif param.required:
                raise UsageError(f"{cls.id}: option '{param.key}' ({param.label}) is required.")
            elif param.default is not None:
                values[param.key] = param.default
        return values

    @classmethod
    def redact(cls, options: Mapping[str, Any]) -> dict[str, Any]:
        """Options safe to show or log: secrets masked."""
        secret = {p.key for p in cls.params if p.secret}
        return {k: (SECRET_MASK if k in secret and v else v) for k, v in options.items()}

    @classmethod
    def describe_params(cls) -> list[dict[str, Any]]:
        return [p.to_dict() for p in cls.params]


def parse_option_pairs(pairs: list[str] | None) -> dict[str, str]:
    """`--option key=value` strings to a dict."""
    options: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"Option '{pair}' must look like key=value.")
        options[key.strip()] = value
    return options
