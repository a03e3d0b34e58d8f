"""CertificateChanges: only what is set changes; JSON bodies (the API's) map to the same value."""

from __future__ import annotations

import pytest

from certify_tui.errors import UsageError
from certify_tui.lifecycle.certificates import CertificateSpec
from certify_tui.lifecycle.spec_changes import CertificateChanges, apply_changes
from certify_tui.model import RenewalPolicy

SPEC = CertificateSpec(name="web", domains=["a.example.com", "b.example.com"], key_type="ec256",
                       preferred_chain="X1", deployment_mode="single", deployment_site="nginx:1",
                       renewal=RenewalPolicy("percent", 75))


def test_nothing_given_changes_nothing() -> None:
    assert apply_changes(SPEC, CertificateChanges()) == SPEC


def test_only_the_given_settings_change() -> None:
    changed = apply_changes(SPEC, CertificateChanges(key_type="rsa2048", reuse_key=True, preferred_chain="",
                                                     renewal=RenewalPolicy("days_before", 30.0)))
    assert (changed.key_type, changed.reuse_key, changed.preferred_chain) == ("rsa2048", True, None)
    assert changed.renewal == RenewalPolicy("days_before", 30)
    assert (changed.domains, changed.deployment_site, changed.auto_renew) == (SPEC.domains, "nginx:1", True)


def test_domains_are_replaced_then_added_and_removed() -> None:
    changed = apply_changes(SPEC, CertificateChanges(add_domains=("C.example.com", "a.example.com."),
                                                     remove_domains=("A.EXAMPLE.COM",)))
    assert changed.domains == ["b.example.com", "C.example.com"]
    changed = apply_changes(SPEC, CertificateChanges(domains=("x.example.com",), add_domains=("y.example.com",)))
    assert changed.domains == ["x.example.com", "y.example.com"]
    with pytest.raises(UsageError, match="'z.example.com' is not one of") as caught:
        apply_changes(SPEC, CertificateChanges(remove_domains=("z.example.com",)))
    assert caught.value.field == "domains"


def test_the_site_goes_with_the_single_mode() -> None:
    assert apply_changes(SPEC, CertificateChanges(deployment_mode="auto")).deployment_site is None
    files = apply_changes(SPEC, CertificateChanges(deployment_mode="files"))
    with pytest.raises(UsageError, match="only for the 'single'") as caught:
        apply_changes(files, CertificateChanges(deployment_site="nginx:2"))
    assert caught.value.field == "deployment_site"
    assert apply_changes(files, CertificateChanges(deployment_mode="single", deployment_site="nginx:2")
                         ).deployment_site == "nginx:2"


def test_a_bad_renewal_names_its_field() -> None:
    with pytest.raises(UsageError, match="between 1 and 99") as caught:
        apply_changes(SPEC, CertificateChanges(renewal=RenewalPolicy("percent", 0)))
    assert caught.value.field == "renewal"


def test_from_json() -> None:
    changes = CertificateChanges.from_json({"add_domains": ["c.example.com"], "auto_renew": False,
                                            "renewal": {"days_after": 60}, "deployment_mode": "auto",
                                            "profile": None})
    assert changes == CertificateChanges(add_domains=("c.example.com",), auto_renew=False,
                                         renewal=RenewalPolicy("days_after", 60), deployment_mode="auto")


@pytest.mark.parametrize(("body", "field"), [
    ({"nope": 1}, "nope"), ({"domains": "a.example.com"}, "domains"), ({"reuse_key": "yes"}, "reuse_key"),
    ({"renewal": {"percent": 200}}, "renewal"), ({"renewal": {"weekly": 1}}, "renewal"), ({"key_type": 3}, "key_type"),
])
def test_from_json_errors_name_the_field(body: dict[str, object], field: str) -> None:
    with pytest.raises(UsageError) as caught:
        CertificateChanges.from_json(body)
    assert caught.value.field == field
