"""Domain rules for certificate identifiers: normalisation, public-CA checks, request checks, matching."""

from __future__ import annotations

import pytest

from certify_tui.errors import UsageError
from certify_tui.identifiers import (
    MAX_IDENTIFIERS,
    check_identifiers,
    check_name,
    covers,
    is_wildcard,
    matches_rule,
    normalise,
    to_unicode,
)

# --- normalise -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("example.com", "example.com"),
        ("Example.COM", "example.com"),
        ("example.com.", "example.com"),
        ("  www.example.com \t\n", "www.example.com"),
        (" WWW.Example.Com. ", "www.example.com"),
        ("*.Example.com", "*.example.com"),
        ("*.example.com.", "*.example.com"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("BÜCHER.example", "xn--bcher-kva.example"),  # UTS 46 case-folds non-ASCII too
        ("XN--BCHER-KVA.example", "xn--bcher-kva.example"),  # A-labels pass through, lowercased
        # IDNA 2008 keeps ß as a letter; IDNA 2003 (the stdlib codec) would have mapped it to 'ss'.
        ("straße.de", "xn--strae-oqa.de"),
        ("*.bücher.example", "*.xn--bcher-kva.example"),
        ("ｅｘａｍｐｌｅ.com", "example.com"),  # full-width letters map to ASCII
        ("example。com", "example.com"),  # ideographic full stop is a label separator
        ("a-b.example.com", "a-b.example.com"),
        ("123.example.com", "123.example.com"),
        ("a" * 63 + ".com", "a" * 63 + ".com"),
    ],
)
def test_normalise(given: str, expected: str) -> None:
    assert normalise(given) == expected


def test_straße_differs_from_idna_2003() -> None:
    # Guards against a regression to the stdlib codec, which gives 'strasse.de'.
    assert "straße.de".encode("idna") == b"strasse.de"
    assert normalise("straße.de") != "strasse.de"


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ("", ["empty"]),
        ("   ", ["empty"]),
        (".", ["not a domain name"]),
        ("a..b.com", ["empty label"]),
        (".example.com", ["empty label"]),
        ("example.com..", ["empty label"]),
        ("a_b.example.com", ["not allowed", "a_b.example.com"]),
        ("ex ample.com", ["not allowed"]),
        ("exa!mple.com", ["not allowed"]),
        ("exam/ple.com", ["not allowed"]),
        ("ex:ample.com", ["not allowed"]),
        ("xn--zz.com", ["not allowed", "xn--zz"]),  # invalid punycode
        ("ab--c.com", ["not allowed", "ab--c"]),  # '--' in positions 3-4 is reserved for A-labels
        ("-www.example.com", ["hyphen", "-www"]),
        ("www-.example.com", ["hyphen", "www-"]),
        ("example.com-", ["hyphen"]),
        ("a" * 64 + ".com", ["63 octets"]),
        ("ü" * 60 + ".com", ["63 octets", "encoded"]),  # 60 characters, but more than 63 once encoded
        ("a.*.com", ["'*'", "first label"]),
        ("*a.com", ["'*'", "first label"]),
        ("a*.com", ["'*'", "first label"]),
        ("**.com", ["'*'", "first label"]),
        ("*.*.com", ["'*'", "first label"]),
        ("*", ["'*'", "first label"]),
        ("www.example.*", ["'*'", "first label"]),
        ("192.0.2.1", ["IP address identifiers are not supported yet"]),
        ("192.0.2.1.", ["IP address identifiers are not supported yet"]),
        ("2001:db8::1", ["IP address identifiers are not supported yet"]),
        ("[2001:db8::1]", ["IP address identifiers are not supported yet"]),
    ],
)
def test_normalise_rejects(given: str, words: list[str]) -> None:
    with pytest.raises(UsageError) as info:
        normalise(given)
    for word in words:
        assert word in str(info.value)


def _long_name(octets: int) -> str:
    """A name of exactly `octets` octets made of 63-octet labels and a '.com' tail."""
    labels: list[str] = []
    remaining = octets - len(".com")
    while remaining > 0:
        size = min(63, remaining - 1 if remaining > 63 else remaining)
        labels.append("a" * size)
        remaining -= size + 1
    name = ".".join(labels) + ".com"
    assert len(name) == octets
    return name


def test_total_length_limit() -> None:
    assert normalise(_long_name(253)) == _long_name(253)
    with pytest.raises(UsageError, match="longer than 253 octets"):
        normalise(_long_name(254))


def test_total_length_counts_the_wildcard_label() -> None:
    assert normalise("*." + _long_name(251)) == "*." + _long_name(251)
    with pytest.raises(UsageError, match="longer than 253 octets"):
        normalise("*." + _long_name(252))


def test_error_names_the_input() -> None:
    with pytest.raises(UsageError, match="'bad_name.example.com'"):
        normalise(" bad_name.example.com ")


# --- to_unicode / is_wildcard ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ace", "unicode"),
    [
        ("xn--bcher-kva.example", "bücher.example"),
        ("xn--strae-oqa.de", "straße.de"),
        ("*.xn--bcher-kva.example", "*.bücher.example"),
        ("example.com", "example.com"),
        ("*.example.com", "*.example.com"),
    ],
)
def test_to_unicode(ace: str, unicode: str) -> None:
    assert to_unicode(ace) == unicode
    assert normalise(to_unicode(ace)) == ace  # round trip


@pytest.mark.parametrize("bad", ["xn--zz.com", "a..b", ""])
def test_to_unicode_falls_back_to_input(bad: str) -> None:
    assert to_unicode(bad) == bad


@pytest.mark.parametrize(
    ("name", "expected"),
    [("*.example.com", True), (" *.example.com", True), ("example.com", False), ("a.*.com", False),
     ("*a.example.com", False)],
)
def test_is_wildcard(name: str, expected: bool) -> None:
    assert is_wildcard(name) is expected


# --- check_name ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Example.com.", "example.com"),
        ("www.example.co.uk", "www.example.co.uk"),
        ("example.co.uk", "example.co.uk"),
        ("*.example.com", "*.example.com"),
        ("bücher.de", "xn--bcher-kva.de"),
        ("user.github.io", "user.github.io"),  # under a private-section suffix
        ("*.user.github.io", "*.user.github.io"),
        ("a.b.c.example.org", "a.b.c.example.org"),
    ],
)
def test_check_name_accepts(given: str, expected: str) -> None:
    assert check_name(given) == expected


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ("localhost", ["'localhost'", "single-label", "allow internal names"]),
        ("intranet", ["'intranet'", "single-label", "allow internal names"]),
        ("server.local", ["'server.local'", "not under a public suffix", "allow internal names"]),
        ("host.corp", ["'host.corp'", "not under a public suffix", "allow internal names"]),
        ("a.test", ["'a.test'", "not under a public suffix"]),
        ("*.a.test", ["not under a public suffix"]),
        ("co.uk", ["'co.uk'", "public suffix", "example.co.uk"]),
        ("com", ["'com'", "public suffix"]),
        ("github.io", ["'github.io'", "public suffix"]),  # private section counts as a suffix
        ("*.com", ["'*.com'", "wildcard", "public suffix 'com'"]),
        ("*.co.uk", ["wildcard", "public suffix 'co.uk'"]),
        ("*.github.io", ["wildcard", "public suffix 'github.io'"]),
    ],
)
def test_check_name_rejects(given: str, words: list[str]) -> None:
    with pytest.raises(UsageError) as info:
        check_name(given)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("localhost", "localhost"),
        ("server.local", "server.local"),
        ("Host.Corp.", "host.corp"),
        ("a.test", "a.test"),
        ("*.a.test", "*.a.test"),
        ("co.uk", "co.uk"),
        ("*.com", "*.com"),
    ],
)
def test_check_name_allow_internal(given: str, expected: str) -> None:
    assert check_name(given, allow_internal=True) == expected


@pytest.mark.parametrize("bad", ["a_b.local", "a..test", "10.0.0.1", "a.*.local"])
def test_allow_internal_still_normalises(bad: str) -> None:
    with pytest.raises(UsageError):
        check_name(bad, allow_internal=True)


def test_public_ca_message_explains_the_fix() -> None:
    with pytest.raises(UsageError) as info:
        check_name("host.corp")
    assert str(info.value) == (
        "'host.corp' is not under a public suffix; public CAs will refuse it "
        "(enable 'allow internal names' on the account for a private CA)"
    )


# --- check_identifiers -----------------------------------------------------------------------------


def test_check_identifiers_keeps_order_and_normalises() -> None:
    assert check_identifiers(["WWW.example.com", "example.com.", "bücher.de", "*.example.org"]) == [
        "www.example.com", "example.com", "xn--bcher-kva.de", "*.example.org",
    ]


def test_check_identifiers_accepts_any_iterable() -> None:
    assert check_identifiers(n for n in ["a.example.com", "b.example.com"]) == ["a.example.com", "b.example.com"]


def test_check_identifiers_needs_one_name() -> None:
    with pytest.raises(UsageError, match="at least one"):
        check_identifiers([])


def test_check_identifiers_limit() -> None:
    names = [f"host{i}.example.com" for i in range(MAX_IDENTIFIERS)]
    assert MAX_IDENTIFIERS == 100
    assert len(check_identifiers(names)) == 100
    with pytest.raises(UsageError, match="at most 100") as info:
        check_identifiers([*names, "one-more.example.com"])
    assert "101" in str(info.value)


@pytest.mark.parametrize(
    ("names", "words"),
    [
        (["Example.com", "example.com."], ["'Example.com'", "'example.com.'", "same name"]),
        (["a.example.com", " A.EXAMPLE.COM "], ["'a.example.com'", "'A.EXAMPLE.COM'", "same name"]),
        (["bücher.de", "xn--bcher-kva.de"], ["'bücher.de'", "'xn--bcher-kva.de'", "same name"]),
        (["*.example.com", "*.Example.com."], ["same name"]),
    ],
)
def test_check_identifiers_duplicates(names: list[str], words: list[str]) -> None:
    with pytest.raises(UsageError) as info:
        check_identifiers(names)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize(
    "names",
    [
        ["*.example.com", "www.example.com"],
        ["www.example.com", "*.example.com"],  # order does not matter
        ["*.Example.com", "WWW.example.com."],
    ],
)
def test_check_identifiers_wildcard_covers_name(names: list[str]) -> None:
    with pytest.raises(UsageError) as info:
        check_identifiers(names)
    message = str(info.value).lower()  # names are quoted as given, so compare case-insensitively
    assert "'*.example.com' already covers 'www.example.com" in message
    assert "remove 'www.example.com" in message


@pytest.mark.parametrize(
    "names",
    [
        ["example.com", "*.example.com"],  # the apex is not covered by the wildcard
        ["*.example.com", "a.b.example.com"],  # two levels down is not covered either
        ["*.example.com", "www.example.org"],
        ["*.example.com", "*.www.example.com"],
    ],
)
def test_check_identifiers_wildcard_without_conflict(names: list[str]) -> None:
    assert check_identifiers(names) == [normalise(n) for n in names]


def test_check_identifiers_applies_check_name() -> None:
    with pytest.raises(UsageError, match="not under a public suffix"):
        check_identifiers(["example.com", "host.corp"])
    assert check_identifiers(["example.com", "host.corp"], allow_internal=True) == ["example.com", "host.corp"]


def test_wildcard_needs_dns_01() -> None:
    rules = {"*.example.com": "http-01", "example.com": "http-01"}
    with pytest.raises(UsageError) as info:
        check_identifiers(["example.com", "*.example.com"], challenge_for=rules.__getitem__)
    assert str(info.value) == (
        "'*.example.com' is a wildcard: only dns-01 can validate it (add a dns-01 rule for it)"
    )


@pytest.mark.parametrize("challenge", ["http-01", "tls-alpn-01"])
def test_wildcard_rejects_other_challenges(challenge: str) -> None:
    with pytest.raises(UsageError, match="only dns-01"):
        check_identifiers(["*.example.com"], challenge_for=lambda _name: challenge)


def test_wildcard_with_dns_01_is_fine_and_gets_normalised_names() -> None:
    asked: list[str] = []

    def challenge_for(name: str) -> str:
        asked.append(name)
        return "dns-01" if name.startswith("*.") else "http-01"

    assert check_identifiers(["Example.com", "*.Example.com"], challenge_for=challenge_for) == [
        "example.com", "*.example.com",
    ]
    assert "*.example.com" in asked


# --- covers ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("example.com", "example.com", True),
        ("Example.com.", "EXAMPLE.com", True),
        ("example.com", "www.example.com", False),
        ("www.example.com", "example.com", False),
        ("*.example.com", "www.example.com", True),
        ("*.example.com", "WWW.Example.Com.", True),
        ("*.example.com", "example.com", False),
        ("*.example.com", "a.b.example.com", False),
        ("*.example.com", "www.example.org", False),
        ("*.example.com", "wwwexample.com", False),
        ("*.example.com", "*.example.com", True),
        ("*.example.com", "*.www.example.com", False),
        ("*.bücher.de", "www.xn--bcher-kva.de", True),
        ("xn--bcher-kva.de", "bücher.de", True),
    ],
)
def test_covers(pattern: str, name: str, expected: bool) -> None:
    assert covers(pattern, name) is expected


def test_covers_rejects_invalid_names() -> None:
    with pytest.raises(UsageError):
        covers("*.example.com", "bad_name.example.com")


# --- matches_rule ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("*", "example.com", True),
        ("*", "*.example.com", True),
        (" * ", "anything.example.org", True),
        ("example.com", "example.com", True),
        ("Example.COM.", "example.com", True),
        ("example.com", "www.example.com", False),
        ("example.com", "*.example.com", False),
        ("*.example.com", "www.example.com", True),
        ("*.example.com", "a.b.c.example.com", True),  # any depth, unlike covers()
        ("*.example.com", "*.example.com", True),  # the wildcard name itself
        ("*.example.com", "*.www.example.com", True),
        ("*.example.com", "example.com", False),  # not the apex
        ("*.example.com", "badexample.com", False),
        ("*.example.com", "www.example.org", False),
        ("a.com, *.b.com", "a.com", True),
        ("a.com, *.b.com", "x.y.b.com", True),
        ("a.com, *.b.com", "b.com", False),
        ("a.com,*.b.com,", "c.com", False),
        ("a.com,,*.b.com", "x.b.com", True),
        ("bücher.de", "xn--bcher-kva.de", True),
        ("*.xn--bcher-kva.de", "www.Bücher.de", True),
        ("*.straße.de", "www.strasse.de", False),  # IDNA 2008: ß is not ss
    ],
)
def test_matches_rule(pattern: str, name: str, expected: bool) -> None:
    assert matches_rule(pattern, name) is expected


def test_matches_rule_reports_invalid_pattern() -> None:
    with pytest.raises(UsageError, match="'a.\\*.com'"):
        matches_rule("example.com, a.*.com", "other.com")
