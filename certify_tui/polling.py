"""Polling that is quick when the CA is quick and polite when it is not.

The `acme` library sleeps a fixed second per poll, which sets a 1-2 s floor per certificate.
We start at 20 ms (a local or quick CA is often done by then), grow by 60% each time (about ten polls
in the first two seconds, then fewer), cap at 5 s, and always honour Retry-After.
The CA's orders (ca/order.py) and the DNS propagation checks (challenges/dns/propagation.py) share it,
so it lives below both.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime

from certify_tui.errors import CAError

FIRST_DELAY = 0.02
GROWTH = 1.6
MAX_DELAY = 5.0


def retry_after_seconds(header: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date), or None."""
    if not header:
        return None
    header = header.strip()
    if header.isdigit():
        return float(header)
    try:
        when = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class Poller:
    """One poll loop's schedule and deadline."""

    def __init__(self, what: str, timeout: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], object] = time.sleep) -> None:
        self.what = what
        self._deadline = clock() + timeout
        self._delay = FIRST_DELAY
        self._clock = clock
        self._sleep = sleep
        self.timeout = timeout

    def next_delay(self, retry_after: str | None = None) -> float:
        server = retry_after_seconds(retry_after)
        delay = self._delay if server is None else max(server, FIRST_DELAY)
        self._delay = min(self._delay * GROWTH, MAX_DELAY)
        return delay

    def wait(self, retry_after: str | None = None) -> None:
        """Sleep until the next poll; raise once the deadline would be passed."""
        remaining = self._deadline - self._clock()
        if remaining <= 0:
            raise CAError(f"Timed out after {self.timeout:.0f} s waiting for {self.what}.")
        self._sleep(min(self.next_delay(retry_after), remaining))
