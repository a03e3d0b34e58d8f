"""A dns-lexicon provider's module, loaded for use here, and its command-line options read as our parameters.

A provider's parameters are its own argparse options, from its `configure_parser()` (names exactly as
lexicon expects them: auth_token, pdns_server, ...). Loading a module imports lexicon; it happens when a
provider's parameters, title or description are first asked for, and when it is used.

Providers that call `tldextract.extract` themselves get an extractor that only uses the snapshot bundled
with tldextract: nothing downloads the Public Suffix List.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import logging
import re
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

from certify_tui.challenges.dns.base import PROPAGATION_PARAMS
from certify_tui.plugins import Param

PROVIDERS_PACKAGE = "lexicon._private.providers"

# Options whose name contains one of these are credentials: masked in the UI and never logged.
SECRET_WORDS = ("token", "secret", "password", "pass", "psw", "key", "credential", "2fa", "totp",
                "account_info")
# Options lexicon's code insists on although its argparse definition does not say so.
REQUIRED_OPTIONS: dict[str, frozenset[str]] = {
    "powerdns": frozenset({"pdns_server", "auth_token"}),
}
# Names lexicon itself sets, and ours: a provider option with one of these names is not offered.
RESERVED_KEYS = frozenset({"zone", "domain", "name", "content", "type", "ttl", "action", "priority",
                           "identifier", "provider_name", "delegated", "log_level", "output"}
                          | {p.key for p in PROPAGATION_PARAMS})
_ACRONYMS = {"api": "API", "id": "ID", "ip": "IP", "url": "URL", "dns": "DNS", "pdns": "PDNS", "ttl": "TTL",
             "2fa": "2FA", "totp": "TOTP", "ib": "Infoblox", "subid": "sub-ID"}  # in labels made from keys


class _OfflineTldextract:
    """Stands in for the tldextract module inside a provider: `extract` never downloads the PSL."""

    def __init__(self, real: ModuleType) -> None:
        self._real = real
        self.extract = real.TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True,
                                       include_psl_private_domains=True)

    def __getattr__(self, item: str) -> Any:
        return getattr(self._real, item)


def _make_offline(module: ModuleType) -> None:
    real = sys.modules.get("tldextract")
    if real is None:
        return
    for attr, value in list(vars(module).items()):
        if value is real:
            setattr(module, attr, _OfflineTldextract(real))
        elif value is getattr(real, "extract", None):
            setattr(module, attr, _OfflineTldextract(real).extract)


@functools.cache
def load_module(name: str) -> ModuleType:
    # Providers log requests and answers at DEBUG, some with credentials in them: keep that out of a
    # verbose run's output unless someone configured lexicon's logger on purpose.
    lexicon_logger = logging.getLogger("lexicon")
    if lexicon_logger.level == logging.NOTSET:
        lexicon_logger.setLevel(logging.WARNING)
    module = importlib.import_module(f"{PROVIDERS_PACKAGE}.{name}")
    _make_offline(module)
    return module


@functools.cache
def option_specs(name: str) -> tuple[tuple[Param, ...], dict[str, Callable[[str], Any]], str | None]:
    """(parameters, converters by key, why they could not be read) from the provider's own argparse options."""
    try:
        module = load_module(name)
        parser = argparse.ArgumentParser(prog=f"lexicon {name}", add_help=False)
        module.Provider.configure_parser(parser)
    except Exception as exc:  # noqa: BLE001 - a broken or unimportable module must not break the registry
        return (), {}, f"{type(exc).__name__}: {exc}"
    params: list[Param] = []
    converters: dict[str, Callable[[str], Any]] = {}
    required = REQUIRED_OPTIONS.get(name, frozenset())
    for action in parser._actions:  # noqa: SLF001 - argparse offers no public way to list options
        if not action.option_strings or isinstance(action, argparse._HelpAction | argparse._VersionAction):  # noqa: SLF001
            continue
        key = action.dest
        if key in RESERVED_KEYS or any(p.key == key for p in params):
            continue
        params.append(_param_for(action, required=action.required or key in required))
        if callable(action.type) and action.type not in (int, str):
            converters[key] = action.type
    return tuple(params), converters, None


def _param_for(action: argparse.Action, *, required: bool) -> Param:
    key = action.dest
    words = key.split("_")
    if words[0] == "auth" and len(words) > 1:
        words = words[1:]
    label = " ".join(_ACRONYMS.get(w, w) for w in words)
    label = label[:1].upper() + label[1:]
    flag = max(action.option_strings, key=len)
    help_text = (action.help or "").strip()
    if "%(" in help_text:
        with contextlib.suppress(KeyError, TypeError, ValueError):
            help_text = help_text % {**vars(action), "prog": "lexicon"}
    help_text = f"{help_text} (lexicon {flag})" if help_text else f"lexicon {flag}"
    is_flag = action.nargs == 0 and isinstance(action.const, bool)
    if is_flag:
        return Param(key, label, type="bool", default=bool(action.default), help=help_text)
    secret = any(word in key.lower() for word in SECRET_WORDS)
    default = action.default if isinstance(action.default, str | int | float) else None
    if action.choices:
        return Param(key, label, type="choice", choices=tuple(str(c) for c in action.choices), required=required,
                     secret=secret, default=None if default is None else str(default), help=help_text)
    if action.type is int:
        return Param(key, label, type="int", required=required, secret=secret, default=default, help=help_text)
    kind = "path" if re.search(r"(^|_)(file|filename|path)($|_)", key) and not secret else "str"
    return Param(key, label, type=kind, required=required, secret=secret,
                 default=None if default is None else str(default), help=help_text)

