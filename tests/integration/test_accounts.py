"""ACME accounts against a real Pebble: registration, EAB, input errors, unreachable CAs, deactivation."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from integration.helpers import add_account, add_standalone_cert, mode_of, standalone
from servers.pebble import PebbleServer

from certify_tui.ca.presets import PRESETS
from certify_tui.errors import CAError, NotFoundError, OperationError, UsageError
from certify_tui.keys import load_key
from certify_tui.lifecycle import Core

pytestmark = pytest.mark.pebble


def test_plain_registration(core: Core, pebble: PebbleServer, data_dir: Path) -> None:
    account = core.add_account(email="  plain@example.com ", ca=pebble.directory_url,
                               ca_bundle=pebble.https_ca_bundle, agree_tos=True, allow_internal_names=True)

    assert account.email == "plain@example.com"
    assert account.uri and account.uri.startswith(f"https://127.0.0.1:{pebble.acme_port}/")
    assert account.status == "valid"
    assert account.tos_agreed is True
    assert account.ca_name == "" and account.directory_url == pebble.directory_url
    assert account.ca_bundle == str(Path(pebble.https_ca_bundle).absolute())
    key = load_key(account.account_key_pem.encode())
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    assert account.eab_kid is None
    # What a face lists is what was stored, read back from the database.
    stored = core.find_account("plain@example.com")
    assert stored.id == account.id and stored.account_key_pem == account.account_key_pem
    view = core.account_view(stored)
    assert view["uri"] == account.uri and view["status"] == "valid" and view["tos_agreed"] is True
    assert "PRIVATE" not in repr(view)
    assert [a.email for a in core.list_accounts()] == ["plain@example.com"]
    # The account key lives in the SQLite file: owner-only, in an owner-only folder.
    assert mode_of(data_dir / "certify.db") == 0o600
    assert mode_of(data_dir) == 0o700


@pytest.mark.parametrize("key_type", ["ec384", "rsa2048"])
def test_registration_with_other_account_key_types(core: Core, pebble: PebbleServer, key_type: str) -> None:
    account = core.add_account(email=f"{key_type}@example.com", ca=pebble.directory_url,
                               ca_bundle=pebble.https_ca_bundle, agree_tos=True, allow_internal_names=True,
                               key_type=key_type)
    assert account.status == "valid" and account.uri
    assert account.key_type == key_type
    # The account key signs real orders (ES384 / RS256 JWS).
    add_standalone_cert(core, pebble, f"acct-{key_type}", ["acct.example.test"], account=account.email)
    result = core.request(f"acct-{key_type}")
    assert result.version.serial


def test_eab_registration(core: Core, pebble_eab: PebbleServer) -> None:
    kid, hmac_key = next(iter(pebble_eab.eab_keys.items()))
    account = core.add_account(email="eab@example.com", ca=pebble_eab.directory_url,
                               ca_bundle=pebble_eab.https_ca_bundle, agree_tos=True,
                               allow_internal_names=True, eab_kid=kid, eab_hmac_key=hmac_key)
    assert account.status == "valid"
    assert account.uri and account.uri.startswith(f"https://127.0.0.1:{pebble_eab.acme_port}/")
    assert account.eab_kid == kid
    # The HMAC key is used once and never stored.
    assert hmac_key not in repr(core.account_view(account))
    assert hmac_key.encode() not in Path(core.data.database_path).read_bytes()

    # The bound account can order certificates.
    core.add_certificate(name="eab-cert", domains=["eab.example.test"], **standalone(pebble_eab))
    result = core.request("eab-cert")
    assert result.version.serial


def test_eab_wrong_hmac_key_is_refused(core: Core, pebble_eab: PebbleServer) -> None:
    kid = next(iter(pebble_eab.eab_keys))
    with pytest.raises(CAError) as info:
        core.add_account(email="eab-bad@example.com", ca=pebble_eab.directory_url,
                         ca_bundle=pebble_eab.https_ca_bundle, agree_tos=True, allow_internal_names=True,
                         eab_kid=kid, eab_hmac_key=secrets.token_urlsafe(48))
    message = str(info.value)
    assert message.startswith("The CA refused")
    assert "\n" not in message
    assert "unauthorized" in message and "external account binding" in message.lower(), message
    assert core.list_accounts() == []


def test_eab_unknown_kid_is_refused(core: Core, pebble_eab: PebbleServer) -> None:
    with pytest.raises(CAError, match="not known"):
        core.add_account(email="eab-kid@example.com", ca=pebble_eab.directory_url,
                         ca_bundle=pebble_eab.https_ca_bundle, agree_tos=True, allow_internal_names=True,
                         eab_kid="no-such-kid", eab_hmac_key=next(iter(pebble_eab.eab_keys.values())))
    assert core.list_accounts() == []


def test_eab_required_but_missing(core: Core, pebble_eab: PebbleServer) -> None:
    with pytest.raises(UsageError, match="External Account Binding"):
        core.add_account(email="no-eab@example.com", ca=pebble_eab.directory_url,
                         ca_bundle=pebble_eab.https_ca_bundle, agree_tos=True, allow_internal_names=True)
    assert core.list_accounts() == []


def test_eab_half_given(core: Core, pebble_eab: PebbleServer) -> None:
    with pytest.raises(UsageError, match="both --eab-kid and --eab-hmac-key"):
        core.add_account(email="half@example.com", ca=pebble_eab.directory_url,
                         ca_bundle=pebble_eab.https_ca_bundle, agree_tos=True, eab_kid="kid-1")


def test_duplicate_account_is_rejected(core: Core, pebble: PebbleServer) -> None:
    add_account(core, pebble, "dup@example.com")
    with pytest.raises(UsageError, match="already exists"):
        add_account(core, pebble, "dup@example.com")
    assert len(core.list_accounts()) == 1


@pytest.mark.parametrize("email", ["not-an-email", "a@b", "two@@example.com", "a b@example.com", ""])
def test_invalid_email(core: Core, pebble: PebbleServer, email: str) -> None:
    with pytest.raises(UsageError, match="not a valid email"):
        add_account(core, pebble, email) if email else core.add_account(
            email=email, ca=pebble.directory_url, ca_bundle=pebble.https_ca_bundle, agree_tos=True)
    assert core.list_accounts() == []


def test_unknown_ca_name(core: Core) -> None:
    with pytest.raises(UsageError) as info:
        core.add_account(email="x@example.com", ca="no-such-ca", agree_tos=True)
    message = str(info.value)
    assert "no-such-ca" in message
    for preset in PRESETS:
        assert preset in message


def test_unreachable_ca(core: Core) -> None:
    with pytest.raises(OperationError, match="Cannot reach") as info:
        core.add_account(email="x@example.com", ca="https://127.0.0.1:1/dir", agree_tos=True)
    assert "https://127.0.0.1:1/dir" in str(info.value)
    assert not isinstance(info.value, UsageError)
    assert core.list_accounts() == []


def test_wrong_trust_bundle(core: Core, pebble: PebbleServer) -> None:
    # No --ca-bundle: the system trust store does not know Pebble's throwaway HTTPS CA.
    with pytest.raises(OperationError, match="TLS verification") as info:
        core.add_account(email="x@example.com", ca=pebble.directory_url, agree_tos=True)
    assert "--ca-bundle" in str(info.value)
    assert core.list_accounts() == []


def test_trust_bundle_of_another_ca(core: Core, pebble: PebbleServer, tmp_path: Path) -> None:
    other = tmp_path / "other.pem"
    other.write_bytes(pebble.root_pem())  # a real CA certificate, but not the one behind Pebble's HTTPS
    with pytest.raises(OperationError, match="TLS verification"):
        core.add_account(email="x@example.com", ca=pebble.directory_url, ca_bundle=str(other), agree_tos=True)


def test_unreadable_bundle_is_a_usage_error(core: Core, pebble: PebbleServer, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="Cannot read the CA bundle"):
        core.add_account(email="x@example.com", ca=pebble.directory_url,
                         ca_bundle=str(tmp_path / "missing.pem"), agree_tos=True)
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(UsageError, match="holds no PEM certificate"):
        core.add_account(email="x@example.com", ca=pebble.directory_url, ca_bundle=str(junk), agree_tos=True)


def test_terms_must_be_agreed(core: Core, pebble: PebbleServer) -> None:
    with pytest.raises(UsageError, match="terms of service"):
        core.add_account(email="tos@example.com", ca=pebble.directory_url, ca_bundle=pebble.https_ca_bundle,
                         agree_tos=False)
    assert core.list_accounts() == []


def test_deactivate_account(core: Core, pebble: PebbleServer) -> None:
    account = add_account(core, pebble, "gone@example.com")

    deactivated = core.deactivate_account("gone@example.com")

    assert deactivated.id == account.id
    assert deactivated.status == "deactivated"
    assert core.list_accounts()[0].status == "deactivated"
    with pytest.raises(NotFoundError):
        core.find_account("gone@example.com")
    with pytest.raises(UsageError, match="No ACME account"):
        core.find_account(None)
    with pytest.raises(UsageError):
        core.add_certificate(name="after", domains=["after.example.test"], account="gone@example.com",
                             **standalone(pebble))
    with pytest.raises(UsageError, match="No ACME account"):
        core.add_certificate(name="after", domains=["after.example.test"], **standalone(pebble))
    assert core.list_certificates() == []


def test_deactivated_account_is_really_deactivated_at_the_ca(core: Core, pebble: PebbleServer) -> None:
    add_account(core, pebble, "cert-then-gone@example.com")
    core.add_certificate(name="orphan", domains=["orphan.example.test"], **standalone(pebble))
    core.deactivate_account("cert-then-gone@example.com")

    # The certificate still points at the account; the CA refuses to order for it.
    with pytest.raises(CAError, match="deactivated") as info:
        core.request("orphan")
    assert "\n" not in str(info.value)
    view = core.certificate_view(core.get_certificate("orphan"))
    assert view["status"] == "failed" and view["files"] is None


def test_deactivated_account_cannot_be_chosen_by_id(core: Core, pebble: PebbleServer) -> None:
    account = add_account(core, pebble, "gone-by-id@example.com")
    core.deactivate_account(str(account.id))
    with pytest.raises(UsageError):
        core.add_certificate(name="by-id", domains=["byid.example.test"], account=str(account.id),
                             **standalone(pebble))
