"""`certify-tui renew` without names (issue 9, item 9), as a real process against Pebble: --force means every
auto-renewed certificate, whatever is left out is listed with its reason, certificates in failure backoff
are never skipped silently, and a forced run over more than 10 certificates asks first on a terminal."""

from __future__ import annotations

import json
import os
import pty
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from helpers import PebbleLog, add_account, add_standalone_cert, start_cli, unique

from certify_tui.lifecycle import Core
from certify_tui.store.models import ManagedCertificate


def setup(data_dir: Path, pebble, *, issued: int = 0, fresh: int = 0, backoff: int = 0,
          manual: int = 0) -> dict[str, list[str]]:
    """Certificates in each state: issued (not due), never issued, in failure backoff, auto-renew off."""
    groups: dict[str, list[str]] = {}
    core = Core.open(str(data_dir))
    try:
        add_account(core, pebble)
        for group, count in (("issued", issued), ("fresh", fresh), ("backoff", backoff), ("manual", manual)):
            groups[group] = [unique(group[:4]) for _ in range(count)]
            for name in groups[group]:
                add_standalone_cert(core, pebble, name, [f"{name}.example.test"], auto_renew=group != "manual")
        for name in groups["issued"]:
            core.request(name)
        m = ManagedCertificate
        # The state a failed renewal leaves behind (see request._record_failure): retry in an hour.
        m.update(status="failed", failure_count=3, last_error="the CA could not connect to validate it",
                 next_attempt=datetime.now(UTC) + timedelta(hours=1)).where(m.name.in_(groups["backoff"])).execute()
    finally:
        core.close()
    return groups


def run(data_dir: Path, *args: str) -> tuple[int, list[dict]]:
    proc = start_cli(data_dir, "renew", "--json", *args)
    out, err = proc.communicate(timeout=120)
    assert "Traceback" not in err, err
    return proc.returncode, json.loads(out)


def by_action(outcomes: list[dict]) -> dict[str, set[str]]:
    actions: dict[str, set[str]] = {}
    for o in outcomes:
        actions.setdefault(o["action"], set()).add(o["name"])
    return actions


def test_force_without_names_renews_every_auto_renewed_certificate_and_lists_the_rest(
        data_dir: Path, pebble) -> None:
    groups = setup(data_dir, pebble, issued=1, fresh=1, backoff=1, manual=2)
    code, outcomes = run(data_dir, "--force")  # stdin is not a terminal: no question asked
    actions = by_action(outcomes)
    assert actions.get("renewed") == {*groups["issued"], *groups["fresh"], *groups["backoff"]}, outcomes
    assert actions.get("skipped") == set(groups["manual"]), outcomes
    for o in outcomes:
        if o["action"] == "skipped":
            assert "auto-renew is off" in o["message"], o
    assert code == 0


def test_renew_lists_certificates_in_failure_backoff_and_fails(data_dir: Path, pebble) -> None:
    groups = setup(data_dir, pebble, backoff=1)
    code, outcomes = run(data_dir)
    assert [(o["name"], o["action"]) for o in outcomes] == [(groups["backoff"][0], "backoff")], outcomes
    message = outcomes[0]["message"]
    assert "failure backoff after 3 failure(s)" in message and "could not connect" in message
    assert "--force" in message
    assert code == 1  # a certificate that keeps failing is not a success for cron


def run_on_terminal(data_dir: Path, *args: str, answer: str | None) -> subprocess.CompletedProcess[str]:
    """`certify-tui renew ...` with a pseudo-terminal as stdin (the console script, as a person runs it)."""
    main, side = pty.openpty()
    try:
        proc = start_cli(data_dir, "renew", *args, stdin=side)
        os.close(side)
        if answer is not None:
            os.write(main, answer.encode() + b"\n")
        out, err = proc.communicate(timeout=120)
    finally:
        os.close(main)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_forcing_more_than_10_asks_first_on_a_terminal(data_dir: Path, pebble) -> None:
    groups = setup(data_dir, pebble, fresh=11)
    log = PebbleLog(pebble)
    declined = run_on_terminal(data_dir, "--force", answer="n")
    assert "Renew all 11 auto-renewed certificates now" in declined.stdout, declined
    assert "Nothing renewed." in declined.stdout and declined.returncode == 1
    assert log.orders() == 0
    accepted = run_on_terminal(data_dir, "--force", "--yes", answer=None)  # --yes: no question
    assert "Renew all" not in accepted.stdout and accepted.returncode == 0, accepted
    assert log.orders() == log.issued() == 11
    assert all(name in accepted.stdout for name in groups["fresh"])
