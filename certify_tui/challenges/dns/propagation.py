"""Waiting until every authoritative nameserver serves the dns-01 TXT values.

No fixed sleep: each server is asked directly (no recursion, so no cache in the way; UDP with a TCP
fallback for truncated answers), quickly at first and then less often (the schedule of
certify_tui/polling.py), until it serves every value, or `timeout` passes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype

from certify_tui.challenges.dns.zones import Server
from certify_tui.errors import OperationError
from certify_tui.plugins import StepLogger
from certify_tui.polling import Poller

QUERY_TIMEOUT = 2.0


@dataclass(frozen=True)
class Answer:
    values: frozenset[str] | None  # None: no authoritative answer
    status: str  # for messages: "NXDOMAIN", "no answer", "2 values", ...


@dataclass(frozen=True)
class Check:
    """One name that one server must serve with (at least) these values."""

    server: Server
    fqdn: str
    values: frozenset[str]
    identifier: str


def query_txt(server: Server, fqdn: str, timeout: float = QUERY_TIMEOUT) -> Answer:
    """Ask `server` directly for the TXT values at `fqdn` (CNAMEs not followed)."""
    query = dns.message.make_query(fqdn.rstrip(".") + ".", dns.rdatatype.TXT)
    query.flags &= ~dns.flags.RD
    try:
        response, _ = dns.query.udp_with_fallback(query, server.host, timeout=timeout, port=server.port)
    except dns.exception.Timeout:
        return Answer(None, "no answer")
    except (OSError, dns.exception.DNSException) as exc:
        return Answer(None, f"query failed: {exc}")
    rcode = response.rcode()
    if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        return Answer(None, f"answered {dns.rcode.to_text(rcode)}")
    if not response.flags & dns.flags.AA:
        return Answer(None, "not authoritative for the name")
    wanted = query.question[0].name
    values = frozenset(b"".join(rd.strings).decode(errors="replace")
                       for rrset in response.answer
                       if rrset.rdtype == dns.rdatatype.TXT and rrset.name == wanted for rd in rrset)
    if rcode == dns.rcode.NXDOMAIN:
        return Answer(frozenset(), "NXDOMAIN")
    return Answer(values, f"{len(values)} TXT value(s)" if values else "no TXT record")


def wait_for(checks: list[Check], timeout: float, log: StepLogger, *,
             clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> float:
    """Poll until every check passes; return the seconds it took. OperationError naming what is missing."""
    start = clock()
    deadline = start + timeout
    poller = Poller("DNS propagation", timeout)
    pending = list(checks)
    last: dict[Check, Answer] = {}
    while True:
        for check in list(pending):
            answer = query_txt(check.server, check.fqdn, max(0.2, min(QUERY_TIMEOUT, deadline - clock())))
            last[check] = answer
            if answer.values is not None and check.values <= answer.values:
                pending.remove(check)
                log.info(f"{check.server} serves {check.fqdn} ({clock() - start:.2f} s)", check.identifier)
        if not pending:
            return clock() - start
        remaining = deadline - clock()
        if remaining <= 0:
            raise OperationError(_timeout_message(pending, last, timeout))
        sleep(min(poller.next_delay(), remaining))


def _timeout_message(pending: list[Check], last: dict[Check, Answer], timeout: float) -> str:
    first = pending[0]
    answer = last.get(first)
    seen = (answer.values if answer else None) or frozenset()
    missing = sorted(first.values - seen)
    state = answer.status if answer else "not asked"
    more = f" (and {len(pending) - 1} more server/record pair(s))" if len(pending) > 1 else ""
    return (f"DNS propagation timed out after {timeout:g} s: nameserver {first.server} does not serve "
            f"the TXT record {first.fqdn} = '{missing[0] if missing else ''}' yet ({state}){more}. "
            "Check the record was created in the right zone, or raise propagation_timeout.")
