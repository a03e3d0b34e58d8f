"""A single-site deployment's site found again by what it is (server, names, ports), not where it is."""

from __future__ import annotations

import pytest

from certify_tui.deploy.base import DeploymentFailed, Site, site_id
from certify_tui.deploy.sites import unique_ids
from certify_tui.deploy.sites.identity import describe_id, find_chosen_site, is_location, parse_id


def _site(names: tuple[str, ...], ports: tuple[int, ...] = (443,), file: str = "/etc/nginx/a.conf",
          line: int = 3, server: str = "nginx") -> Site:
    return Site(server, site_id(server, names, ports), names, ports, True, file, line)


def test_id_is_sorted_names_and_ports() -> None:
    assert site_id("nginx", ("www.example.test", "example.test"), (443, 80)) == \
        "nginx:example.test,www.example.test@80,443"
    assert site_id("apache", (), (80,)) == "apache:_@80"
    assert parse_id("nginx:example.test,www.example.test@80,443~2") == \
        ("nginx", frozenset({"example.test", "www.example.test"}), frozenset({80, 443}))
    assert parse_id("/etc/nginx/a.conf:3") is None
    assert describe_id("nginx:a.test@443") == "the nginx site a.test (port 443)"


def test_old_locations_are_recognised() -> None:
    assert is_location("/etc/nginx/sites-enabled/a.conf:12")
    assert not is_location("nginx:a.example.test@443")
    assert not is_location("apache:a.example.test@80,443")


def test_found_by_id_wherever_it_is() -> None:
    moved = _site(("a.test",), file="/etc/nginx/b.conf", line=40)
    site, notes = find_chosen_site("nginx:a.test@443", [_site(("b.test",)), moved], ["a.test"])
    assert site is moved and notes == []


def test_a_site_that_gained_a_port_is_the_same_site() -> None:
    grown = _site(("a.test",), (80, 443))
    assert find_chosen_site("nginx:a.test@80", [grown], ["a.test"])[0] is grown


def test_a_renamed_site_is_refused_saying_so() -> None:
    with pytest.raises(DeploymentFailed, match=r"^The nginx site a\.test \(port 443\) is not in the web server "
                                               r"configuration any more \(no nginx site serves exactly these "
                                               r"names\); nothing was changed"):
        find_chosen_site("nginx:a.test@443", [_site(("renamed.test",))], ["a.test"])


def test_a_site_that_gained_a_name_says_where_it_is_now() -> None:
    with pytest.raises(DeploymentFailed, match=r"/etc/nginx/a\.conf:3 now serves a\.test, shop\.test"):
        find_chosen_site("nginx:a.test@443", [_site(("a.test", "shop.test"))], ["a.test"])


def test_a_site_whose_ports_changed_is_refused() -> None:
    with pytest.raises(DeploymentFailed, match=r"its ports changed \(/etc/nginx/a\.conf:3 listens on 8443\)"):
        find_chosen_site("nginx:a.test@443", [_site(("a.test",), (8443,))], ["a.test"])


def test_old_location_is_found_once_with_a_warning() -> None:
    site = _site(("a.test",))
    found, notes = find_chosen_site("/etc/nginx/a.conf:3", [site], ["a.test"])
    assert found is site
    assert notes == ["the single site is stored by its place (/etc/nginx/a.conf:3), which changes when the file "
                     "does; choose it again to keep it by what it is: nginx:a.test@443"]


def test_old_location_pointing_at_a_site_the_certificate_does_not_cover_is_refused() -> None:
    """The bug this fixes: a comment above moved `file:line` onto another site (shop for the www certificate)."""
    shop = _site(("shop.example.com",))
    with pytest.raises(DeploymentFailed, match=r"serves shop\.example\.com, which this certificate does not "
                                               r"cover; nothing was changed"):
        find_chosen_site("/etc/nginx/a.conf:3", [shop], ["www.example.com"])


def test_partly_covered_match_is_refused() -> None:
    with pytest.raises(DeploymentFailed, match=r"does not fully cover"):
        find_chosen_site("nginx:a.test,b.test@443", [_site(("a.test", "b.test"))], ["a.test"])


def test_blocks_that_are_the_same_get_numbered_ids() -> None:
    first, second = _site(("a.test",)), _site(("a.test",), file="/etc/nginx/b.conf")
    assert [s.id for s in unique_ids([first, second])] == ["nginx:a.test@443", "nginx:a.test@443~2"]
    assert find_chosen_site("nginx:a.test@443~2", unique_ids([first, second]), ["a.test"])[0].config_file == \
        "/etc/nginx/b.conf"


def test_resolve_stored_for_faces() -> None:
    from certify_tui.deploy.sites.identity import resolve_stored

    site = _site(("a.test",), (80, 443))
    assert resolve_stored("/etc/nginx/a.conf:3", [site]) is site
    assert resolve_stored("nginx:a.test@80", [site]) is site
    assert resolve_stored("nginx:gone.test@80", [site]) is None
