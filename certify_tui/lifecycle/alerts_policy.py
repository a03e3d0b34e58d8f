"""Which alert a certificate calls for now: a pure decision table over its state and what was already sent.

The "episode" memory lives in ManagedCertificate.alert_state (a JSON dict), with these keys:
- failure_alerted (bool): the "failing" alert went out; the next success sends one recovery message.
- expiry_of (ISO time): the not_after the expiry warnings below are about; a new certificate resets them.
- expiry_warned (list of day thresholds): the warnings sent for that certificate, each once.
- deploy_alerted (ISO time or None): the date_issued whose failed deployment was reported.
Decisions never depend on how many times the worker looked, so a retry never sends a second message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from certify_tui.errors import UsageError

DEFAULT_EXPIRY_DAYS = (14, 7, 3, 1)


@dataclass(frozen=True)
class AlertPolicy:
    failures: int = 2  # consecutive failures before the "failing" alert
    expiry_days: tuple[int, ...] = DEFAULT_EXPIRY_DAYS  # warn this many days before expiry, each once
    deploy: bool = True  # a failed deployment is reported
    success: bool = False  # every successful renewal is reported
    digest: str = "off"  # off, daily or weekly

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> AlertPolicy:
        return cls(failures=int(settings.get("alert_failures", 2)),
                   expiry_days=parse_days(settings.get("alert_expiry_days", "14,7,3,1")),
                   deploy=bool(settings.get("alert_deploy_failures", True)),
                   success=bool(settings.get("notify_on_success", False)),
                   digest=str(settings.get("alert_digest", "off")))


def parse_days(text: object) -> tuple[int, ...]:
    """"14,7,3,1" -> (14, 7, 3, 1), largest first; empty or "off": no expiry warnings."""
    raw = str(text or "").replace(";", ",").replace(" ", ",")
    if raw.strip(",").lower() in ("", "off"):
        return ()
    days: set[int] = set()
    for part in filter(None, raw.split(",")):
        if not part.isdigit() or not 1 <= int(part) <= 365:
            raise UsageError(f"Expiry warning days must be whole numbers of days from 1 to 365 separated by "
                             f"commas, e.g. 14,7,3,1 (not {part!r}).", field="alert_expiry_days")
        days.add(int(part))
    return tuple(sorted(days, reverse=True))


@dataclass(frozen=True)
class CertState:
    """What the decision needs of a certificate (copied from its row, so the table is testable alone)."""
    name: str
    status: str
    failure_count: int = 0
    last_error: str | None = None
    not_after: datetime | None = None
    renewal_due: datetime | None = None  # when renewal became/becomes due; None before the first issuance
    date_issued: datetime | None = None
    deploy_error: str | None = None
    next_attempt: datetime | None = None
    lifetime: timedelta | None = None  # not_after - not_before


def renewal_overdue(due: datetime | None, failure_count: int, lifetime: timedelta | None, now: datetime) -> bool:
    """Should this certificate have been renewed by now? Its renewal is due and either failed, or was not done
    within a grace period (a day, less for short-lived certificates): one renewing on schedule is not news."""
    if due is None or due > now:
        return due is None
    grace = min(timedelta(days=1), lifetime / 20) if lifetime else timedelta(days=1)
    return failure_count > 0 or now - due >= grace


@dataclass(frozen=True)
class Alert:
    kind: str  # failure, recovery, expiry, deploy, success
    name: str
    title: str
    body: str


@dataclass
class Decision:
    alerts: list[Alert] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)  # the alert_state to store after sending


def decide(cert: CertState, sent: dict[str, Any], policy: AlertPolicy, now: datetime,
           renewed: bool = False) -> Decision:
    """The alerts `cert` calls for now and the alert_state to keep. `renewed`: this call follows a successful
    renewal by the worker or `renew` (for the optional success message)."""
    state = dict(sent or {})
    out = Decision(state=state)
    _failure_or_recovery(cert, state, policy, out, renewed)
    if policy.deploy:
        _deployment(cert, state, out)
    _expiry(cert, state, policy, now, out)
    return out


def _failure_or_recovery(cert: CertState, state: dict[str, Any], policy: AlertPolicy, out: Decision,
                         renewed: bool) -> None:
    failing = cert.status == "failed" and cert.failure_count > 0
    if failing and cert.failure_count >= policy.failures and not state.get("failure_alerted"):
        state["failure_alerted"] = True
        retry = f"The next automatic try is at {cert.next_attempt:%Y-%m-%d %H:%M} UTC. " if cert.next_attempt else ""
        out.alerts.append(Alert("failure", cert.name, f"renewal of {cert.name} FAILED {cert.failure_count} times",
                                f"The renewal of {cert.name} failed {cert.failure_count} times in a row.\n"
                                f"Last error: {cert.last_error or 'unknown'}\n{retry}You get one more message "
                                f"when it recovers, none per retry.\nTo see why: certify-tui cert log {cert.name}; "
                                f"to retry now: certify-tui renew {cert.name} --force"))
        return
    if not failing and cert.status == "valid" and state.get("failure_alerted"):
        state.pop("failure_alerted")
        out.alerts.append(Alert("recovery", cert.name, f"{cert.name} recovered: renewed", _valid_until(cert)
                                + "\nThe failures reported earlier are over; nothing to do."))
        return
    if renewed and policy.success and cert.status == "valid":
        out.alerts.append(Alert("success", cert.name, f"renewal of {cert.name} succeeded", _valid_until(cert)))


def _valid_until(cert: CertState) -> str:
    until = f", valid until {cert.not_after:%Y-%m-%d %H:%M} UTC" if cert.not_after else ""
    return f"{cert.name} was renewed{until}."


def _deployment(cert: CertState, state: dict[str, Any], out: Decision) -> None:
    issued = cert.date_issued.isoformat() if cert.date_issued else "never"
    if not cert.deploy_error:
        state.pop("deploy_alerted", None)
        return
    if state.get("deploy_alerted") == issued:
        return
    state["deploy_alerted"] = issued
    out.alerts.append(Alert("deploy", cert.name, f"deployment of {cert.name} FAILED",
                            f"{cert.name} was issued but its deployment failed: {cert.deploy_error}\n"
                            f"The sites still serve the previous certificate. Fix the cause, then run: "
                            f"certify-tui cert deploy {cert.name} (details: certify-tui cert log {cert.name})"))


def _expiry(cert: CertState, state: dict[str, Any], policy: AlertPolicy, now: datetime, out: Decision) -> None:
    if cert.not_after is None or cert.status == "revoked":  # a revoked one has its own message
        state.pop("expiry_of", None)
        state.pop("expiry_warned", None)
        return
    episode = cert.not_after.isoformat()
    if state.get("expiry_of") != episode:  # a new certificate: a new episode (a healthy one keeps no memory)
        state.pop("expiry_of", None)
        state.pop("expiry_warned", None)
    if not renewal_overdue(cert.renewal_due, cert.failure_count, cert.lifetime, now):
        return
    left = cert.not_after - now
    warned = set(state.get("expiry_warned") or [])
    crossed = [d for d in policy.expiry_days if left <= timedelta(days=d)]
    if not crossed or set(crossed) <= warned:
        return
    state["expiry_of"], state["expiry_warned"] = episode, sorted(warned | set(crossed), reverse=True)
    when = f"{cert.not_after:%Y-%m-%d %H:%M} UTC"
    if left <= timedelta(0):
        title, lead = f"{cert.name} has EXPIRED", f"{cert.name} expired at {when} and was not renewed."
    else:
        days = left.total_seconds() / 86400
        title = f"{cert.name} expires in {_days(days)}"
        lead = f"{cert.name} expires at {when} ({_days(days)} from now) and has not been renewed."
    why = f"\nLast error: {cert.last_error}" if cert.last_error else ""
    out.alerts.append(Alert("expiry", cert.name, title,
                            f"{lead}{why}\nTo renew now: certify-tui renew {cert.name} --force "
                            f"(the log: certify-tui cert log {cert.name})"))


def _days(days: float) -> str:
    if days < 1:
        return f"{max(days * 24, 0):.0f} hours"
    return f"{days:.0f} day" + ("" if round(days) == 1 else "s")
