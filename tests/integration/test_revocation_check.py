"""Noticing a revocation: a private CA made with `openssl ca`, its CRL over a local HTTP server and
`openssl ocsp` as its responder; certificates it issued are adopted, revoked in the CA, and the next check
marks them revoked (OCSP first, the CRL when there is no responder), renews them at once and notifies.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from helpers import start_cli
from servers.common import free_port
from servers.openssl_ca import OpenSSLCA

from certify_tui.keys import generate_key, key_to_pem
from certify_tui.lifecycle import Core
from certify_tui.lifecycle.adopt import adopt_version
from certify_tui.lifecycle.renew import decide, due_names
from certify_tui.renewal import maintenance
from certify_tui.store.models import Account, ManagedCertificate


@pytest.fixture
def ca(tmp_path: Path) -> Iterator[OpenSSLCA]:
    server = OpenSSLCA(tmp_path / "ca").start()
    yield server
    server.stop()


@pytest.fixture
def core(data_dir: Path, ca: OpenSSLCA) -> Iterator[Core]:
    core = Core.open(str(data_dir))
    Account.create(email="ops@example.org", directory_url="https://ca.invalid/dir", status="valid",
                   account_key_pem=key_to_pem(generate_key()).decode(), allow_internal_names=True)
    core.update_settings({"notify_urls": ca.hook_url})
    yield core
    core.close()


def _adopt(core: Core, ca: OpenSSLCA, name: str, extensions: str = "ocsp_and_crl") -> tuple[ManagedCertificate, Path]:
    """A certificate issued by the private CA, brought in as the current version of a managed certificate."""
    domain = f"{name}.example.test"
    fullchain, key, leaf_file = ca.issue(domain, extensions=extensions)
    cert = core.add_certificate(name=name, domains=[domain], provider="standalone")
    adopt_version(core.data, cert, fullchain, key)
    return cert, leaf_file


def _serial(leaf_file: Path) -> str:
    number = x509.load_pem_x509_certificate(leaf_file.read_bytes()).serial_number
    text = f"{number:x}"
    return text.rjust(len(text) + len(text) % 2, "0")


def _row(name: str) -> ManagedCertificate:
    return ManagedCertificate.get(ManagedCertificate.name == name)


def test_revocation_noticed_through_ocsp_is_marked_renewed_and_notified(core: Core, ca: OpenSSLCA,
                                                                          data_dir: Path) -> None:
    _adopt(core, ca, "shop")
    _, leaf = _adopt(core, ca, "blog")

    first = core.check_revocations(["blog"])
    assert [(c.result, c.via) for c in first.checks] == [("good", "ocsp")]
    assert first.crl_fetches == 0 and ca.crl_gets == 0  # OCSP is asked first; the CRL only as a fallback

    ca.revoke(leaf, "keyCompromise")
    before = datetime.now(UTC)
    cli = start_cli(data_dir, "cert", "check-revocation", "blog", "--force", "--json")
    out, err = cli.communicate(timeout=60)
    assert cli.returncode == 0, err
    check = json.loads(out)["checks"][0]
    assert (check["name"], check["result"], check["via"], check["reason"]) == ("blog", "revoked", "ocsp",
                                                                              "keyCompromise")
    assert check["serial"] == _serial(leaf)

    row = _row("blog")
    assert (row.status, row.revocation_reason) == ("revoked", "keyCompromise")
    assert row.revoked_at is not None and before - timedelta(minutes=2) <= row.revoked_at <= datetime.now(UTC)
    assert row.next_attempt <= datetime.now(UTC) and "revoked" in row.renew_reason
    assert "blog" in due_names() and decide(core.data, row, datetime.now(UTC)).due  # the worker's next look renews it
    assert _row("shop").status == "valid"  # the other certificate of the same CA is untouched
    [sent] = ca.notifications
    assert "blog" in sent["title"] and "REVOKED" in sent["title"]
    assert "keyCompromise" in sent["message"] and _serial(leaf) in sent["message"]


def test_revocation_crl_only_certificates_share_one_download(core: Core, ca: OpenSSLCA) -> None:
    _adopt(core, ca, "alpha", "crl_only")
    _, leaf = _adopt(core, ca, "beta", "crl_only")

    step = maintenance.check_revocation(core)  # the daily maintenance step
    assert step.ok and step.revoked == [] and step.failed == []
    assert "2 good" in step.message
    assert ca.crl_gets == 1  # one CRL URL, fetched once for both certificates

    ca.revoke(leaf, "superseded")
    run = core.check_revocations(force=True)
    assert sorted((c.name, c.result, c.via) for c in run.checks) == [("alpha", "good", "crl"),
                                                                     ("beta", "revoked", "crl")]
    assert ca.crl_gets == 2
    row = _row("beta")
    assert (row.status, row.revocation_reason) == ("revoked", "superseded")
    assert row.revoked_at is not None
    assert _row("alpha").status == "valid"
    assert len(ca.notifications) == 1 and "beta" in ca.notifications[0]["title"]


def test_revocation_certificate_checked_today_is_not_checked_again(core: Core, ca: OpenSSLCA) -> None:
    _adopt(core, ca, "once", "crl_only")
    spent = core.check_revocations(budget_seconds=0)  # no time left: nothing asked, it goes first next time
    assert (spent.checks, spent.left, ca.crl_gets) == ([], ["once"], 0)
    assert _row("once").revocation_checked_at is None and "1 left for the next run" in spent.summary()

    assert [c.result for c in core.check_revocations().checks] == ["good"]
    checked_at = _row("once").revocation_checked_at
    assert checked_at is not None

    again = core.check_revocations()
    assert again.checks == [] and ca.crl_gets == 1  # nothing asked
    named = core.check_revocations(["once"])
    assert [c.result for c in named.checks] == ["skipped"] and "one check a day" in named.checks[0].message
    assert ca.crl_gets == 1 and _row("once").revocation_checked_at == checked_at

    # A day later it is due again.
    ManagedCertificate.update(revocation_checked_at=checked_at - timedelta(hours=24)).execute()
    tomorrow = core.check_revocations()
    assert [c.result for c in tomorrow.checks] == ["good"] and ca.crl_gets == 2


def test_revocation_forged_ocsp_answer_is_not_believed(core: Core, ca: OpenSSLCA) -> None:
    """A responder signing with a key the issuer never certified (same name, other key) is not believed."""
    _, leaf = _adopt(core, ca, "guarded", "ocsp_only")
    ca.revoke(leaf, "keyCompromise")
    ca.impersonate_responder()

    [check] = core.check_revocations(["guarded"]).checks
    assert check.result == "failed" and "not signed by the certificate's issuer" in check.message
    assert _row("guarded").status == "valid" and ca.notifications == []


def test_revocation_unreachable_sources_are_logged_not_fatal(tmp_path: Path, data_dir: Path,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    closed = free_port()  # nothing listens there
    ca = OpenSSLCA(tmp_path / "down", ocsp_url=f"http://127.0.0.1:{closed}/",
                   crl_url=f"http://127.0.0.1:{closed}/ca.crl").start()
    try:
        core = Core.open(str(data_dir))
        try:
            Account.create(email="ops@example.org", directory_url="https://ca.invalid/dir", status="valid",
                           account_key_pem=key_to_pem(generate_key()).decode(), allow_internal_names=True)
            _, leaf = _adopt(core, ca, "lonely")
            ca.revoke(leaf, "keyCompromise")  # revoked, but nobody can tell us
            with caplog.at_level(logging.WARNING, logger="certify_tui"):
                results = maintenance.run_daily(core)
            step = next(r for r in results if isinstance(r, maintenance.RevocationCheckResult))
            assert step.ok and step.revoked == []
            assert len(step.failed) == 1 and step.failed[0].startswith("lonely: no answer: OCSP: ")
            assert "CRL: " in step.failed[0] and "could not be reached" in step.failed[0]
            assert "revocation check of lonely" in caplog.text
            assert all(r.ok for r in results)  # nothing else in the daily run suffered
            row = _row("lonely")
            assert (row.status, row.revoked_at, row.revocation_reason) == ("valid", None, None)
        finally:
            core.close()
        cli = start_cli(data_dir, "cert", "check-revocation", "lonely", "--force")
        _out, err = cli.communicate(timeout=60)
        assert cli.returncode == 1
        assert err.count("\n") == 1 and "lonely: no answer" in err and "Traceback" not in err
    finally:
        ca.stop()


def test_revocation_check_runs_first_in_a_cron_renew(core: Core, ca: OpenSSLCA, data_dir: Path) -> None:
    """`certify-tui renew` from cron checks first, so a certificate its CA revoked is attempted in the same run;
    `--no-revocation-check` leaves it alone."""
    _, leaf = _adopt(core, ca, "mail")
    ca.revoke(leaf, "keyCompromise")

    skipped = start_cli(data_dir, "renew", "--no-revocation-check", "--json")
    out, err = skipped.communicate(timeout=60)
    assert skipped.returncode == 0, err
    assert json.loads(out) == [] and _row("mail").revoked_at is None

    cron = start_cli(data_dir, "renew", "--json")
    out, err = cron.communicate(timeout=120)
    assert "mail was revoked by its CA (keyCompromise): renewing it now." in err
    assert [(o["name"], o["action"]) for o in json.loads(out)] == [("mail", "failed")]  # this CA speaks no ACME
    row = _row("mail")
    assert row.revocation_reason == "keyCompromise" and row.revoked_at is not None
