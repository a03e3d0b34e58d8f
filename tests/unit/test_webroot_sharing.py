"""Two renewers (service + cron, or two nodes on a shared docroot) writing tokens into one webroot at once.

Each cleans up after itself and removes .well-known/acme-challenge/ when it is left empty; the other may be
between creating that folder and writing its token. Before the fix the writer failed with
"Could not write .../acme-challenge/<token>: No such file or directory" (seen in
test_two_renew_processes_order_each_certificate_once).
"""

from __future__ import annotations

import threading
from pathlib import Path

from certify_tui.challenges.base import ChallengeTask
from certify_tui.challenges.http_webroot import WebrootHttpProvider


class _Quiet:
    def info(self, message: str, identifier: str | None = None) -> None:
        pass


def _renewer(webroot: Path, who: str, rounds: int, errors: list[str], start: threading.Barrier) -> None:
    provider = WebrootHttpProvider({"path": str(webroot)})
    start.wait()
    for i in range(rounds):
        task = ChallengeTask(f"{who}.example.test", f"{who}.example.test", "http-01", f"{who}-{i}",
                             f"{who}-{i}.key", f"{who}-{i}.key")
        try:
            provider.prepare([task], _Quiet())
            served = webroot / ".well-known" / "acme-challenge" / task.token
            if served.read_text() != task.validation:
                errors.append(f"{who}: wrong content")
        except Exception as exc:  # noqa: BLE001 - every failure is collected and reported
            errors.append(f"{who}: {exc}")
        finally:
            provider.cleanup([task], _Quiet())


def test_two_renewers_sharing_a_webroot_never_lose_a_token(tmp_path: Path) -> None:
    errors: list[str] = []
    start = threading.Barrier(2)
    threads = [threading.Thread(target=_renewer, args=(tmp_path, who, 1500, errors, start)) for who in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    assert not (tmp_path / ".well-known").exists()  # the docroot is left as it was found
