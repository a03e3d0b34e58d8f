"""The bundle file format: what is plain (the header) and what a changed byte, header or passphrase does."""

from __future__ import annotations

import json

import pytest

from certify_tui.bundle.crypto import FORMAT, BundleUnreadable, open_bundle, read_header, seal_bundle
from certify_tui.errors import UsageError

PAYLOAD = {"accounts": [{"account_key_pem": "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB\n"}], "note": "é"}
PHRASE = "a long enough passphrase"


@pytest.fixture(scope="module")
def sealed() -> bytes:
    return seal_bundle(PAYLOAD, PHRASE)


def _with_header(sealed: bytes, change: dict[str, object]) -> bytes:
    line, _, rest = sealed.partition(b"\n")
    header = json.loads(line)
    header["kdf"].update(change)
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode() + b"\n" + rest


def test_bundle_round_trip_and_plain_header(sealed: bytes) -> None:
    assert open_bundle(sealed, PHRASE) == PAYLOAD
    header = read_header(sealed)
    assert header["format"] == FORMAT and header["version"] == 1 and header["cipher"] == "AES-256-GCM"
    assert header["kdf"]["name"] == "scrypt" and header["kdf"]["n"] >= 2**14 and len(header["kdf"]["salt"]) >= 20
    assert b"PRIVATE KEY" not in sealed and b"MHcCAQEEIB" not in sealed
    assert seal_bundle(PAYLOAD, PHRASE) != sealed  # a fresh salt and nonce every time


@pytest.mark.parametrize("damage", ["passphrase", "ciphertext", "truncated", "salt", "weaker-n"])
def test_bundle_wrong_passphrase_or_damage_is_one_clear_error(sealed: bytes, damage: str) -> None:
    data, phrase = sealed, PHRASE
    if damage == "passphrase":
        phrase = PHRASE + "!"
    elif damage == "ciphertext":
        data = sealed[:-1] + bytes([sealed[-1] ^ 1])
    elif damage == "truncated":
        data = sealed[:-20]
    elif damage == "salt":
        data = _with_header(sealed, {"salt": "AAAAAAAAAAAAAAAAAAAAAA=="})
    else:  # the header is bound to the ciphertext: a weaker parameter written by hand is refused
        data = _with_header(sealed, {"n": 2**14})
    with pytest.raises(BundleUnreadable) as failed:
        open_bundle(data, phrase)
    assert failed.value.message == ("The bundle cannot be decrypted: the passphrase is wrong or the file is "
                                    "damaged. Nothing was changed.")


@pytest.mark.parametrize(("content", "expected"), [
    (b"hello\nworld", "not a certify-tui bundle"),
    (b"", "not a certify-tui bundle"),
    (b'{"format":"certify-tui-bundle","version":9}\n', "format version 9"),
])
def test_bundle_other_files_are_named_for_what_they_are(content: bytes, expected: str) -> None:
    with pytest.raises(BundleUnreadable, match=expected):
        open_bundle(content, PHRASE)


def test_bundle_header_cannot_ask_for_unbounded_memory(sealed: bytes) -> None:
    with pytest.raises(BundleUnreadable, match="header is damaged"):
        open_bundle(_with_header(sealed, {"n": 2**30}), PHRASE)
    with pytest.raises(BundleUnreadable, match="header is damaged"):
        open_bundle(_with_header(sealed, {"n": 3000}), PHRASE)  # not a power of two


def test_bundle_short_passphrase_is_refused() -> None:
    with pytest.raises(UsageError, match="at least 8 characters"):
        seal_bundle(PAYLOAD, "short")
