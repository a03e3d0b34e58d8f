"""Plug-ins found through Python entry points: certify-tui's own and other packages' alike.

certify-tui declares its challenge providers and deployment tasks as entry points in its pyproject.toml,
in the groups any other package uses to add its own (the way certbot and lexicon plug-ins ship):

    [project.entry-points."certify_tui.challenge_providers"]
    my-dns = "my_package.provider:MyDnsProvider"

An entry point names a plug-in class, or a function returning a list of them (one entry point for a
family, such as the ~90 dns-lexicon providers). A group is read on first use, not at start-up, and
reading it imports each plug-in's module only: a plug-in imports its heavy libraries in the methods
that need them, so listing the types stays cheap.

A plug-in that cannot be loaded (a missing module, an error on import, something that is not a plug-in,
an id already taken) is skipped with one log line naming its package; everything else keeps working.
Our own plug-ins come first, so another package cannot replace one of them.
"""

from __future__ import annotations

import inspect
import logging
import re
import threading
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from certify_tui.plugins.base import Plugin

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

CHALLENGE_PROVIDERS = "certify_tui.challenge_providers"
DEPLOYMENT_TASKS = "certify_tui.deployment_tasks"
OWN_PACKAGE = "certify-tui"

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
P = TypeVar("P", bound=Plugin)


@dataclass(frozen=True)
class SkippedPlugin:
    """A plug-in left out, and why: for the log and `certify-tui providers`."""

    group: str
    name: str  # the entry point's name
    package: str  # the distribution declaring it
    reason: str

    def __str__(self) -> str:
        return f"plug-in '{self.name}' from package {self.package} skipped: {self.reason}"


def package_name(name: str) -> str:
    """A distribution name as pip compares them (PEP 503): 'Certify_TUI' -> 'certify-tui'."""
    return re.sub(r"[-_.]+", "-", name).lower()


def entry_points(group: str) -> list[tuple[EntryPoint, str]]:
    """(entry point, package) of a group: ours first, then others by package."""
    from importlib.metadata import entry_points as installed

    names: dict[int, str] = {}  # reading a package's name parses its metadata: once per package
    found = []
    for entry in installed(group=group):
        if entry.dist is not None and id(entry.dist) not in names:
            names[id(entry.dist)] = package_name(entry.dist.name)
        found.append((entry, names.get(id(entry.dist), "?") if entry.dist else "?"))
    own = [item for item in found if item[1] == OWN_PACKAGE]
    others = sorted((item for item in found if item[1] != OWN_PACKAGE), key=lambda item: (item[1], item[0].name))
    return own + others


class PluginGroup(Generic[K, P]):
    """The plug-ins of one entry-point group, subclasses of `base`, told apart by `key` (their id).

    `check` returns why a class cannot be used (None: it can), beyond being a `base` with an id and a title.
    """

    def __init__(self, group: str, base: type[P], key: Callable[[type[P]], K],
                 check: Callable[[type[P]], str | None] | None = None) -> None:
        self.group = group
        self.base = base
        self.key = key
        self.check = check
        self._lock = threading.RLock()  # the TUI's workers and its screen may ask first at the same time
        self._result: tuple[dict[K, type[P]], dict[type[P], str], list[SkippedPlugin]] | None = None

    def classes(self) -> dict[K, type[P]]:
        """Every usable plug-in by key, in load order (ours first)."""
        return self._loaded()[0]

    def package_of(self, cls: type[P]) -> str:
        """The distribution a loaded plug-in came from."""
        return self._loaded()[1].get(cls, "?")

    def is_own(self, cls: type[P]) -> bool:
        return self.package_of(cls) == OWN_PACKAGE

    def skipped(self) -> list[SkippedPlugin]:
        return self._loaded()[2]

    def _loaded(self) -> tuple[dict[K, type[P]], dict[type[P], str], list[SkippedPlugin]]:
        """The group, loaded on first use (once per process: each skipped plug-in is logged once)."""
        with self._lock:
            if self._result is None:
                self._result = self._load()
            return self._result

    def _load(self) -> tuple[dict[K, type[P]], dict[type[P], str], list[SkippedPlugin]]:
        found: dict[K, type[P]] = {}
        packages: dict[type[P], str] = {}
        skipped: list[SkippedPlugin] = []

        def skip(name: str, package: str, reason: str) -> None:
            skipped.append(SkippedPlugin(self.group, name, package, reason))
            log.warning("%s", skipped[-1])

        for entry, package in entry_points(self.group):
            try:
                classes = list(self._classes_of(entry))
            except Exception as exc:  # noqa: BLE001 - a broken plug-in must not break the app
                skip(entry.name, package, f"{entry.value} cannot be loaded ({type(exc).__name__}: {exc})")
                continue
            for candidate in classes:
                usable = self._usable(candidate)
                if isinstance(usable, str):
                    skip(entry.name, package, usable)
                elif (key := self.key(usable)) in found:
                    skip(entry.name, package, f"{usable.id} is already provided by package {packages[found[key]]}")
                else:
                    found[key] = usable
                    packages[usable] = package
        if not any(package == OWN_PACKAGE for package in packages.values()):
            log.warning("no built-in plug-ins in %s: certify-tui's package metadata is missing or out of date; "
                        "reinstall it (pip install -e . in a checkout)", self.group)
        return found, packages, skipped

    @staticmethod
    def _classes_of(entry: EntryPoint) -> Iterator[object]:
        loaded = entry.load()
        if isinstance(loaded, type):
            yield loaded
        else:
            yield from _as_iterable(loaded())

    def _usable(self, candidate: object) -> type[P] | str:
        """The plug-in class, or why it cannot be used (checked before its key is asked for)."""
        if not (isinstance(candidate, type) and issubclass(candidate, self.base)):
            return f"{candidate!r} is not a {self.base.__name__}"
        try:
            if not isinstance(getattr(candidate, "id", None), str) or not candidate.id:
                return f"{candidate.__qualname__} has no id"
            if inspect.getattr_static(candidate, "title", None) is None:  # static: a title may be computed later
                return f"{candidate.__qualname__} has no title"
            problem = self.check(candidate) if self.check else None
            self.key(candidate)
        except Exception as exc:  # noqa: BLE001 - a broken plug-in must not break the app
            return f"{candidate.__qualname__} cannot be used ({type(exc).__name__}: {exc})"
        return candidate if problem is None else problem


def _as_iterable(value: object) -> Iterable[object]:
    if not isinstance(value, Iterable) or isinstance(value, str | bytes):
        raise TypeError(f"expected a plug-in class or a list of them, got {type(value).__name__}")
    return value


__all__ = ["CHALLENGE_PROVIDERS", "DEPLOYMENT_TASKS", "OWN_PACKAGE", "PluginGroup", "SkippedPlugin",
           "entry_points", "package_name"]
