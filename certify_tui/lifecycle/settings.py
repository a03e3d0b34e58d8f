"""Application settings: declared like plug-in parameters so every face can edit them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from certify_tui.errors import UsageError, about
from certify_tui.model import ChallengeRule
from certify_tui.notify_channels import SMTP_SECURITY
from certify_tui.plugins import Param, Plugin
from certify_tui.secrets_box import seal
from certify_tui.store.lookup_memo import remembered
from certify_tui.store.models import Setting
from certify_tui.store.sealed import open_options, open_rules_json, seal_rules_json


class AppSettings(Plugin):
    """Not a plug-in, but the same contract: declared, validated, rendered as a form."""

    id = "settings"
    title = "Settings"
    params = (
        Param("renewal_percent", "Renew at % of lifetime", type="int", default=75, minimum=1, maximum=99,
              help="New certificates renew once this share of their lifetime has passed (75: day 67 of 90)."),
        Param("check_interval_minutes", "Check every (minutes)", type="int", default=5, minimum=1, maximum=1440,
              help="How often the renewal worker looks for due certificates."),
        Param("pool_size", "Parallel renewals", type="int", default=4, minimum=1, maximum=64,
              help="How many certificates renew at once."),
        Param("keep_versions", "Archived versions kept", type="int", default=10, minimum=1, maximum=1000,
              help="Older archived certificate versions are pruned daily."),
        Param("notify_urls", "Notification URLs", type="str", secret=True, default="",
              help="Apprise URLs separated by spaces or commas, e.g. "
                   "mailtos://user:pass@smtp.example.com?to=ops@example.com for email, "
                   "json://host/path for a webhook, slack://... for chat. Empty: no notifications."),
        Param("notify_on_success", "Notify on success too", type="bool", default=False,
              help="Also send a notification when a renewal succeeds (failures are always sent)."),
        Param("alert_failures", "Alert after failures in a row", type="int", default=2, minimum=1, maximum=100,
              help="Send one alert when a certificate's renewal has failed this many times in a row, and one "
                   "more when it recovers; never one per retry."),
        Param("alert_expiry_days", "Warn days before expiry", type="str", default="14,7,3,1",
              help="Warn once at each of these days before expiry when the certificate is overdue for "
                   "renewal (e.g. 14,7,3,1); off: no expiry warnings."),
        Param("alert_deploy_failures", "Alert on failed deployments", type="bool", default=True,
              help="Send one alert when a new certificate was issued but its deployment failed."),
        Param("alert_digest", "Digest", type="choice", default="off", choices=("off", "daily", "weekly"),
              help="A summary of every certificate (counts, soonest expiries, what failed), sent daily or weekly "
                   "by whatever runs renewals."),
        Param("notify_smtp_host", "Email: SMTP server", default="",
              help="Send notifications by email through this SMTP server, e.g. smtp.example.com. Empty: no email "
                   "(certify-tui settings notify email sets all the email fields at once)."),
        Param("notify_smtp_port", "Email: SMTP port", type="int", default=0, minimum=0, maximum=65535,
              help="0: the usual port for the security (587 STARTTLS, 465 TLS, 25 plain)."),
        Param("notify_smtp_security", "Email: security", type="choice", default="starttls", choices=SMTP_SECURITY,
              help="starttls: upgrade to TLS after connecting (port 587); tls: TLS from the start (465); "
                   "plain: no encryption (a local relay only)."),
        Param("notify_smtp_credential", "Email: login credential", default="",
              help="The stored credential with the SMTP user and password (certify-tui settings notify email "
                   "--user U --password @FILE stores one). Empty: no login."),
        Param("notify_email_from", "Email: from", default="",
              help="The sender address. Empty: certify-tui@ this host's name."),
        Param("notify_email_to", "Email: to", default="",
              help="Recipients separated by commas. Empty: the ACME accounts' contact addresses."),
        Param("notify_webhook_url", "Webhook URL", secret=True, default="",
              help="Each notification is POSTed here as JSON {title, message, type, host, source}. "
                   "Empty: no webhook."),
        Param("nginx_config", "nginx configuration", type="path", default="", exists="file", keywords=("off",),
              help="The nginx main configuration file whose sites certificates deploy to, e.g. "
                   "/etc/nginx/nginx.conf. Empty: discovered from the installed nginx (nginx -V); off: no nginx."),
        Param("apache_config", "Apache configuration", type="path", default="", exists="file", keywords=("off",),
              help="The Apache main configuration file, e.g. /etc/apache2/apache2.conf or "
                   "/etc/httpd/conf/httpd.conf. Empty: discovered (apachectl -V, the usual paths); off: no Apache."),
        Param("https_port", "HTTPS port for new listeners", type="int", default=443, minimum=1, maximum=65535,
              help="The port the add-or-update deployment binding gives an HTTP-only site's new TLS listener."),
        Param("fallback_accounts", "Fallback accounts (other CAs)", type="str", default="",
              help="Accounts (ids or emails, in order, separated by commas) a certificate fails over to after "
                   "repeated CA-side failures, when it lists none of its own (cert set --fallback-account)."),
        Param("failover_after", "Fail over after (CA-side failures)", type="int", default=3, minimum=1, maximum=100,
              help="Consecutive CA-side failures (unreachable, 5xx, serverInternal; never validation failures) "
                   "before the next attempt uses the next fallback account."),
    )


def split_accounts(text: str) -> list[str]:
    """The account references of a list setting: ids or emails separated by commas or spaces."""
    return [ref for ref in text.replace(",", " ").split() if ref]


def get_settings() -> dict[str, Any]:
    stored = open_options({s.key: s.value for s in Setting.select()})  # secrets sealed at rest
    known = {p.key for p in AppSettings.params}
    return AppSettings.validate_options({k: v for k, v in stored.items() if k in known})


def update_settings(changes: dict[str, Any]) -> dict[str, Any]:
    values = AppSettings.validate_options({**get_settings(), **changes})
    # Only the changed keys are checked as input: a stored path whose file went away since does not
    # block changing another setting.
    values.update(AppSettings.check_input({key: values[key] for key in changes if key in values}))
    if "fallback_accounts" in changes:
        from certify_tui.lifecycle.accounts import find_account

        with about("fallback_accounts"):  # each a known account, stored by email (a bundle moves it) unless ambiguous
            values["fallback_accounts"] = ", ".join(dict.fromkeys(
                _portable_ref(find_account(ref)) for ref in split_accounts(values["fallback_accounts"])))
    secret = {p.key for p in AppSettings.params if p.secret}
    with Setting._meta.database.atomic():
        for key, plain in values.items():
            value = seal(plain) if key in secret and isinstance(plain, str) and plain else plain
            Setting.insert(key=key, value=value, updated_at=datetime.now(UTC)).on_conflict(
                conflict_target=[Setting.key], update={Setting.value: value,
                                                       Setting.updated_at: datetime.now(UTC)}).execute()
    return values


def _portable_ref(account: Any) -> str:
    """The account's email when that names it alone (the same on another machine), else its id."""
    from certify_tui.lifecycle.accounts import find_account

    try:
        return str(account.email) if find_account(account.email).id == account.id else str(account.id)
    except UsageError:  # the email has accounts at several CAs
        return str(account.id)


DEFAULT_RULE_KEY = "defaults.challenge_rule"


def get_default_rule() -> ChallengeRule:
    """The rule new certificates start with: the stored choice, else http-01 on the built-in listener."""
    return remembered("default rule", _get_default_rule)  # once in a bulk import


def _get_default_rule() -> ChallengeRule:
    from certify_tui.challenges.rules import check_rule, make_rule

    row = Setting.get_or_none(Setting.key == DEFAULT_RULE_KEY)
    if row is not None and row.value:
        stored = open_rules_json([row.value])[0]
        return check_rule(replace(ChallengeRule.from_json(stored), pattern="*"), given=False)
    return make_rule("http-01")


def set_default_rule(challenge: str, provider: str | None, options: dict[str, Any] | None) -> ChallengeRule:
    from certify_tui.challenges.rules import make_rule

    rule = make_rule(challenge, provider, options, "*")
    stored = seal_rules_json([rule.to_json()])[0]  # its secret options sealed, like a certificate's
    Setting.insert(key=DEFAULT_RULE_KEY, value=stored, updated_at=datetime.now(UTC)).on_conflict(
        conflict_target=[Setting.key], update={Setting.value: stored, Setting.updated_at: datetime.now(UTC)}
    ).execute()
    return rule
