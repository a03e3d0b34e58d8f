"""Point one site at a certificate's live files, validate the whole configuration, reload the server.

The steps, for exactly one block of one file and nothing else:

1. re-read the file and find the block again (same line, same host names), refuse if it has no TLS
   listener or takes its certificate from an included file other sites may share;
2. back the file up, replace or add the certificate and key directives, write it atomically (through
   a symlink such as sites-enabled/x -> ../sites-available/x, onto its target);
3. validate with the server (`nginx -t`, `apachectl -t`); if it refuses, put the original bytes back
   and report the server's own error;
4. reload (`nginx -s reload`, `apachectl -k graceful`), also when the file already pointed at the
   live files: the files behind the paths are new.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from certify_tui.deploy.base import DeployedFiles, DeploymentFailed, Site
from certify_tui.deploy.sites import apache, nginx
from certify_tui.deploy.sites.nginx import ConfigError, EditRefused
from certify_tui.errors import StorageError
from certify_tui.paths import atomic_write
from certify_tui.plugins import StepLogger

COMMAND_TIMEOUT = 60
KEEP_BACKUPS = 10
# One configuration edit-validate-reload at a time in this process: two certificates deployed by
# parallel renewals may share a file, and `nginx -t` must not see the other's half-done edit.
_LOCK = threading.Lock()


@dataclass(frozen=True)
class SiteChange:
    site: str  # the site id
    file: str
    changed: bool  # the file was edited (False: it already pointed at the live files)
    backup: str | None = None  # where the previous file was saved, when it was edited
    notes: tuple[str, ...] = ()


def deploy_to_site(site: Site, files: DeployedFiles, log: StepLogger, *, nginx_binary: str = "nginx",
                   apache_binary: str | None = None, main_config: str | None = None, prefix: str | None = None,
                   reload_command: Sequence[str] | None = None, backup_dir: str | os.PathLike[str] | None = None,
                   test_only: bool = False, add_tls_port: int | None = None) -> SiteChange:
    """Make `site` serve `files` (fullchain + privkey); DeploymentFailed with the reason otherwise.

    `main_config` / `prefix` are what the server was started with (`-c` / `-p`; default: the file the
    site was discovered through); `reload_command` replaces the default reload; `test_only` edits and
    validates, then puts the file back without reloading. Backups go to `backup_dir`, by default
    `site-backups/` in the certificate's folder. `add_tls_port`: a site without a TLS listener gets one
    on that port (the add-or-update binding), validated, reloaded and restored like any edit."""
    if site.server not in ("nginx", "apache"):
        raise DeploymentFailed(f"unknown web server type '{site.server}'")
    server: _Server
    with _LOCK:
        if site.server == "nginx":
            server = _Nginx(site, nginx_binary, main_config, prefix, reload_command)
        else:
            server = _Apache(site, apache_binary, main_config, reload_command)
        server.add_tls_port = add_tls_port
        return _deploy(site, files, log, server, backup_dir, test_only)


class _Server:
    label: str
    conf_dir: Path
    add_tls_port: int | None = None  # give a site without TLS a listener on this port

    def edit(self, text: str, fullchain: str, privkey: str) -> nginx.Edit:
        raise NotImplementedError

    def validate(self) -> str | None:
        raise NotImplementedError

    def reload(self) -> str | None:
        raise NotImplementedError


def _run(command: Sequence[str]) -> tuple[bool, str]:
    try:
        out = subprocess.run(list(command), capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
    except FileNotFoundError:
        return False, f"{command[0]} not found"
    except (OSError, subprocess.SubprocessError) as exc:
        return False, f"{' '.join(command)} could not run: {exc}"
    text = (out.stderr + out.stdout).strip()
    return out.returncode == 0, text


def _errors(output: str) -> str:
    """The server's own error lines, without its 'test failed' trailer."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    wanted = [ln for ln in lines if any(tag in ln for tag in ("[emerg]", "[alert]", "[crit]", "[error]"))]
    chosen = wanted or [ln for ln in lines if "test failed" not in ln and "syntax is ok" not in ln] or lines
    return "; ".join(chosen)[:2000] or "no output"


class _Nginx(_Server):
    label = "nginx"

    def __init__(self, site: Site, binary: str, main_config: str | None, prefix: str | None,
                 reload_command: Sequence[str] | None) -> None:
        self.site = site
        self.binary = binary
        self.main = main_config or site.main_config or site.config_file
        self.conf_dir = Path(self.main).parent
        prefix = prefix or site.prefix
        self.where = (["-p", prefix] if prefix else []) + ["-c", self.main]
        self.reload_command = list(reload_command) if reload_command else [binary, *self.where, "-s", "reload"]

    def edit(self, text: str, fullchain: str, privkey: str) -> nginx.Edit:
        return nginx.set_certificate(text, self.site.config_file, self.site.line, fullchain, privkey,
                                     self.conf_dir, self.site.hostnames, add_tls_port=self.add_tls_port)

    def validate(self) -> str | None:
        ok, output = _run([self.binary, *self.where, "-t", "-q"])
        return None if ok else _errors(output)

    def reload(self) -> str | None:
        ok, output = _run(self.reload_command)
        return None if ok else _errors(output)


class _Apache(_Server):
    label = "Apache"

    def __init__(self, site: Site, binary: str | None, main_config: str | None,
                 reload_command: Sequence[str] | None) -> None:
        self.site = site
        self.binary = binary or apache.control_binary()
        self.main = main_config or site.main_config or site.config_file
        tree_root = Path(self.main).parent
        with contextlib.suppress(ConfigError):
            tree_root = apache.server_root_of(apache.parse(nginx.read_text(self.main), self.main), tree_root)
        self.conf_dir = tree_root
        self.where = ["-f", self.main]
        self.reload_command = (list(reload_command) if reload_command
                               else [self.binary or "apachectl", "-k", "graceful", *self.where])

    def edit(self, text: str, fullchain: str, privkey: str) -> nginx.Edit:
        return apache.set_certificate(text, self.site.config_file, self.site.line, fullchain, privkey,
                                      self.conf_dir, self.site.hostnames, add_tls_port=self.add_tls_port)

    def validate(self) -> str | None:
        ok, output = _run([self.binary or "apachectl", "-t", *self.where])
        return None if ok else _errors(output)

    def reload(self) -> str | None:
        ok, output = _run(self.reload_command)
        return None if ok else _errors(output)


def _deploy(site: Site, files: DeployedFiles, log: StepLogger, server: _Server,
            backup_dir: str | os.PathLike[str] | None, test_only: bool) -> SiteChange:
    where = f"{site.config_file}:{site.line}"
    if isinstance(server, _Apache) and server.binary is None:
        raise DeploymentFailed("apachectl not found: Apache cannot validate or reload the configuration, "
                               "so the virtual host was left as it is")
    target = Path(os.path.realpath(site.config_file))  # edit the file behind a sites-enabled symlink
    try:
        original = target.read_bytes()
        stat = target.stat()
        mode, owner = stat.st_mode & 0o7777, (stat.st_uid, stat.st_gid)
    except OSError as exc:
        raise DeploymentFailed(f"could not read {site.config_file}: {exc.strerror or exc}") from exc
    text = original.decode("utf-8", "surrogateescape")
    try:
        edit = server.edit(text, str(files.fullchain), str(files.privkey))
    except (EditRefused, ConfigError) as exc:
        raise DeploymentFailed(f"{where}: {exc}") from exc
    for note in edit.notes:
        log.info(f"{server.label} {where}: {note}")

    backup: str | None = None
    if edit.changed:
        backup = _backup(target, original, files, backup_dir)
        _write(target, edit.text.encode("utf-8", "surrogateescape"), mode, owner)
        log.info(f"{server.label} {where}: pointed at {files.fullchain} and {files.privkey} "
                 f"(previous file saved as {backup})")
    error = server.validate()
    if error is not None:
        if edit.changed:
            _write(target, original, mode, owner)
            raise DeploymentFailed(f"{server.label} rejected the configuration, so {target} was restored: {error}")
        raise DeploymentFailed(f"{server.label} rejects the configuration: {error}")
    if test_only:
        if edit.changed:
            _write(target, original, mode, owner)
        log.info(f"{server.label} {where}: the change validates (test only, file restored, no reload)")
        return SiteChange(site.id, str(target), edit.changed, None, tuple(edit.notes))
    error = server.reload()
    if error is not None:
        raise DeploymentFailed(f"the configuration is valid but {server.label} did not reload: {error}")
    log.info(f"{server.label} reloaded" + ("" if edit.changed else f" ({where} already used the live files)"))
    return SiteChange(site.id, str(target), edit.changed, backup, tuple(edit.notes))


def _write(target: Path, data: bytes, mode: int, owner: tuple[int, int] | None = None) -> None:
    try:
        atomic_write(target, data, mode=mode)
    except StorageError as exc:
        raise DeploymentFailed(exc.message) from exc
    if owner is not None and hasattr(os, "chown"):
        with contextlib.suppress(OSError):  # the new file is ours; keep the original's owner when we may
            os.chown(target, *owner)


def _backup(target: Path, original: bytes, files: DeployedFiles,
            backup_dir: str | os.PathLike[str] | None) -> str:
    """Save the file before editing, outside the server's include folders (a `*.bak` in sites-enabled/
    would be loaded as a second copy of the site). Keeps the newest KEEP_BACKUPS per file."""
    folder = Path(backup_dir) if backup_dir else Path(files.fullchain).parent.parent / "site-backups"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = folder / f"{target.name}.{stamp}"
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write(path, original, mode=0o600)
        old = sorted(folder.glob(f"{target.name}.*"))
        for stale in old[:-KEEP_BACKUPS]:
            stale.unlink(missing_ok=True)
    except (OSError, StorageError) as exc:
        reason = exc.message if isinstance(exc, StorageError) else (exc.strerror or str(exc))
        raise DeploymentFailed(f"could not back up {target} before editing it: {reason}") from exc
    return str(path)
