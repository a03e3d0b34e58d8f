"""What a challenge provider is: a plug-in that publishes validation answers, then removes them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from certify_tui.plugins import Plugin, StepLogger

if TYPE_CHECKING:
    from certify_tui.challenges.probing import Check, Listener, ProbeContext


@dataclass(frozen=True)
class ChallengeTask:
    """One identifier's answer to publish."""

    identifier: str  # as requested, '*.example.com' for a wildcard
    domain: str  # the name the CA validates ('example.com' for '*.example.com')
    challenge_type: str
    token: str  # base64url token from the CA
    key_authorization: str  # http-01 file body, tls-alpn-01 input
    validation: str  # what is published: the file body for http-01, the TXT value for dns-01


class ChallengeProvider(Plugin):
    challenge_type: ClassVar[str]

    def describe(self) -> str:
        """One line for the preview: how this provider will answer."""
        return self.title

    def prepare(self, tasks: list[ChallengeTask], log: StepLogger) -> None:
        """Publish every task's answer; return only when the CA can see them."""
        raise NotImplementedError

    def cleanup(self, tasks: list[ChallengeTask], log: StepLogger) -> None:
        """Remove what prepare() published. Must not raise for answers already gone."""
        raise NotImplementedError

    # -- `cert test` hooks (nothing is sent to the CA) --------------------------------------------------

    def listener(self) -> Listener | None:
        """The address and port this provider listens on itself while validating, which `cert test` checks
        can be bound (and skips the probe if not). Default: it listens on nothing."""
        return None

    def probe(self, names: list[str], context: ProbeContext) -> list[Check]:
        """Check that this provider can answer for `names` the way the CA will look, without the CA: publish
        a probe and look it up, then remove it. Import heavy libraries here, not at module level
        (challenges/probes.py has the shared probes). Default: nothing to check."""
        return []
