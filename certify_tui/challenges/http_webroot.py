"""http-01 through files in an existing web server's document root."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from certify_tui.challenges.base import ChallengeProvider, ChallengeTask
from certify_tui.challenges.probing import Check, ProbeContext
from certify_tui.errors import OperationError, StorageError
from certify_tui.paths import atomic_write
from certify_tui.plugins import Param, StepLogger

WELL_KNOWN = (".well-known", "acme-challenge")
_PUBLISH_ATTEMPTS = 20  # each retry follows another renewer removing the empty folder: a few at most


class WebrootHttpProvider(ChallengeProvider):
    id = "webroot"
    challenge_type = "http-01"
    title = "Web server document root"
    description = "Writes token files under the site's document root, which your web server serves."
    params = (
        Param("path", "Document root", type="path", required=True, exists="dir",
              help="The folder your web server serves for http://<name>/ (e.g. /var/www/html)."),
    )

    def describe(self) -> str:
        return f"token files under {self.options['path']}/.well-known/acme-challenge/"

    def _challenge_dir(self) -> Path:
        return Path(self.options["path"]).joinpath(*WELL_KNOWN)

    def prepare(self, tasks: list[ChallengeTask], log: StepLogger) -> None:
        root = Path(self.options["path"])
        if not root.is_dir():
            raise OperationError(f"Webroot '{root}' does not exist or is not a folder.")
        folder = self._challenge_dir()
        for task in tasks:
            self._publish(folder, task)
            log.info(f"wrote {folder / task.token}", task.identifier)

    @staticmethod
    def _publish(folder: Path, task: ChallengeTask) -> None:
        # Another renewer on this webroot (the service and a cron run, two nodes on a shared docroot) removes the
        # folders when its cleanup leaves them empty, possibly between our mkdir and our write. They are removed
        # only while empty, so creating them again and writing once more always ends with our token in place.
        for attempt in range(_PUBLISH_ATTEMPTS):
            last = attempt == _PUBLISH_ATTEMPTS - 1
            try:
                # The web server's user must read these, so they are world-readable (they are public by design).
                folder.mkdir(mode=0o755, parents=True, exist_ok=True)
            except (FileNotFoundError, FileExistsError) as exc:  # removed mid-way (exist_ok re-checks is_dir)
                if last:
                    raise OperationError(f"Cannot create '{folder}': {exc.strerror or exc}.") from exc
                continue
            except OSError as exc:
                raise OperationError(f"Cannot create '{folder}': {exc.strerror or exc}.") from exc
            try:
                atomic_write(folder / task.token, task.validation.encode(), mode=0o644)
                return
            except StorageError as exc:
                if last or not isinstance(exc.__cause__, FileNotFoundError):
                    raise

    def cleanup(self, tasks: list[ChallengeTask], log: StepLogger) -> None:
        folder = self._challenge_dir()
        for task in tasks:
            with contextlib.suppress(FileNotFoundError):
                os.remove(folder / task.token)
        # Leave the folders if the site keeps other files there; remove them only when empty.
        for path in (folder, folder.parent):
            with contextlib.suppress(OSError):
                path.rmdir()

    def probe(self, names: list[str], context: ProbeContext) -> list[Check]:
        from certify_tui.challenges import probes

        return probes.http_probe(self, names, context, port=probes.HTTP_PORT, remedy=self._unreachable)

    def _unreachable(self, name: str, port: int, status: int | None) -> str:
        return (f"The web server answering {name} on port {port} does not serve "
                f"{self.options.get('path', '')}/.well-known/acme-challenge/: set the webroot to that site's "
                "document root, or let the web server serve that folder (no redirects to a login page, no "
                "rewrite rules catching it).")
