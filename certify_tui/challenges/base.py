"""What a challenge provider is: a plug-in that publishes validation answers, then removes them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from certify_tui.plugins import Plugin, StepLogger


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
