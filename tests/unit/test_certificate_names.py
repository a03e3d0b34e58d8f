"""Certificate names through the core: case-insensitive uniqueness that holds against a racing process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import peewee
import pytest

from certify_tui.errors import UsageError
from certify_tui.keys import generate_key, key_to_pem
from certify_tui.lifecycle import Core
from certify_tui.lifecycle import certificates as lifecycle
from certify_tui.lifecycle.certificates import CertificateSpec
from certify_tui.store.models import Account, ManagedCertificate


@pytest.fixture
def core(tmp_path: Path) -> Iterator[Core]:
    core = Core.open(str(tmp_path / "data"))
    Account.create(email="a@example.org", directory_url="https://ca.invalid/dir", status="valid",
                   account_key_pem=key_to_pem(generate_key()).decode(), allow_internal_names=True)
    yield core
    core.close()


def spec(name: str) -> CertificateSpec:
    return CertificateSpec(name=name, domains=[f"{name.lower()}.example.test"])


def test_a_racing_insert_of_the_same_name_in_other_case_loses_cleanly(core: Core) -> None:
    """Our check passed, then another process added 'WEB' before our insert: the store refuses ours,
    and the person sees the usual one-line message, not an IntegrityError."""
    ours = lifecycle.build_certificate(spec("web"))
    lifecycle.build_certificate(spec("WEB")).save(force_insert=True)  # the other process, in between
    with pytest.raises(UsageError, match=r"^A certificate named 'WEB' already exists \(names differ only in case"):
        lifecycle._save_unique(ours, force_insert=True)
    assert [c.name for c in ManagedCertificate.select()] == ["WEB"]


def test_the_index_refuses_what_the_check_would_have(core: Core) -> None:
    core.add_certificate(spec("Shop"))
    with pytest.raises(peewee.IntegrityError):
        ManagedCertificate.create(name="SHOP", account=Account.get(), primary_identifier="x.example.test",
                                  identifiers=["x.example.test"])


def test_renaming_onto_another_spelling_is_refused(core: Core) -> None:
    core.add_certificate(spec("alpha"))
    core.add_certificate(spec("beta"))
    renamed = core.certificate_spec("beta")
    renamed.name = "ALPHA"
    with pytest.raises(UsageError, match="'alpha' already exists"):
        core.update_certificate("beta", renamed)
    # Changing only the case of its own name is fine.
    renamed.name = "Beta"
    assert core.update_certificate("beta", renamed).name == "Beta"
    assert core.get_certificate("BETA").name == "Beta"
