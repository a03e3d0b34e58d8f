"""What deployment is made of: sites found in web server configurations, and tasks that run after issuance.

Both are plug-ins with declared parameters (see plugins/base.py), so the TUI builds their forms and the
CLI validates `--option key=value` from the declaration, and a new server type or task is one file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from certify_tui.errors import OperationError
from certify_tui.plugins import Param, Plugin, StepLogger


class DeploymentFailed(OperationError):
    """The certificate was issued and stored, but putting it in place failed."""

TRIGGERS = ("success", "failure", "always", "manual", "before")


@dataclass(frozen=True)
class Site:
    """One TLS-capable site (nginx server block, Apache VirtualHost) as found in a configuration."""

    server: str  # "nginx" or "apache"
    id: str  # what the site is, stable across edits of its file: see site_id()
    hostnames: tuple[str, ...]
    ports: tuple[int, ...]
    tls: bool  # listens with TLS already
    config_file: str  # the file holding the block
    line: int
    certificate: str | None = None  # current ssl_certificate / SSLCertificateFile
    key: str | None = None  # current ssl_certificate_key / SSLCertificateKeyFile
    main_config: str = ""  # the main configuration the block was found through (for `nginx -t -c`)
    prefix: str = ""  # the running master's `-p` (relative pid and log paths), for `nginx -t` and reload

    @property
    def location(self) -> str:
        """Where it is now, for people (and for ids stored by older versions): "<config file>:<line>"."""
        return f"{self.config_file}:{self.line}"

    def to_dict(self) -> dict[str, object]:
        return {"server": self.server, "id": self.id, "location": self.location, "hostnames": list(self.hostnames), "ports": list(self.ports),
                "tls": self.tls, "config_file": self.config_file, "line": self.line,
                "certificate": self.certificate, "key": self.key, "main_config": self.main_config}


def site_id(server: str, hostnames: tuple[str, ...], ports: tuple[int, ...]) -> str:
    """A site's id from what it is, not where it is: "nginx:example.test,www.example.test@443".

    Names and ports sorted, so reordering a `server_name` or adding a comment leaves it the same site;
    renaming it makes it another one. Blocks that share all three get "~2", "~3" (see unique_ids)."""
    names = ",".join(sorted(set(hostnames))) or "_"
    return f"{server}:{names}@{','.join(str(p) for p in sorted(set(ports)))}"


@dataclass(frozen=True)
class DeployedFiles:
    """The issued certificate's live files, what sites and tasks point at or copy."""

    name: str
    identifiers: tuple[str, ...]
    cert: Path
    chain: Path
    fullchain: Path
    privkey: Path
    serial: str
    not_after: str  # ISO 8601


@dataclass
class TaskContext:
    files: DeployedFiles
    succeeded: bool  # whether the issuance (or the previous deployment steps) succeeded
    error: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    before: bool = False  # the run before ordering: only the tasks triggered "before" run


class DeploymentTask(Plugin):
    """A task run after a request: export files, run a command, reload a service, call a webhook, copy over SSH.

    Every task also has the shared options below (trigger, retries, stop_on_failure), handled by the runner."""

    # Where forms and listings put this type among the others: ours use 10..50 (most used first); other
    # packages' tasks default to after them.
    listing_order: ClassVar[int] = 100

    COMMON_PARAMS: ClassVar[tuple[Param, ...]] = (
        Param("trigger", "Run when", type="choice", default="success", choices=TRIGGERS,
              help="success: after a successful request; failure: after a failed one; always; manual: only "
                   "when deployed by hand."),
        Param("retries", "Retries", type="int", default=0, minimum=0, maximum=10,
              help="How many more times to try if the task fails."),
        Param("retry_delay", "Retry delay (s)", type="int", default=5, minimum=0, maximum=3600),
        Param("stop_on_failure", "Stop on failure", type="bool", default=True,
              help="Skip the following tasks if this one fails."),
    )

    def describe(self) -> str:
        """One line for the preview."""
        return self.title

    def run(self, context: TaskContext, log: StepLogger) -> None:
        """Do the work; raise DeploymentFailed with a clear message on failure."""
        raise NotImplementedError
