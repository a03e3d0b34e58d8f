"""Stored credentials (`certify-tui credential ...`): a provider's parameters kept once, secrets sealed, that
challenge rules name instead of holding the values; changing one changes every certificate using it."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from certify_tui.challenges import get_provider
from certify_tui.challenges.base import ChallengeProvider
from certify_tui.challenges.probing import Check, ProbeContext
from certify_tui.deploy.base import DeploymentTask
from certify_tui.deploy.tasks import get_task
from certify_tui.deploy.tasks.credentials import TASK_KIND, credential_kind
from certify_tui.errors import UsageError
from certify_tui.model import Credential
from certify_tui.notify_channels import NOTIFY_KIND, SmtpLogin
from certify_tui.plugins.base import SECRET_MASK, Plugin
from certify_tui.store import credentials as store
from certify_tui.store.models import ManagedCertificate
from certify_tui.store.sealed import require_open

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def check_credential_name(name: str) -> str:
    name = name.strip()
    if not _NAME.fullmatch(name):
        raise UsageError(f"Invalid credential name {name!r}: use up to 64 letters, digits, '.', '_' and '-', "
                         f"starting with a letter or digit.", field="credential")
    return name


def _checked(credential: Credential) -> Credential:
    """Options checked against the provider's (or task type's) parameters (as a person's input), split into
    secret and not. Only what is given is kept: defaults stay the plug-in's, and a rule's or task's own options
    may add to them."""
    given = credential.options()
    cls: type[ChallengeProvider] | type[DeploymentTask]
    if credential.challenge == TASK_KIND:
        cls = get_task(credential.provider)
        typed = _given_task_options(cls, given)
    elif credential.challenge == NOTIFY_KIND:
        if credential.provider != SmtpLogin.id:
            raise UsageError(f"Unknown notification login '{credential.provider}' (only {SmtpLogin.id}).",
                             field="provider")
        login: type[Plugin] = SmtpLogin
        typed = login.validate_input(given)
        secret = {p.key for p in login.params if p.secret}
        kept = {key: value for key, value in typed.items() if key in given}
        return Credential(credential.name, login.id, credential.challenge,
                          values={k: v for k, v in kept.items() if k not in secret},
                          secrets={k: v for k, v in kept.items() if k in secret})
    else:
        cls = get_provider(credential.challenge, credential.provider)
        typed = cls.validate_input(given)
    secret = {p.key for p in cls.params if p.secret}
    kept = {key: value for key, value in typed.items() if key in given}
    return Credential(credential.name, cls.id, credential.challenge,
                      values={k: v for k, v in kept.items() if k not in secret},
                      secrets={k: v for k, v in kept.items() if k in secret})


def _given_task_options(cls: type[DeploymentTask], given: dict[str, Any]) -> dict[str, Any]:
    """Each given value checked as the task's input; the others (a path, a host...) the task itself gives."""
    params = {p.key: p for p in cls.params}
    unknown = sorted(set(given) - set(params))
    if unknown:
        raise UsageError(f"{cls.id}: unknown option '{unknown[0]}' (valid options: {', '.join(params)}).",
                         field="options")
    return cls.check_input({key: params[key].parse(value, cls.id) for key, value in given.items()})


def add_credential(name: str, provider: str, options: dict[str, Any], challenge: str = "dns-01") -> Credential:
    credential = _checked(Credential(check_credential_name(name), provider, challenge, dict(options)))
    store.save_credential(credential, new=True)
    return credential


def set_credential(name: str, options: dict[str, Any]) -> Credential:
    """Change the given values (an empty value removes one); every certificate using it follows."""
    current = store.get_credential(name)
    merged = {**current.options(), **options}
    merged = {key: value for key, value in merged.items() if value not in ("", None)}
    credential = _checked(replace(current, values=merged, secrets={}))
    store.save_credential(credential, new=False)
    return credential


def get_credential(name: str) -> Credential:
    return store.get_credential(name)


def credential_names(challenge: str | None = None, provider: str | None = None) -> list[str]:
    """The stored credentials' names, those for one challenge type and provider if given (a face's list)."""
    return store.credential_names(challenge, provider)


def list_credentials() -> list[dict[str, Any]]:
    return [_view(credential, readable) for credential, readable in store.list_credentials()]


def show_credential(name: str) -> dict[str, Any]:
    return _view(store.get_credential(name), True)


def _view(credential: Credential, readable: bool) -> dict[str, Any]:
    """What faces show: values, secrets masked, the certificates using it."""
    return {"name": credential.name, "challenge": credential.challenge, "provider": credential.provider,
            "values": dict(credential.values), "secrets": dict.fromkeys(credential.secrets, SECRET_MASK),
            "readable": readable, "used_by": certificates_using(credential.name)}


def certificates_using(name: str) -> list[str]:
    """The certificates whose rules or deployment tasks name the credential (in any case)."""
    wanted = name.lower()
    return [cert.name for cert in ManagedCertificate.select(ManagedCertificate.name,
                                                            ManagedCertificate.challenge_rules,
                                                            ManagedCertificate.deployment)
            .order_by(ManagedCertificate.name)
            if any((rule.credential or "").lower() == wanted for rule in cert.challenge_rules)
            or any((task.credential or "").lower() == wanted for task in cert.deployment.tasks)]


def remove_credential(name: str) -> str:
    credential = store.get_credential_row_name(name)
    users = certificates_using(credential)
    if _settings_smtp_credential().lower() == credential.lower():
        raise UsageError(f"The credential '{credential}' is the SMTP login of the email notifications: stop "
                         f"them first (certify-tui settings notify remove email).", field="credential")
    if users:
        raise UsageError(f"The credential '{credential}' is used by {', '.join(users)}: change their rules "
                         f"(cert rule ... without --credential) or remove their tasks using it first.",
                         field="credential")
    store.delete_credential(credential)
    return credential


def _settings_smtp_credential() -> str:
    from certify_tui.lifecycle.settings import get_settings

    return str(get_settings().get("notify_smtp_credential") or "")


class _Log:
    """A probe's progress, kept to show with the result."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, message: str, identifier: str | None = None) -> None:
        self.lines.append(message)

    def step(self, step: str, message: str, identifier: str | None = None, ok: bool | None = None) -> None:
        self.lines.append(message)


def probe_credential(name: str, domains: list[str] | None = None) -> list[Check]:
    """The provider's own probe with the credential's values (dns-01: a test TXT record created and deleted
    under each domain), for `domains` or else the names of the certificates using it."""
    credential = store.get_credential(name)
    if credential.challenge == TASK_KIND:
        raise UsageError(f"'{credential.name}' is for {credential_kind(credential)}, which has no check of its "
                         f"own: run a task using it (certify-tui cert task run CERT N).", field="credential")
    if credential.challenge == NOTIFY_KIND:
        raise UsageError(f"'{credential.name}' is an SMTP login: test it with certify-tui settings "
                         f"test-notification.", field="credential")
    names = [d.strip().lower() for d in domains or [] if d.strip()]
    if not names:
        wanted = credential.name.lower()
        for cert in ManagedCertificate.select():
            names += [i for i in cert.identifiers
                      if any((r.credential or "").lower() == wanted for r in cert.challenge_rules)]
    names = list(dict.fromkeys(names))
    if not names:
        raise UsageError(f"No certificate uses '{credential.name}' yet: name a domain to test with --domain.",
                         field="domains")
    from certify_tui.cert_test.lookups import resolve_addresses

    provider = get_provider(credential.challenge, credential.provider)(require_open(credential.options()))
    context = ProbeContext(_Log(), resolve=resolve_addresses)
    return provider.probe(names, context)
