"""Deployment after issuance. Today: the 'files' and 'none' modes; web server sites and tasks come next.

A deployment failure is reported as DeploymentFailed and recorded as the deployment's own
status: the certificate stays issued and nothing is reordered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from certify_tui.errors import OperationError

if TYPE_CHECKING:
    from certify_tui.certfiles import StoredVersion
    from certify_tui.events import RequestLog
    from certify_tui.paths import DataDir
    from certify_tui.store.models import ManagedCertificate


class DeploymentFailed(OperationError):
    """The certificate was issued and stored, but putting it in place failed."""


def deploy_certificate(data: DataDir, cert: ManagedCertificate, stored: StoredVersion, log: RequestLog) -> None:
    mode = (cert.deployment or {}).get("mode", "files")
    if mode in ("files", "none"):
        log.step("deploy", f"deployment mode '{mode}': the live files are the deployment", ok=True)
        return
    raise DeploymentFailed(f"Deployment mode '{mode}' is not available in this version.")
