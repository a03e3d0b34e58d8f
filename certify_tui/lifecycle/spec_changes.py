"""A change to a certificate's settings, as every face gives one: only what is set changes.

The CLI (`cert add`, `cert set`) and the API (JSON bodies, `CertificateChanges.from_json`) build a
CertificateChanges and `apply_changes` turns it into the CertificateSpec the core validates, so the options map
to the spec in one place and every error names the spec field it is about.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, TypeVar

from certify_tui.errors import UsageError
from certify_tui.lifecycle.certificates import CertificateSpec, renewal_policy
from certify_tui.lifecycle.tags import changed_tags
from certify_tui.model import RENEWAL_KINDS, RenewalPolicy

T = TypeVar("T")


@dataclass(frozen=True)
class CertificateChanges:
    """None (or empty) leaves a setting as it is. An empty string clears preferred_chain and profile."""

    name: str | None = None  # a new name (refused once the certificate has files)
    domains: tuple[str, ...] | None = None  # the whole list, replaced
    add_domains: tuple[str, ...] = ()  # then these are added (if not there yet)...
    remove_domains: tuple[str, ...] = ()  # ...and these removed
    account: str | None = None  # email or id
    key_type: str | None = None
    reuse_key: bool | None = None
    preferred_chain: str | None = None
    profile: str | None = None
    deployment_mode: str | None = None
    deployment_site: str | None = None
    deployment_binding: str | None = None  # update or add-or-update (checked by the core)
    renewal: RenewalPolicy | None = None  # checked by renewal_policy when applied
    auto_renew: bool | None = None
    tags: tuple[str, ...] | None = None  # the whole list, replaced (an empty one clears them)
    add_tags: tuple[str, ...] = ()  # then these are added...
    remove_tags: tuple[str, ...] = ()  # ...and these removed
    fallback_accounts: tuple[str, ...] | None = None  # the whole list, in order (an empty one clears it)

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> CertificateChanges:
        """From an API body: the same keys; "renewal" is {"percent": 75}, {"days_before": 30}, ...
        Unknown keys and values of the wrong type are UsageErrors naming the field."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(body) - known)
        if unknown:
            raise UsageError(f"Unknown setting '{unknown[0]}' (settings: {', '.join(sorted(known))}).",
                             field=unknown[0])
        values: dict[str, Any] = {}
        for key, value in body.items():
            if value is None:
                continue
            if key in _LISTS:
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise UsageError(f"'{key}' must be a list of {_LIST_ITEMS[_LISTS[key]]}.", field=_LISTS[key])
                values[key] = tuple(value)
            elif key in ("reuse_key", "auto_renew"):
                if not isinstance(value, bool):
                    raise UsageError(f"'{key}' must be true or false.", field=key)
                values[key] = value
            elif key == "renewal":
                values[key] = _renewal_from_json(value)
            else:
                if not isinstance(value, str):
                    raise UsageError(f"'{key}' must be text.", field=key)
                values[key] = value
        return cls(**values)


_LISTS = {"domains": "domains", "add_domains": "domains", "remove_domains": "domains",
          "tags": "tags", "add_tags": "tags", "remove_tags": "tags",
          "fallback_accounts": "fallback_accounts"}  # list settings -> the field they change
_LIST_ITEMS = {"domains": "names", "tags": "tags", "fallback_accounts": "accounts (ids or emails)"}


def _renewal_from_json(value: object) -> RenewalPolicy:
    if not isinstance(value, Mapping) or len(value) != 1 or next(iter(value)) not in RENEWAL_KINDS:
        raise UsageError("'renewal' must be one of {\"percent\": N}, {\"days_before\": N}, "
                         "{\"days_after\": N}.", field="renewal")
    kind, number = next(iter(value.items()))
    return renewal_policy(kind, number)


def apply_changes(spec: CertificateSpec, changes: CertificateChanges) -> CertificateSpec:
    """The spec with the changes made; validation of the result is the core's (build_certificate)."""
    domains = list(spec.domains if changes.domains is None else changes.domains)
    for name in changes.add_domains:
        if _index_of(domains, name) is None:
            domains.append(name)
    for name in changes.remove_domains:
        index = _index_of(domains, name)
        if index is None:
            raise UsageError(f"'{name}' is not one of this certificate's names ({', '.join(domains)}).",
                             field="domains")
        domains.pop(index)
    mode = changes.deployment_mode if changes.deployment_mode is not None else spec.deployment_mode
    site = changes.deployment_site if changes.deployment_site is not None else spec.deployment_site
    if changes.deployment_site is not None and mode != "single":
        raise UsageError(f"A site is chosen only for the 'single' deployment, not '{mode}': set the mode to single.",
                         field="deployment_site")
    return replace(
        spec,
        name=_given(changes.name, spec.name),
        domains=domains,
        account=_given(changes.account, spec.account),
        key_type=_given(changes.key_type, spec.key_type),
        reuse_key=_given(changes.reuse_key, spec.reuse_key),
        preferred_chain=_given(changes.preferred_chain, spec.preferred_chain) or None,
        profile=_given(changes.profile, spec.profile) or None,
        deployment_mode=mode,
        deployment_site=site if mode == "single" else None,
        deployment_binding=_given(changes.deployment_binding, spec.deployment_binding),
        renewal=(spec.renewal if changes.renewal is None
                 else renewal_policy(changes.renewal.kind, changes.renewal.value)),
        auto_renew=_given(changes.auto_renew, spec.auto_renew),
        tags=_tags(spec.tags, changes),
        fallback_accounts=(spec.fallback_accounts if changes.fallback_accounts is None
                           else list(changes.fallback_accounts)),
    )


def _tags(current: list[str] | None, changes: CertificateChanges) -> list[str] | None:
    if changes.tags is None and not changes.add_tags and not changes.remove_tags:
        return current  # None stays None: the stored tags are kept
    return changed_tags(current or [], replace=changes.tags, add=changes.add_tags, remove=changes.remove_tags)


def _given(value: T | None, current: T) -> T:
    return current if value is None else value


def _index_of(domains: list[str], name: str) -> int | None:
    wanted = name.strip().rstrip(".").lower()
    return next((i for i, d in enumerate(domains) if d.strip().rstrip(".").lower() == wanted), None)
