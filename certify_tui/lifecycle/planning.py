"""Planning a request: what it will do for a certificate as it is stored (or drafted) now.

The plan is the one description of a request: faces show it, `request` executes it step by step, and
a plan a face showed is compared with the one built under the request's lease (see plan.Plan).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NamedTuple

from certify_tui.certfiles import CertificateFiles
from certify_tui.challenges.rules import provider_from, rule_for
from certify_tui.deploy import NO_SITE, DeploymentTargets, deployment_targets
from certify_tui.errors import CertifyError, about
from certify_tui.events import DEPLOY, ORDER, STORE, site_step_id, task_step_id, validation_step_id
from certify_tui.lifecycle import failover
from certify_tui.lifecycle.certificates import BINDING_CHOICES, DEPLOYMENT_MODES, renews_at
from certify_tui.lifecycle.settings import get_settings
from certify_tui.model import ChallengeRule, TaskConfig
from certify_tui.paths import DataDir
from certify_tui.plan import Execution, FileStep, Plan, PlanStep, ValidationStep
from certify_tui.renewal import policy
from certify_tui.store.models import Account, ManagedCertificate


def preview(data: DataDir, cert: ManagedCertificate) -> Plan:
    """The plan for `cert` (stored, or built from a draft and not saved); reads, never writes."""
    warnings: list[str] = []
    account = _account_for(cert, warnings)
    rules = list(cert.challenge_rules)
    validations: list[ValidationStep] = []
    rule_of: dict[str, int] = {}
    for identifier in cert.identifiers:
        step, rule_of[identifier] = _validation(rules, identifier)
        validations.append(step)
    files = CertificateFiles(data.certificates, cert.name)
    modes = {"privkey": "0600"}
    file_steps = [FileStep(role, str(path), modes.get(role, "0644")) for role, path in files.live_files().items()]
    reuse_key = bool(cert.reuse_key and files.has_live())
    if cert.reuse_key and not files.has_live():
        warnings.append("reuse key is on but no key exists yet: a new key will be generated")
    targets = deployment_targets(cert, get_settings())
    deployment = [DEPLOYMENT_MODES.get(targets.mode, targets.mode)] + _site_lines(targets, files, warnings)
    tasks = [_task(number, task) for number, task in enumerate(targets.tasks, 1)]
    if not cert.auto_renew:
        warnings.append("automatic renewal is off")
    if account.status != "valid":
        warnings.append(f"the account {account.email} is {account.status}")
    warnings += [t.problem for t in tasks if t.problem]
    content = {
        "names": [cert.name, list(cert.identifiers)],
        "account": [account.id, account.directory_url],
        "rules": [[v.identifier, v.challenge, v.provider, v.rule, v.options] for v in validations],
        "key": [cert.key_type, reuse_key],
        "order options": [cert.preferred_chain, cert.profile],
        "sites": [targets.mode, [[s.id, list(s.hostnames)] + (["add tls", targets.tls_port] if targets.adds_tls(s)
                                                               else []) for s in targets.sites]],
        "tasks": [t.shown for t in tasks],
    }
    return Plan(
        certificate=cert.name, account=account.email, ca=account.ca_name or "custom CA",
        directory_url=account.directory_url, identifiers=list(cert.identifiers),
        primary=cert.primary_identifier, key_type=cert.key_type, reuse_key=reuse_key,
        preferred_chain=cert.preferred_chain, profile=cert.profile, validations=validations, files=file_steps,
        deployment_mode=targets.mode, deployment=deployment, tasks=[t.line for t in tasks if not t.problem],
        renewal=policy.describe(cert.renewal) + ("" if cert.auto_renew else " (automatic renewal off)"),
        next_renewal=renews_at(cert) if cert.id else None,
        steps=_steps(account, validations, targets, [t.step for t in tasks]),
        execution=Execution(account.id, tuple(rules), rule_of, targets, content),
        warnings=warnings,
    )


def _account_for(cert: ManagedCertificate, warnings: list[str]) -> Account:
    """The account this request orders with: the primary, or a fallback after CA-side failures (it says so),
    and whether the CA asked to wait."""
    if not cert.id:  # a draft: no failures, no fallbacks yet
        primary: Account = cert.account
        return primary
    attempt = failover.attempt_account(cert)
    if attempt.reason:
        warnings.append(attempt.reason)
    limited = failover.still_limited(cert, attempt.account, datetime.now(UTC))
    if limited is not None:
        warnings.append(f"{limited.message} (set by the CA's Retry-After)")
    return attempt.account


def _validation(rules: list[ChallengeRule], identifier: str) -> tuple[ValidationStep, int]:
    """How `identifier` is validated, and the index of its rule."""
    rule = rule_for(rules, identifier)
    index = rules.index(rule)
    with about(f"rules[{index}]"):  # a stored rule whose options are no longer valid
        provider = provider_from(rule)
    if rule.credential:  # the credential by name, never its values
        how = f"{provider.describe()} (credential {rule.credential})"
        shown = {**provider.redact({k: v for k, v in provider.options.items() if k in rule.options}),
                 "credential": rule.credential}
    else:
        how, shown = provider.describe(), provider.redact(provider.options)
    step = ValidationStep(identifier, rule.challenge, provider.id, how, rule.pattern, shown)
    return step, index


class TaskLine(NamedTuple):
    line: str  # as the preview lists it: "1. Export: export pem to /srv (on success)"
    step: str  # the plan step's title
    shown: dict[str, Any]  # the task with its secrets masked, as compared between preview and request
    problem: str = ""  # why it cannot run (its line and shown say so too)


def _task(number: int, task: TaskConfig) -> TaskLine:
    """One stored task, for the plan."""
    from certify_tui.deploy.tasks import get_task
    from certify_tui.deploy.tasks.credentials import task_options

    try:
        cls = get_task(task.type)
        instance = cls(task_options(task, cls.id))
    except CertifyError as exc:
        problem = f"task {number}: {exc.message}"
        return TaskLine("", f"run {problem}", {"type": task.type, "invalid": exc.message}, problem)
    trigger = instance.options.get("trigger", "success")
    using = f", with credential {task.credential}" if task.credential else ""
    what = f"{task.title or instance.title}: {instance.describe()}{using} (on {trigger})"
    shown: dict[str, Any] = {"type": cls.id, "title": task.title, "options": cls.redact(instance.options)}
    if task.credential:  # the name only: its values are the credential's, shown by `credential show`
        shown["options"] = cls.redact(task.options)
        shown["credential"] = task.credential
    return TaskLine(f"{number}. {what}", f"run task {number}, {what}", shown)


def _site_lines(targets: DeploymentTargets, files: CertificateFiles, warnings: list[str]) -> list[str]:
    """Each site the deployment will change, as the preview lists it."""
    if not targets.changes_sites:
        return []
    warnings.extend(targets.warnings)
    lines = [f"binding: {BINDING_CHOICES.get(targets.binding, targets.binding)}"
             + (f" (new TLS listeners on port {targets.tls_port})" if targets.binding == "add-or-update" else "")]
    if targets.problem is not None:
        warnings.append(f"{NO_SITE}: nothing would be deployed" if targets.problem == NO_SITE else targets.problem)
        return lines + list(targets.skipped)
    live = files.live_files()
    for s in targets.sites:
        added = (f"add a TLS listener on port {targets.tls_port} "
                 + ("(listen ... ssl in its server block)" if s.server == "nginx" else
                    f"(a <VirtualHost *:{targets.tls_port}> with SSLEngine on and its names)")
                 + " and ") if targets.adds_tls(s) else ""
        lines.append(f"{s.server} site {', '.join(s.hostnames)} ({s.location}): {added}TLS directives -> "
                     f"{live['fullchain']} and {live['privkey']}, then validate and reload")
    return lines + list(targets.skipped)


def _steps(account: Account, validations: list[ValidationStep], targets: DeploymentTargets,
           task_titles: list[str]) -> list[PlanStep]:
    """What the request does, in the order it does it; the ids are those its events carry."""
    ca = account.ca_name or account.directory_url
    steps = [PlanStep(ORDER, "order", f"order from {ca} as {account.email}; finalize and download once every "
                                      "identifier is validated")]
    steps += [PlanStep(validation_step_id(v.identifier), "validate",
                       f"validate {v.identifier} with {v.challenge} via {v.provider}: {v.how} [rule {v.rule}]",
                       v.identifier) for v in validations]
    steps.append(PlanStep(STORE, "store", "verify the chain and key, archive the version, switch the live files"))
    if targets.sites:
        steps += [PlanStep(site_step_id(s.id), "deploy",
                           f"deploy to the {s.server} site {', '.join(s.hostnames)} ({s.location})"
                           + (f", adding a TLS listener on port {targets.tls_port}" if targets.adds_tls(s) else ""),
                           f"{s.server} {', '.join(s.hostnames)}") for s in targets.sites]
    elif targets.changes_sites:
        steps.append(PlanStep(DEPLOY, "deploy", f"deploy: {targets.problem}"))
    else:
        steps.append(PlanStep(DEPLOY, "deploy", f"deployment mode '{targets.mode}': the live files are the "
                                                "deployment"))
    steps += [PlanStep(task_step_id(number), "task", title, f"task {number}")
              for number, title in enumerate(task_titles, 1)]
    return steps
