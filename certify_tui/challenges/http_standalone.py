"""http-01 through the built-in listener: for servers with no web server on port 80."""

from __future__ import annotations

from certify_tui.challenges import http_listener
from certify_tui.challenges.base import ChallengeProvider, ChallengeTask
from certify_tui.challenges.probing import Check, Listener, ProbeContext
from certify_tui.plugins import Param, StepLogger


class StandaloneHttpProvider(ChallengeProvider):
    id = "standalone"
    challenge_type = "http-01"
    title = "Built-in HTTP listener"
    description = "Answers http-01 from a listener certify-tui starts for the duration of the order."
    params = (
        Param("address", "Bind address", type="address", default="0.0.0.0",
              help="Address to listen on; '::' for IPv6, 0.0.0.0 for every IPv4 interface."),
        Param("port", "Port", type="int", default=80, minimum=1, maximum=65535,
              help="The CA connects to port 80; use another port only behind a redirect or port forward."),
    )

    def describe(self) -> str:
        return f"built-in listener on {self.options['address']}:{self.options['port']}"

    def prepare(self, tasks: list[ChallengeTask], log: StepLogger) -> None:
        address, port = self.options["address"], self.options["port"]
        http_listener.publish(address, port, {t.token: t.validation for t in tasks})
        for task in tasks:
            log.info(f"serving http-01 token on {address}:{port}", task.identifier)

    def cleanup(self, tasks: list[ChallengeTask], log: StepLogger) -> None:
        http_listener.withdraw(self.options["address"], self.options["port"], [t.token for t in tasks])

    def listener(self) -> Listener:
        address, port = self.options["address"], self.options["port"]
        return Listener("http-01", address, port, serving=http_listener.is_listening(address, port),
                        busy_remedy="Stop a web server there during validation, or use the webroot provider "
                                    "so the running web server answers.")

    def probe(self, names: list[str], context: ProbeContext) -> list[Check]:
        from certify_tui.challenges import probes

        return probes.http_probe(self, names, context, port=self.options["port"], remedy=_unreachable)


def _unreachable(name: str, port: int, status: int | None) -> str:
    if status == 404:
        return (f"Something other than certify-tui's listener answered on port {port} for {name}: point {name} "
                "at this server, forward the port here, or use the webroot provider if a web server owns it.")
    return f"Make sure {name} points at this server and port {port} reaches certify-tui's listener."
