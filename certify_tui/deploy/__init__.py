"""Deployment after issuance: point web server sites at the new files, then run the deployment tasks.

A deployment failure is reported as DeploymentFailed and recorded as the deployment's own status:
the certificate stays issued and nothing is reordered. Only sites the preview lists are touched.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

# Defined below the package's modules (tasks, sites) so they need not import the package; re-exported here.
from certify_tui.deploy.base import DeploymentFailed as DeploymentFailed

if TYPE_CHECKING:
    from certify_tui.certfiles import StoredVersion
    from certify_tui.deploy.base import DeployedFiles, Site
    from certify_tui.events import RequestLog
    from certify_tui.paths import DataDir
    from certify_tui.store.models import ManagedCertificate


def deployed_files(cert: ManagedCertificate, files: dict[str, str], serial: str, not_after: str) -> DeployedFiles:
    from certify_tui.deploy.base import DeployedFiles

    return DeployedFiles(name=cert.name, identifiers=tuple(cert.identifiers), cert=Path(files["cert"]),
                         chain=Path(files["chain"]), fullchain=Path(files["fullchain"]),
                         privkey=Path(files["privkey"]), serial=serial, not_after=not_after)


def target_sites(cert: ManagedCertificate, settings: dict[str, Any]) -> tuple[list[Site], list[str]]:
    """The sites this certificate's mode deploys to, and warnings for the preview (partly covered sites...)."""
    deployment = cert.deployment
    mode = deployment.mode
    if mode not in ("auto", "single"):
        return [], []
    from certify_tui.deploy.sites import discover_sites, match_sites

    sites = discover_sites(settings.get("nginx_config") or None, settings.get("apache_config") or None)
    if mode == "single":
        chosen = [s for s in sites if s.id == deployment.site]
        if not chosen:
            raise DeploymentFailed(f"The site {deployment.site} was not found in the web server "
                                   "configuration any more; choose the site again.")
        return chosen, []
    covered, partial = match_sites(list(cert.identifiers), sites)
    warnings = [f"{s.server} site {', '.join(s.hostnames)} ({s.config_file}:{s.line}) is only partly covered "
                "by this certificate, so it is left alone" for s in partial]
    return covered, warnings


def deploy_certificate(data: DataDir, cert: ManagedCertificate, stored: StoredVersion, log: RequestLog,
                       settings: dict[str, Any], *, manual: bool = False) -> None:
    """Deploy to the mode's sites, then run the tasks; one DeploymentFailed naming every failure.
    `settings`: the application settings (where the nginx and Apache configurations are)."""
    mode = cert.deployment.mode
    files = deployed_files(cert, stored.files, stored.serial, stored.not_after.isoformat())
    failures: list[str] = []
    if mode in ("files", "none"):
        log.step("deploy", f"deployment mode '{mode}': the live files are the deployment", ok=True)
    else:
        failures += _deploy_sites(cert, files, settings, log)
    failures += _run_tasks(cert, files, log, succeeded=True, manual=manual)
    if failures:
        raise DeploymentFailed("; ".join(failures))


def run_failure_tasks(data: DataDir, cert: ManagedCertificate, error: str, log: RequestLog) -> None:
    """Tasks triggered by a failed request (e.g. a webhook to the on-call channel); never raises."""
    tasks = cert.deployment.tasks
    if not any(t.options.get("trigger") in ("failure", "always") for t in tasks):
        return
    from certify_tui.certfiles import CertificateFiles

    live = CertificateFiles(data.certificates, cert.name).live_files()
    files = deployed_files(cert, {k: str(v) for k, v in live.items()}, "", "")
    _run_tasks(cert, files, log, succeeded=False, error=error)


def _deploy_sites(cert: ManagedCertificate, files: DeployedFiles, settings: dict[str, Any],
                  log: RequestLog) -> list[str]:
    from certify_tui.deploy.sites.apply import deploy_to_site

    try:
        sites, warnings = target_sites(cert, settings)
    except DeploymentFailed as exc:
        log.step("deploy", exc.message, ok=False)
        return [exc.message]
    for warning in warnings:
        log.info(warning)
    if not sites:
        message = "no nginx or Apache site covers this certificate's names"
        log.step("deploy", message, ok=False)
        return [message]
    failures = []
    for site in sites:
        where = f"{site.server} site {', '.join(site.hostnames)}"
        try:
            deploy_to_site(site, files, log)
            log.step("deploy", f"{where} now serves the new certificate", ok=True)
        except DeploymentFailed as exc:
            log.step("deploy", f"{where}: {exc.message}", ok=False)
            failures.append(f"{where}: {exc.message}")
    return failures


def _run_tasks(cert: ManagedCertificate, files: DeployedFiles, log: RequestLog, *, succeeded: bool,
               error: str | None = None, manual: bool = False) -> list[str]:
    tasks = cert.deployment.tasks
    if not tasks:
        return []
    from certify_tui.deploy.base import TaskContext
    from certify_tui.deploy.tasks.runner import run_tasks

    outcomes = run_tasks(tasks, TaskContext(files, succeeded, error), log, manual=manual)
    return [f"task {o.title}: {o.message}" for o in outcomes if not o.ok and not o.skipped]
