"""Domain rules for certificate identifiers.

Names are kept in one canonical form everywhere (lowercase A-labels, no trailing dot, an optional
leading ``*.``) so that comparisons, storage and what is sent to the CA always agree. The checks here
catch what a public CA would refuse before an order is placed, with a message saying how to fix it.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable, Iterable

import idna
from publicsuffixlist import PublicSuffixList

from certify_tui.errors import UsageError

MAX_IDENTIFIERS = 100  # Let's Encrypt's per-order limit; other public CAs allow no more
MAX_LABEL_OCTETS = 63  # RFC 1035
MAX_NAME_OCTETS = 253  # RFC 1035 (255 on the wire, minus the length byte and the root label)

_WILDCARD = "*."
_INTERNAL_HINT = "enable 'allow internal names' on the account for a private CA"


@functools.cache
def _psl() -> PublicSuffixList:
    # Parsing the list takes a noticeable moment, so do it once, on first use. accept_unknown=False:
    # the library's default treats any unknown TLD as a suffix, which would let 'a.test' through.
    # Private-section suffixes (github.io) are included by default, which is what we want.
    return PublicSuffixList(accept_unknown=False)


def is_wildcard(name: str) -> bool:
    return name.strip().startswith(_WILDCARD)


def _split_wildcard(name: str) -> tuple[str, str]:
    """('*.', 'example.com') for a wildcard, ('', name) otherwise."""
    return (_WILDCARD, name[2:]) if name.startswith(_WILDCARD) else ("", name)


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name.removeprefix("[").removesuffix("]"))
    except ValueError:
        return False
    return True


def _encode_label(label: str, original: str) -> str:
    """One label to its A-label, with a message naming the label when it cannot be used."""
    if label.startswith("-") or label.endswith("-"):
        raise UsageError(f"'{original}' has a label starting or ending with a hyphen ('{label}')")
    if label.isascii() and len(label) > MAX_LABEL_OCTETS:
        raise UsageError(f"'{original}' has a label longer than {MAX_LABEL_OCTETS} octets ('{label[:20]}...')")
    try:
        encoded = idna.alabel(label).decode("ascii")
    except idna.IDNAError as err:
        # An IDN label can only be measured once encoded; idna reports that as "Label too long".
        if "too long" in str(err).lower():
            raise UsageError(
                f"'{original}' has a label longer than {MAX_LABEL_OCTETS} octets once encoded ('{label[:20]}...')"
            ) from err
        raise UsageError(f"'{original}' has a label not allowed in a domain name ('{label}': {err})") from err
    return encoded


def normalise(name: str) -> str:
    """Canonical A-label form of a name: stripped, lowercase, no trailing dot, IDNA 2008 / UTS 46.

    A leading '*.' wildcard label is kept. Raises UsageError for anything a CA could not accept as a
    DNS identifier.
    """
    original = name.strip()
    text = original.removesuffix(".").lower()
    if not text:
        raise UsageError("A domain name is empty" if not original else f"'{original}' is not a domain name")
    if _is_ip(text):
        raise UsageError(f"'{original}' is an IP address: IP address identifiers are not supported yet")
    prefix, rest = _split_wildcard(text)
    if "*" in rest:
        raise UsageError(f"'{original}' has a '*' in the wrong place: a wildcard must be the whole first "
                         "label, as in '*.example.com'")
    try:
        # UTS 46 maps compatibility forms (full-width letters, '。' dots) and case before IDNA 2008
        # validation; STD3 rules reject '_', spaces and other ASCII punctuation.
        mapped = idna.uts46_remap(rest, std3_rules=True)
    except idna.IDNAError as err:
        raise UsageError(f"'{original}' has characters not allowed in a domain name ({err})") from err
    labels = mapped.split(".")
    if "" in labels:
        raise UsageError(f"'{original}' has an empty label (two dots in a row, or a leading dot)")
    result = prefix + ".".join(_encode_label(label, original) for label in labels)
    if len(result) > MAX_NAME_OCTETS:
        raise UsageError(f"'{original}' is longer than {MAX_NAME_OCTETS} octets once encoded")
    return result


def to_unicode(name: str) -> str:
    """A-label form to the U-label form people read; the input unchanged if it cannot be decoded."""
    prefix, rest = _split_wildcard(name)
    try:
        return prefix + idna.decode(rest)
    except (idna.IDNAError, UnicodeError):
        return name


def check_name(name: str, *, allow_internal: bool = False) -> str:
    """normalise() plus the public-CA rules (public suffix list); returns the normalised name."""
    result = normalise(name)
    if allow_internal:
        return result  # a private CA decides for itself what it will sign
    shown = name.strip()
    prefix, base = _split_wildcard(result)
    psl = _psl()
    if psl.is_public(base):
        if prefix:
            raise UsageError(f"'{shown}' is a wildcard over the public suffix '{to_unicode(base)}'; "
                             "no CA will issue it (use a wildcard under a registered domain)")
        raise UsageError(f"'{shown}' is a public suffix, not a domain anyone can own; "
                         f"request a name under it, such as 'example.{to_unicode(base)}'")
    if "." not in base:
        raise UsageError(f"'{shown}' is a single-label name; public CAs will refuse it ({_INTERNAL_HINT})")
    if psl.publicsuffix(base) is None:
        raise UsageError(f"'{shown}' is not under a public suffix; public CAs will refuse it ({_INTERNAL_HINT})")
    return result


def check_identifiers(names: Iterable[str], *, allow_internal: bool = False,
                      challenge_for: Callable[[str], str] | None = None) -> list[str]:
    """Validate the names of one certificate request; returns them normalised, in the given order.

    challenge_for, if given, maps a normalised name to its challenge type ('http-01', 'dns-01', ...).
    """
    given = list(names)
    if not given:
        raise UsageError("A certificate needs at least one domain name")
    if len(given) > MAX_IDENTIFIERS:
        raise UsageError(f"A certificate can hold at most {MAX_IDENTIFIERS} domain names, "
                         f"{len(given)} were given (split them over several certificates)")

    seen: dict[str, str] = {}  # normalised -> spelling as given, to name both in a duplicate message
    result: list[str] = []
    for original in given:
        norm = check_name(original, allow_internal=allow_internal)
        if norm in seen:
            raise UsageError(f"'{seen[norm].strip()}' and '{original.strip()}' are the same name "
                             f"('{to_unicode(norm)}'); list it once")
        seen[norm] = original
        result.append(norm)

    # A CA would issue both, but the plain name is redundant and usually a mistake in the list.
    for norm in result:
        if is_wildcard(norm) or "." not in norm:
            continue
        parent_wildcard = _WILDCARD + norm.split(".", 1)[1]
        if parent_wildcard in seen:
            raise UsageError(f"'{seen[parent_wildcard].strip()}' already covers '{seen[norm].strip()}'; "
                             f"remove '{seen[norm].strip()}' from the list")

    if challenge_for is not None:
        for norm in result:
            # RFC 8555 section 7.1.3 and CA policy: wildcards are proven only through DNS.
            if is_wildcard(norm) and challenge_for(norm) != "dns-01":
                # Fixed where the rules are (as the message says), though it is found checking the names.
                raise UsageError(f"'{seen[norm].strip()}' is a wildcard: only dns-01 can validate it "
                                 "(add a dns-01 rule for it)", field="rules")
    return result


def covers(pattern: str, name: str) -> bool:
    """True if certificate name `pattern` is valid for host `name`.

    A wildcard stands for exactly one label (RFC 6125 section 6.4.3): '*.x.y' covers 'a.x.y' but
    neither 'x.y' nor 'a.b.x.y'.
    """
    pattern, name = normalise(pattern), normalise(name)
    if pattern == name:
        return True
    prefix, base = _split_wildcard(pattern)
    if not prefix:
        return False
    return name.partition(".")[2] == base


def matches_rule(pattern: str, name: str) -> bool:
    """True if a challenge rule pattern applies to `name`.

    Unlike covers(), '*.example.com' here means "anything under example.com" at any depth, including
    the wildcard name itself, since one DNS setup serves a whole zone. '*' matches everything and
    patterns may be comma-separated. Invalid patterns raise UsageError rather than silently never matching.
    """
    target = normalise(name)
    for part in pattern.split(","):
        part = part.strip()
        if not part:
            continue
        if part == "*":
            return True
        norm = normalise(part)
        if norm == target:
            return True
        prefix, base = _split_wildcard(norm)
        if prefix and target.endswith("." + base):
            return True
    return False
