"""`GET /metrics`: managed certificates in the Prometheus text exposition format 0.0.4."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def escape_label_value(value: str) -> str:
    """A label value as the Prometheus text format 0.0.4 wants it: \\, " and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def render_metrics(certificates: Iterable[Any]) -> str:
    """Prometheus text exposition (0.0.4) for managed certificates (objects with the model's fields)."""
    certs = list(certificates)
    families: list[tuple[str, str, str, list[tuple[dict[str, str], float]]]] = [
        ("certify_certificates_total", "gauge", "Number of managed certificates.", [({}, len(certs))]),
        ("certify_certificate_expiry_timestamp_seconds", "gauge",
         "Expiry (notAfter) of the current certificate, in seconds since the Unix epoch.", []),
        ("certify_certificate_last_success", "gauge",
         "1 if the certificate is valid and its last attempt succeeded, else 0.", []),
        ("certify_certificate_failures_total", "gauge",
         "Consecutive failed attempts since the last success (resets to 0 on success).", []),
    ]
    for cert in certs:
        labels = {"name": cert.name, "primary": cert.primary_identifier}
        if cert.not_after is not None:
            families[1][3].append((labels, cert.not_after.timestamp()))
        ok = cert.status == "valid" and not cert.last_error
        families[2][3].append((labels, 1 if ok else 0))
        families[3][3].append((labels, cert.failure_count or 0))
    lines = []
    for name, kind, helptext, samples in families:
        lines.append(f"# HELP {name} {helptext}")
        lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            rendered = ",".join(f'{k}="{escape_label_value(str(v))}"' for k, v in labels.items())
            lines.append(f"{name}{{{rendered}}} {_number(value)}" if rendered else f"{name} {_number(value)}")
    return "\n".join(lines) + "\n"
