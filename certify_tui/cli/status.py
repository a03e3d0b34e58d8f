"""`certify-tui status`: is a certify-tui service running for this data folder, and how are its certificates?

The service part asks the running API; the "at a glance" part (counts, warnings, the last run, the alert
channels) reads this data folder's database, so it is shown also when no service runs (cron setups)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import Any

from certify_tui.cli.output import print_json
from certify_tui.cli.parser import Subcommands
from certify_tui.lifecycle import Core
from certify_tui.service.discovery import (
    TOKEN_FILE,
    ServiceUnreachable,
    api_get,
    read_service_info,
    service_file,
)

EXPIRING_DAYS = 14


def register(sub: Subcommands) -> None:
    status = sub.add_parser("status", help="whether the service runs; counts, warnings, last run, alert channels")
    status.add_argument("--json", action="store_true")
    status.set_defaults(run=_status)


def _status(core: Core, args: argparse.Namespace) -> int:
    path = service_file(core.data)
    info = read_service_info(core.data)
    report: dict[str, Any] = {
        "reachable": False, "host": None, "port": None, "pid": None, "version": None,
        "certificates": None, "service_file": str(path), "error": None, "summary": core.status_summary(),
    }
    if info is None:
        why = "not found" if not path.exists() else "not valid"
        return _unreachable(args, report, f"{path} {why}")
    report.update(host=info["host"], port=info["port"], pid=info.get("pid"))
    where = f"{path} says {info['host']}:{info['port']}, pid {info.get('pid', '?')}"
    try:
        code, health = api_get(core.data, "/healthz")
        if code != 200 or not isinstance(health, dict) or health.get("status") != "ok":
            return _unreachable(args, report, f"{where}; /healthz answered HTTP {code}")
        report["reachable"] = True
        code, version = api_get(core.data, "/api/system/appversion")
        if code == 200 and isinstance(version, dict):
            report["version"] = version.get("version")
        code, views = api_get(core.data, "/api/certificates")
    except ServiceUnreachable as exc:
        report["reachable"] = False
        return _unreachable(args, report, f"{where}; {exc.message}")
    if code == 200 and isinstance(views, list):
        report["certificates"] = summarize(views)
    elif code == 401:
        report["error"] = f"the service refused the API token in {core.data.root / TOKEN_FILE}"
    else:
        report["error"] = f"the API answered HTTP {code}"

    if args.json:
        print_json(report)
    else:
        print(f"Service running on {report['host']}:{report['port']} (pid {report['pid']}), "
              f"version {report['version'] or 'unknown'}")
        if report["certificates"] is not None:
            _print_summary(report["certificates"])
        else:
            print(f"Cannot read its certificates: {report['error']}.")
        print_glance(report["summary"])
    return 0 if report["error"] is None else 1


def _unreachable(args: argparse.Namespace, report: dict[str, Any], reason: str) -> int:
    report["error"] = f"No certify-tui service is reachable (service.json: {reason})"
    if args.json:
        print_json(report)
    else:
        print(report["error"])
        print_glance(report["summary"])
    return 1


def summarize(views: list[dict[str, Any]], now: datetime | None = None) -> dict[str, Any]:
    """Counts and the next renewal, from the API's certificate views."""
    now = now or datetime.now(UTC)
    horizon = now + timedelta(days=EXPIRING_DAYS)
    failing, expiring, upcoming = [], [], []
    for view in views:
        if view.get("status") == "failed" or (view.get("failure_count") or 0) > 0:
            failing.append(view["name"])
        not_after = _parse(view.get("not_after"))
        if not_after is not None and not_after <= horizon:
            expiring.append(view["name"])
        next_attempt = _parse(view.get("next_attempt"))
        if next_attempt is not None and view.get("auto_renew", True):
            upcoming.append((next_attempt, view["name"]))
    nxt = min(upcoming) if upcoming else None
    return {
        "total": len(views),
        "failing": failing,
        f"expiring_within_{EXPIRING_DAYS}_days": expiring,
        "next_renewal": {"name": nxt[1], "at": nxt[0].isoformat()} if nxt else None,
        "items": [{k: v.get(k) for k in ("name", "primary_identifier", "status", "not_after", "next_attempt")}
                  for v in views],
    }


def _print_summary(summary: dict[str, Any]) -> None:
    failing, expiring = summary["failing"], summary[f"expiring_within_{EXPIRING_DAYS}_days"]
    print(f"Certificates: {summary['total']}, failing: {len(failing)}"
          + (f" ({', '.join(failing)})" if failing else "")
          + f", expiring within {EXPIRING_DAYS} days: {len(expiring)}"
          + (f" ({', '.join(expiring)})" if expiring else ""))
    nxt = summary["next_renewal"]
    when = _parse(nxt["at"]) if nxt else None
    print(f"Next renewal: {nxt['name']} at {when:%Y-%m-%d %H:%M} UTC" if nxt and when else "Next renewal: none scheduled")


def _parse(iso: Any) -> datetime | None:
    if not isinstance(iso, str) or not iso:
        return None
    try:
        value = datetime.fromisoformat(iso)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def print_glance(glance: dict[str, Any]) -> None:
    """The at-a-glance part: counts by state, warnings, next renewals, the last run, the alert channels."""
    counts = ", ".join(f"{n} {state}" for state, n in glance["counts"].items())
    print(f"By state: {counts or 'no certificates'}")
    warnings = glance["warnings"]
    print(f"In warning: {len(warnings) or 'none'}")
    for warning in warnings:
        print(f"  {warning['name']}: {warning['kind']}: {warning['detail']}")
    nexts = [f"{n['name']} {_when(n['at'])}" for n in glance["next_renewals"]]
    print(f"Next renewals: {', '.join(nexts) or 'none scheduled'}")
    worker, run = glance.get("worker"), glance.get("last_run")
    if worker:
        state = "stale (not running?)" if worker.get("stale") else ("running" if worker.get("running") else "stopped")
        print(f"Worker ({worker.get('where')} on {worker.get('host')}): {state}, last check "
              f"{_when(worker.get('last_check'))}")
    if run:
        did = ", ".join(f"{n} {action}" for action, n in sorted((run.get("outcomes") or {}).items()))
        print(f"Last renewal run: {_when(run.get('at'))} by {run.get('by')}" + (f" ({did})" if did else ""))
    alerts = glance["alerts"]
    channels = alerts["channels"]
    print(f"Alert channels: {', '.join(channels) if channels else 'none (certify-tui settings notify email --smtp-host H --to ADDRESS, or settings notify webhook URL)'}")
    last = alerts.get("last_delivery")
    if last:
        result = "delivered" if last.get("ok") else f"FAILED for {', '.join(last.get('failed') or []) or 'all'}"
        print(f"Last alert: {_when(last.get('at'))} \"{last.get('title')}\": {result}")


def _when(iso: Any) -> str:
    value = _parse(iso)
    return f"{value:%Y-%m-%d %H:%M} UTC" if value else "never"
