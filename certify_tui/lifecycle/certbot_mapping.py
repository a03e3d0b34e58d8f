"""What each of a certbot lineage's settings becomes here: validation rules, tasks, renewal, key options.

Pure mapping (nothing read from disk but the credentials file a dns-rfc2136 lineage names, nothing stored).
What has no equivalent is listed in `not_mapped`, never guessed; an authenticator with none stops the lineage."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from certify_tui.lifecycle.certbot_conf import CertbotConfError, ConfSection, read_conf
from certify_tui.lifecycle.certbot_files import LineageError
from certify_tui.model import ChallengeRule, RenewalPolicy, TaskConfig

# certbot's hooks read these; a hook imported as a command task gets them from the CERTIFY_* ones.
_CERTBOT_ENV = 'export RENEWED_LINEAGE="$(dirname "$CERTIFY_FULLCHAIN")" RENEWED_DOMAINS="$CERTIFY_DOMAINS"; '
# Renewal parameters certbot writes that need nothing here (paths, versions, the account and CA: used).
_KNOWN = {"account", "server", "authenticator", "installer", "config_dir", "work_dir", "logs_dir", "key_type",
          "rsa_key_size", "elliptic_curve", "webroot_path", "webroot_map", "http01_port", "http01_address",
          "dns_rfc2136_credentials", "pre_hook", "post_hook", "deploy_hook", "renew_hook", "reuse_key",
          "preferred_chain", "required_profile", "preferred_profile", "autorenew", "pref_challs",
          "manual_public_ip_logging_ok", "manual_auth_hook", "manual_cleanup_hook", "no_verify_ssl", "strict_permissions", "disable_renew_updates"}
_RFC2136_KEYS = {"dns_rfc2136_server": "server", "dns_rfc2136_name": "tsig_key_name",
                 "dns_rfc2136_secret": "tsig_secret", "dns_rfc2136_algorithm": "tsig_algorithm"}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(day|days|d|week|weeks|w|hour|hours|h)?\s*$", re.IGNORECASE)
_UNIT_DAYS = {"d": 1.0, "w": 7.0, "h": 1 / 24}


@dataclass
class CredentialPlan:
    """A stored credential to create (or reuse, by name) from a certbot DNS credentials file."""

    name: str
    provider: str
    options: dict[str, Any]
    source: str

    def to_dict(self) -> dict[str, Any]:  # the values never leave: the file they came from does
        return {"name": self.name, "provider": self.provider, "from": self.source}


@dataclass
class Mapping:
    rules: list[ChallengeRule] = field(default_factory=list)
    credential: CredentialPlan | None = None
    tasks: list[TaskConfig] = field(default_factory=list)
    renewal: RenewalPolicy | None = None
    auto_renew: bool = True
    reuse_key: bool = False
    preferred_chain: str | None = None
    profile: str | None = None
    not_mapped: list[str] = field(default_factory=list)


def map_lineage(name: str, params: ConfSection, top: ConfSection, hook_scripts: dict[str, list[Path]]) -> Mapping:
    """The lineage's settings as ours; LineageError when its authenticator has no equivalent."""
    mapping = Mapping()
    _map_authenticator(name, params, mapping)
    _map_hooks(params, hook_scripts, mapping)
    _map_renewal(params, top, mapping)
    mapping.reuse_key = _flag(params.text("reuse_key"))
    mapping.preferred_chain = params.text("preferred_chain")
    mapping.profile = params.text("required_profile") or params.text("preferred_profile")
    if params.text("autorenew") is not None:
        mapping.auto_renew = _flag(params.text("autorenew"), default=True)
    installer = params.text("installer")
    if installer and installer != "None":
        mapping.not_mapped.append(f"installer {installer} (the deployment stays 'files': choose a site with "
                                  f"certify-tui cert set NAME --deploy auto|single)")
    mapping.not_mapped += [f"{key} = {params.text(key)}" for key in sorted(set(params.values) - _KNOWN)
                           if not key.startswith("dns_")]  # dns_* of a supported plug-in: read above
    return mapping


def _flag(value: str | None, default: bool = False) -> bool:
    if value is None:
        return default
    return value.strip().lower() in ("true", "yes", "on", "1")


def _map_authenticator(name: str, params: ConfSection, mapping: Mapping) -> None:
    authenticator = params.text("authenticator") or "standalone"
    if authenticator == "webroot":
        mapping.rules = _webroot_rules(name, params)
    elif authenticator == "standalone":
        options: dict[str, Any] = {"port": params.text("http01_port", "80")}
        if params.text("http01_address"):
            options["address"] = params.text("http01_address")
        mapping.rules = [ChallengeRule("*", "http-01", "standalone", options)]
    elif authenticator == "dns-rfc2136":
        mapping.credential = _rfc2136_credential(name, params)
        mapping.rules = [ChallengeRule("*", "dns-01", "rfc2136", {}, mapping.credential.name)]
    elif authenticator == "manual":
        challenges = params.items("pref_challs")
        if challenges and "dns-01" not in challenges:
            raise LineageError(f"{name}: the manual authenticator with {', '.join(challenges)} is not supported "
                               f"(only dns-01 is manual here): add it by hand with certify-tui cert add.")
        mapping.rules = [ChallengeRule("*", "dns-01", "manual", {})]
        for hook in ("manual_auth_hook", "manual_cleanup_hook"):
            if params.text(hook):
                mapping.not_mapped.append(f"{hook} (the TXT record is shown and waited for instead; a script "
                                          f"provider can run commands: certify-tui cert rule --provider script)")
    else:
        raise LineageError(f"{name}: certbot's authenticator '{authenticator}' is not supported (webroot, "
                           f"standalone, dns-rfc2136 and manual are): add it by hand with certify-tui cert add.")


def _webroot_rules(name: str, params: ConfSection) -> list[ChallengeRule]:
    """One rule per name whose webroot differs from the most common one, which is the catch-all."""
    by_name = {domain: str(path) for domain, path in params.section("webroot_map").values.items()
               if isinstance(path, str) and path}
    default = params.items("webroot_path")
    if not by_name and not default:
        raise LineageError(f"{name}: the webroot authenticator names no webroot (webroot_path, webroot_map).")
    common = Counter(by_name.values()).most_common(1)[0][0] if by_name else default[-1]
    rules = [ChallengeRule(domain, "http-01", "webroot", {"path": path})
             for domain, path in by_name.items() if path != common]
    return [*rules, ChallengeRule("*", "http-01", "webroot", {"path": common})]


def _rfc2136_credential(name: str, params: ConfSection) -> CredentialPlan:
    ini = params.text("dns_rfc2136_credentials")
    if not ini:
        raise LineageError(f"{name}: dns-rfc2136 without a credentials file (dns_rfc2136_credentials).")
    try:
        values = read_conf(Path(ini))
    except CertbotConfError as exc:
        raise LineageError(f"{name}: its dns-rfc2136 credentials: {exc.message}") from None
    options: dict[str, Any] = {}
    for key, ours in _RFC2136_KEYS.items():
        if values.text(key):
            options[ours] = values.text(key)
    if "tsig_algorithm" in options:
        options["tsig_algorithm"] = str(options["tsig_algorithm"]).lower()
    port = values.text("dns_rfc2136_port")
    if port and port != "53" and "server" in options:
        host = str(options["server"])
        options["server"] = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    stem = re.sub(r"[^A-Za-z0-9._-]", "-", Path(ini).stem) or "rfc2136"
    return CredentialPlan(f"certbot-{stem}"[:64], "rfc2136", options, ini)


def _command_task(command: str, trigger: str, title: str, *, shell: bool = True) -> TaskConfig:
    return TaskConfig("command", {"command": _CERTBOT_ENV + command if shell else command, "shell": shell,
                                  "trigger": trigger}, title)


def _map_hooks(params: ConfSection, scripts: dict[str, list[Path]], mapping: Mapping) -> None:
    """pre hooks run before the order, deploy/renew hooks after a successful renewal, post hooks after every
    attempt; so do the executables in certbot's renewal-hooks/{pre,deploy,post} folders. (certbot runs pre and
    post hooks once per `certbot renew`; here they run for each certificate renewed.)"""
    if params.text("pre_hook"):
        mapping.tasks.append(_command_task(str(params.text("pre_hook")), "before", "certbot pre hook"))
    for script in scripts.get("pre", []):
        mapping.tasks.append(_command_task(_quoted(script), "before", f"certbot pre hook {script.name}"))
    deploy = [params.text("deploy_hook"), params.text("renew_hook")]
    for number, hook in enumerate(dict.fromkeys(h for h in deploy if h), 1):
        mapping.tasks.append(_command_task(hook, "success", f"certbot deploy hook {number}"))
    for script in scripts.get("deploy", []):
        mapping.tasks.append(_command_task(_quoted(script), "success", f"certbot deploy hook {script.name}"))
    if params.text("post_hook"):
        mapping.tasks.append(_command_task(str(params.text("post_hook")), "always", "certbot post hook"))
    for script in scripts.get("post", []):
        mapping.tasks.append(_command_task(_quoted(script), "always", f"certbot post hook {script.name}"))


def _quoted(path: Path) -> str:
    return "'" + str(path).replace("'", "'\\''") + "'"


def _map_renewal(params: ConfSection, top: ConfSection, mapping: Mapping) -> None:
    before = top.text("renew_before_expiry") or params.text("renew_before_expiry")
    if not before:
        return
    match = _DURATION.match(before)
    if not match:
        mapping.not_mapped.append(f"renew_before_expiry '{before}' (not a number of days, weeks or hours: the "
                                  f"default renewal applies)")
        return
    days = float(match.group(1)) * _UNIT_DAYS[(match.group(2) or "d")[0].lower()]
    if days > 0:
        mapping.renewal = RenewalPolicy("days_before", int(days) if days.is_integer() else round(days, 3))


def hook_scripts(folder: Path) -> dict[str, list[Path]]:
    """The executables in certbot's renewal-hooks/{pre,deploy,post} folders (run for every lineage)."""
    found: dict[str, list[Path]] = {}
    for kind in ("pre", "deploy", "post"):
        base = folder / "renewal-hooks" / kind
        if base.is_dir():
            found[kind] = sorted(p for p in base.iterdir() if p.is_file() and p.stat().st_mode & 0o111)
    return found
