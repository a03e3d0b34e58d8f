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

import functools
import inspect
import logging
import re
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from certify_tui.plugins.base import Plugin

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint, EntryPoints

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


@functools.cache
def _installed() -> EntryPoints:
    """Every installed package's entry points, read once (a scan of the installed packages' metadata)."""
    from importlib.metadata import entry_points as installed

    return installed()


def entry_points(group: str) -> list[tuple[EntryPoint, str]]:
    """(entry point, package) of a group: ours first, then others by package."""
    names: dict[int, str] = {}  # reading a package's name parses its metadata: once per package
    found = []
    for entry in _installed().select(group=group):
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

    @functools.cache  # noqa: B019 - one group object per process, kept for its life anyway
    def _loaded(self) -> tuple[dict[K, type[P]], dict[type[P], str], list[SkippedPlugin]]:
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
            for cls in classes:
                problem = self._problem(cls)
                if problem is None and self.key(cls) in found:
                    taken = found[self.key(cls)]
                    problem = f"{cls.id} is already provided by package {packages[taken]}"
                if problem is not None:
                    skip(entry.name, package, problem)
                    continue
                found[self.key(cls)] = cls
                packages[cls] = package
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

    def _problem(self, cls: object) -> str | None:
        if not (isinstance(cls, type) and issubclass(cls, self.base)):
            return f"{cls!r} is not a {self.base.__name__}"
        if not isinstance(getattr(cls, "id", None), str) or not cls.id:
            return f"{cls.__qualname__} has no id"
        if inspect.getattr_static(cls, "title", None) is None:  # static: a title may be computed on first use
            return f"{cls.__qualname__} has no title"
        return self.check(cls) if self.check else None


def _as_iterable(value: object) -> Iterable[object]:
    if not isinstance(value, Iterable) or isinstance(value, str | bytes):
        raise TypeError(f"expected a plug-in class or a list of them, got {type(value).__name__}")
    return value


__all__ = ["CHALLENGE_PROVIDERS", "DEPLOYMENT_TASKS", "OWN_PACKAGE", "PluginGroup", "SkippedPlugin",
           "entry_points", "package_name"]
