"""Deployment after issuance: point web server sites at the new files, then run the deployment tasks.

A deployment failure is reported as DeploymentFailed and recorded as the deployment's own status:
the certificate stays issued and nothing is reordered. Where it goes (DeploymentTargets) is decided
when the request is planned: only the sites and tasks the plan lists are touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

# Defined below the package's modules (tasks, sites) so they need not import the package; re-exported here.
from certify_tui.deploy.base import DeploymentFailed as DeploymentFailed
from certify_tui.errors import CertifyError
from certify_tui.events import DEPLOY, in_step, site_step_id
from certify_tui.model import TaskConfig

if TYPE_CHECKING:
    from certify_tui.certfiles import StoredVersion
    from certify_tui.deploy.base import DeployedFiles, Site
    from certify_tui.events import RequestLog
    from certify_tui.paths import DataDir
    from certify_tui.store.models import ManagedCertificate

NO_SITE = "no nginx or Apache site covers this certificate's names"


@dataclass(frozen=True)
class DeploymentTargets:
    """Where a deployment goes: the mode, the sites it changes (or why it cannot), the tasks it runs."""

    mode: str  # auto, single, files, none
    sites: tuple[Site, ...] = ()
    problem: str | None = None  # auto/single: why no site will be changed
    warnings: tuple[str, ...] = ()  # sites left alone (partly covered), said again at deployment
    tasks: tuple[TaskConfig, ...] = ()  # the stored task definitions, in order
    add_tls: tuple[str, ...] = ()  # ids of `sites` that get a new TLS listener (the add-or-update binding)
    tls_port: int = 443  # the port of such a listener
    skipped: tuple[str, ...] = ()  # sites left alone, each with the reason, said again at deployment
    binding: str = "update"  # see model.DEPLOYMENT_BINDINGS

    @property
    def changes_sites(self) -> bool:
        return self.mode in ("auto", "single")

    def adds_tls(self, site: Site) -> bool:
        return site.id in self.add_tls


class SiteChoice(NamedTuple):
    sites: list[Site]
    warnings: list[str]
    add_tls: list[Site]
    skipped: list[str]


def deployment_targets(cert: ManagedCertificate, settings: dict[str, Any]) -> DeploymentTargets:
    """The certificate's deployment as of now: its mode's sites found in the web server configuration."""
    mode, tasks = cert.deployment.mode, cert.deployment.tasks
    if mode not in ("auto", "single"):
        return DeploymentTargets(mode, tasks=tasks)
    port, binding = int(settings.get("https_port") or 443), cert.deployment.binding
    try:
        choice = target_sites(cert, settings)
    except CertifyError as exc:
        return DeploymentTargets(mode, problem=exc.message, tasks=tasks, tls_port=port, binding=binding)
    return DeploymentTargets(mode, tuple(choice.sites), None if choice.sites else NO_SITE, tuple(choice.warnings),
                             tasks, tuple(s.id for s in choice.add_tls), port, tuple(choice.skipped), binding)


def deployed_files(cert: ManagedCertificate, files: dict[str, str], serial: str, not_after: str) -> DeployedFiles:
    from certify_tui.deploy.base import DeployedFiles

    return DeployedFiles(name=cert.name, identifiers=tuple(cert.identifiers), cert=Path(files["cert"]),
                         chain=Path(files["chain"]), fullchain=Path(files["fullchain"]),
                         privkey=Path(files["privkey"]), serial=serial, not_after=not_after)


def target_sites(cert: ManagedCertificate, settings: dict[str, Any]) -> SiteChoice:
    """The sites this certificate's mode deploys to (those given TLS among them), warnings for the preview
    (partly covered sites...) and the sites left alone with the reason."""
    deployment = cert.deployment
    if deployment.mode not in ("auto", "single"):
        return SiteChoice([], [], [], [])
    from certify_tui.deploy.sites import discover_sites, select_sites

    sites = discover_sites(settings.get("nginx_config") or None, settings.get("apache_config") or None)
    if deployment.mode == "single":
        return _single_site(cert, sites)
    chosen = select_sites(list(cert.identifiers), sites, deployment.binding)
    warnings = [f"{s.server} site {', '.join(s.hostnames)} ({s.location}) is only partly covered "
                "by this certificate, so it is left alone" for s in chosen.partial]
    skipped = [f"{site_label(s)}: skipped, {reason}" for s, reason in chosen.skipped]
    return SiteChoice(list(chosen.sites), warnings, list(chosen.add_tls), skipped)


def _single_site(cert: ManagedCertificate, sites: list[Site]) -> SiteChoice:
    from certify_tui.deploy.sites.identity import find_chosen_site

    if not cert.deployment.site:
        raise DeploymentFailed("No site is chosen for the single-site deployment; choose one.")
    site, notes = find_chosen_site(cert.deployment.site, sites, cert.identifiers)
    if site.tls:
        return SiteChoice([site], notes, [], [])
    # An Apache site given TLS by add-or-update got a second <VirtualHost> for its names: update that one.
    twin = next((t for t in sites if t.tls and t.server == site.server and set(site.hostnames) <= set(t.hostnames)
                 and t.config_file == site.config_file), None)
    if twin is not None:
        return SiteChoice([twin], [*notes, f"{site_label(site)} has no TLS listener; its names are served with "
                                            f"TLS by {twin.location}, which is updated"], [], [])
    if cert.deployment.binding != "add-or-update":
        raise DeploymentFailed(f"The {site_label(site)} has no TLS listener; the 'update' deployment binding "
                               "changes only sites that have one ('add-or-update' would add it).")
    return SiteChoice([site], notes, [site], [])


def site_label(site: Site) -> str:
    """"nginx site a.example.test (/etc/nginx/sites-enabled/a:3)" for messages."""
    return f"{site.server} site {', '.join(site.hostnames) or '(no name)'} ({site.location})"


def deploy_certificate(data: DataDir, cert: ManagedCertificate, stored: StoredVersion, log: RequestLog,
                       targets: DeploymentTargets, *, manual: bool = False) -> None:
    """Deploy to the targets' sites, then run their tasks; one DeploymentFailed naming every failure."""
    files = deployed_files(cert, stored.files, stored.serial, stored.not_after.isoformat())
    failures: list[str] = []
    if not targets.changes_sites:
        with in_step(log, DEPLOY):
            log.step("deploy", f"deployment mode '{targets.mode}': the live files are the deployment", ok=True)
    else:
        failures += _deploy_sites(targets, files, log)
    failures += _run_tasks(targets.tasks, files, log, succeeded=True, manual=manual)
    if failures:
        raise DeploymentFailed("; ".join(failures))


def run_before_tasks(data: DataDir, cert: ManagedCertificate, log: RequestLog,
                     tasks: tuple[TaskConfig, ...]) -> None:
    """Tasks triggered "before" (certbot's pre-hooks), run before the order; a failure is logged and the
    request goes on, as certbot does with a failed pre-hook. Never raises."""
    if not any(t.options.get("trigger") == "before" for t in tasks):
        return
    from certify_tui.certfiles import CertificateFiles

    live = CertificateFiles(data.certificates, cert.name).live_files()
    files = deployed_files(cert, {k: str(v) for k, v in live.items()}, "", "")
    for failure in _run_tasks(tasks, files, log, succeeded=True, before=True):
        log.info(f"{failure} (the request goes on)")


def run_failure_tasks(data: DataDir, cert: ManagedCertificate, error: str, log: RequestLog,
                      tasks: tuple[TaskConfig, ...] | None = None) -> None:
    """Tasks triggered by a failed request (e.g. a webhook to the on-call channel); never raises.

    `tasks`: the ones the request's plan lists; None (no plan could be made): the stored ones."""
    if tasks is None:
        tasks = cert.deployment.tasks
    if not any(t.options.get("trigger") in ("failure", "always") for t in tasks):
        return
    from certify_tui.certfiles import CertificateFiles

    live = CertificateFiles(data.certificates, cert.name).live_files()
    files = deployed_files(cert, {k: str(v) for k, v in live.items()}, "", "")
    _run_tasks(tasks, files, log, succeeded=False, error=error)


def _deploy_sites(targets: DeploymentTargets, files: DeployedFiles, log: RequestLog) -> list[str]:
    from certify_tui.deploy.sites.apply import deploy_to_site

    if targets.problem is not None:
        with in_step(log, DEPLOY):
            log.step("deploy", targets.problem, ok=False)
        return [targets.problem]
    for warning in (*targets.warnings, *targets.skipped):
        log.info(warning)
    failures = []
    for site in targets.sites:
        where = f"{site.server} site {', '.join(site.hostnames)}"
        add_port = targets.tls_port if targets.adds_tls(site) else None
        with in_step(log, site_step_id(site.id)):
            try:
                deploy_to_site(site, files, log, add_tls_port=add_port)
                log.step("deploy", f"{where} now serves the new certificate"
                         + (f" on a new TLS listener (port {add_port})" if add_port else ""), ok=True)
            except DeploymentFailed as exc:
                log.step("deploy", f"{where}: {exc.message}", ok=False)
                failures.append(f"{where}: {exc.message}")
    return failures


def _run_tasks(tasks: tuple[TaskConfig, ...], files: DeployedFiles, log: RequestLog, *, succeeded: bool,
               error: str | None = None, manual: bool = False, before: bool = False) -> list[str]:
    if not tasks:
        return []
    from certify_tui.deploy.base import TaskContext
    from certify_tui.deploy.tasks.runner import run_tasks

    outcomes = run_tasks(tasks, TaskContext(files, succeeded, error, before=before), log, manual=manual)
    return [f"task {o.title}: {o.message}" for o in outcomes if not o.ok and not o.skipped]
