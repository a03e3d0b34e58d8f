"""The plug-in contract shared by challenge providers and deployment tasks.

A plug-in declares its parameters; the TUI builds forms from them and the CLI validates
`--option key=value` against them, so adding a plug-in needs no UI code. Plug-ins report progress
through a StepLogger (a request's log), whichever face runs them.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from certify_tui.errors import UsageError
from certify_tui.plugins.option_values import parse_option_pairs

# "address": an IP address to listen on; "path": an absolute path ('~' allowed), which must exist if the
# parameter says so. Both are checked when a person gives the value (Plugin.validate_input, from every
# face: CLI -o, the TUI's forms, the API), not when stored options are loaded to run.
PARAM_TYPES = ("str", "int", "bool", "path", "choice", "address")
_EXISTS = {"file": ("file", os.path.isfile), "dir": ("folder", os.path.isdir)}
SECRET_MASK = "********"
__all__ = ["PARAM_TYPES", "SECRET_MASK", "Param", "Plugin", "StepLogger", "parse_option_pairs"]
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class StepLogger(Protocol):
    """Where a plug-in reports what it does: a request's log (events.RequestLog), shown by every face."""

    def info(self, message: str, identifier: str | None = None) -> None: ...
    def step(self, step: str, message: str, identifier: str | None = None, ok: bool | None = None) -> None: ...


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
    exists: str = ""  # for path parameters: "file" or "dir" when it must already exist
    keywords: tuple[str, ...] = ()  # for path parameters: words taken as they are (e.g. "off")

    def parse(self, raw: Any, owner: str) -> Any:
        """Convert a CLI string (or a stored value) to this parameter's type."""
        if self.type == "int":
            try:
                # int() would take true as 1 and cut 1.5 to 1 (JSON bodies, stored values): only whole numbers.
                if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                    raise ValueError(raw)
                number = int(raw)
            except (TypeError, ValueError, OverflowError):
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

    def check_input(self, value: Any, owner: str) -> Any:
        """The checks for a value given now, beyond its type: an address parses, a path is absolute and
        exists where it must. Stored options skip them when loaded to run: a file removed since is that
        run's failure (one task's, with its own message), not a reason to refuse loading all of them."""
        if self.type == "address":
            return self._address(str(value), owner)
        text = str(value).strip() if isinstance(value, str) else value
        if self.type == "path" and text and text not in self.keywords:
            return self._path(text, owner)
        return value

    def _address(self, text: str, owner: str) -> str:
        # Empty is no address at all (binding '' would silently mean every interface).
        try:
            return str(ipaddress.ip_address(text.strip().removeprefix("[").removesuffix("]")))
        except ValueError:
            raise UsageError(f"{owner}: option '{self.key}' must be an IP address to listen on, such as 0.0.0.0 "
                             f"(every IPv4 interface), :: or 127.0.0.1, not '{text}'.") from None

    def _path(self, text: str, owner: str) -> str:
        # Relative paths are refused rather than resolved: the service, the TUI and a cron job each run from
        # another folder, so '../www' would name a different place (or none) when it is finally used.
        expanded = os.path.expanduser(text)
        if not os.path.isabs(expanded):
            raise UsageError(f"{owner}: option '{self.key}' must be an absolute path, not '{text}' "
                             f"(a relative one depends on the folder certify-tui runs in).")
        if self.exists in _EXISTS:
            what, is_kind = _EXISTS[self.exists]
            try:
                os.stat(expanded)
            except (FileNotFoundError, NotADirectoryError):
                raise UsageError(f"{owner}: option '{self.key}': the {what} {text} does not exist.") from None
            except OSError:
                return text  # no permission to look: the service may have it; the run will tell
            if not is_kind(expanded):
                raise UsageError(f"{owner}: option '{self.key}': {text} is not a {what}.")
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key, "label": self.label, "type": self.type, "required": self.required,
            "secret": self.secret, "default": self.default, "help": self.help, "choices": list(self.choices),
            "minimum": self.minimum, "maximum": self.maximum, "exists": self.exists,
            "keywords": list(self.keywords),
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
    def validate_input(cls, raw: Mapping[str, Any]) -> dict[str, Any]:
        """`validate_options` for values a person gives now (a face's form, CLI options, an API call)."""
        return cls.check_input(cls.validate_options(raw))

    @classmethod
    def check_input(cls, values: Mapping[str, Any]) -> dict[str, Any]:
        """Param.check_input for each of these typed values (all, or only those that changed)."""
        params = {p.key: p for p in cls.params}
        return {key: (params[key].check_input(value, cls.id) if key in params else value)
                for key, value in values.items()}

    @classmethod
    def redact(cls, options: Mapping[str, Any]) -> dict[str, Any]:
        """Options safe to show or log: secrets masked."""
        secret = {p.key for p in cls.params if p.secret}
        return {k: (SECRET_MASK if k in secret and v else v) for k, v in options.items()}

    @classmethod
    def describe_params(cls) -> list[dict[str, Any]]:
        return [p.to_dict() for p in cls.params]
