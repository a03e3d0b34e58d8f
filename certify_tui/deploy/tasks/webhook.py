"""The `webhook` task: POST the request's outcome as JSON to a URL.

Body: {"name", "identifiers", "result" ("success"/"failure"), "error", "serial", "not_after", "host"}.
An optional secret goes in the Authorization header. Any answer other than 2xx fails the task;
redirects are not followed (a POST turned into a GET elsewhere would silently lose the message).
Messages name the URL's host only: its path or query may carry a token.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from certify_tui import __version__
from certify_tui.deploy.base import DeploymentFailed, DeploymentTask, TaskContext
from certify_tui.errors import UsageError
from certify_tui.plugins import Param, StepLogger


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


class WebhookTask(DeploymentTask):
    id = "webhook"
    listing_order = 40
    title = "Call a webhook"
    description = "POSTs the outcome (name, names, result, error, serial, expiry, host) as JSON to a URL."
    params = (
        Param("url", "URL", required=True, help="http:// or https:// address that receives the POST."),
        Param("secret_header", "Authorization header", secret=True,
              help="Sent as the Authorization header's value, e.g. 'Bearer <token>'."),
        Param("timeout", "Timeout (s)", type="int", default=10, minimum=1, maximum=300),
        *DeploymentTask.COMMON_PARAMS,
    )

    @classmethod
    def validate_options(cls, raw: Mapping[str, Any]) -> dict[str, Any]:
        values = super().validate_options(raw)
        url = values["url"].strip()
        try:
            parts = urlsplit(url)
            valid = parts.scheme in ("http", "https") and bool(parts.hostname)
            _ = parts.port  # raises ValueError for a bad port
        except ValueError:
            valid = False
        if not valid:
            raise UsageError("webhook: option 'url' must be an http:// or https:// address with a host.")
        if any(c in (values.get("secret_header") or "") for c in "\r\n"):
            raise UsageError("webhook: option 'secret_header' cannot contain line breaks.")
        values["url"] = url
        return values

    def describe(self) -> str:
        return f"POST the outcome to {_where(self.options['url'])}"

    def payload(self, context: TaskContext) -> dict[str, Any]:
        files = context.files
        return {"name": files.name, "identifiers": list(files.identifiers),
                "result": "success" if context.succeeded else "failure", "error": context.error,
                "serial": files.serial or None, "not_after": files.not_after or None,
                "host": socket.gethostname()}

    def run(self, context: TaskContext, log: StepLogger) -> None:
        import requests

        where = _where(self.options["url"])
        headers = {"User-Agent": f"certify-tui/{__version__}"}
        if self.options.get("secret_header"):
            headers["Authorization"] = self.options["secret_header"]
        try:
            response = requests.post(self.options["url"], json=self.payload(context), headers=headers,
                                     timeout=self.options["timeout"], allow_redirects=False)
        except requests.Timeout:
            raise DeploymentFailed(f"The webhook at {where} did not answer within "
                                   f"{self.options['timeout']} s.") from None
        except requests.exceptions.SSLError:
            raise DeploymentFailed(f"The TLS connection to the webhook at {where} failed (is its certificate "
                                   "trusted?).") from None
        except requests.ConnectionError:
            raise DeploymentFailed(f"Cannot connect to the webhook at {where}.") from None
        except requests.RequestException as exc:
            raise DeploymentFailed(f"The webhook call to {where} failed ({type(exc).__name__}).") from None
        with response:
            if not 200 <= response.status_code < 300:
                reason = f" {response.reason}" if response.reason else ""
                raise DeploymentFailed(f"The webhook at {where} answered {response.status_code}{reason}.")
        log.info(f"webhook at {where} answered {response.status_code}")
