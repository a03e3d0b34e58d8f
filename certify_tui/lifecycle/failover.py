"""CA failover and rate limits: which account (so which CA) the next attempt uses, and when it may run.

Decision table (K: the failover_after setting, default 3; the chain: the primary account, then the certificate's
fallback accounts, else the global default list):

- a CA-side failure (unreachable, timeout, HTTP 5xx, serverInternal) counts 1 in ca_failure_count; after K of them
  in a row the next attempt uses the next account of the chain, at once; K more, the one after (then back round);
- a validation failure never fails over: another CA would see the same DNS or web server; it ends the streak;
- a rateLimited problem is no failure count: the next attempt waits until its Retry-After (rate_limited_until, and
  for the account in a Setting row when the limit is the account's), and fails over only when that is later than
  the time left before expiry minus a margin;
- a success records the issuing account on the version and resets the streak, so the next renewal uses the primary.
ARI and `replaces` are used only with the CA that issued the certificate being replaced (see request._replaces).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from certify_tui.ca.problems import failure_kind
from certify_tui.errors import CAError, CertifyError
from certify_tui.lifecycle.settings import get_settings, split_accounts
from certify_tui.polling import retry_after_seconds
from certify_tui.store.models import Account, CertificateVersion, ManagedCertificate, Setting

log = logging.getLogger("certify_tui")

DEFAULT_RATE_LIMIT_WAIT = timedelta(hours=1)  # a rateLimited problem without Retry-After
RATE_LIMIT_MARGIN = timedelta(days=1)  # at most; a tenth of the lifetime for short-lived certificates
ACCOUNT_LIMIT_KEY = "rate_limit.account.{}"
# Words of the CA's detail that say the limit is the account's, not these names' (Let's Encrypt: "too many new
# orders recently", "too many registrations"; other limits name the identifiers).
_ACCOUNT_WIDE = ("new orders", "account", "registrations")


@dataclass(frozen=True)
class Attempt:
    account: Account
    position: int  # 0: the primary, 1: the first fallback...
    reason: str | None = None  # why it is not the primary


def account_chain(cert: ManagedCertificate) -> list[Account]:
    """The primary account, then the fallback accounts in order (the certificate's, else the global default);
    accounts that no longer exist or are not valid are left out."""
    primary: Account = cert.account
    refs = [str(i) for i in (cert.fallback_accounts or [])] or split_accounts(get_settings()["fallback_accounts"])
    chain, seen = [primary], {primary.id}
    for ref in refs:
        account = Account.get_or_none(Account.id == int(ref)) if ref.isdigit() else (
            Account.get_or_none(Account.email == ref))
        if account is None or account.status != "valid" or account.id in seen:
            continue
        seen.add(account.id)
        chain.append(account)
    return chain


def attempt_account(cert: ManagedCertificate) -> Attempt:
    """The account the next attempt orders with."""
    chain = account_chain(cert)
    after = int(get_settings()["failover_after"])
    position = ((cert.ca_failure_count or 0) // after) % len(chain)
    if position == 0:
        return Attempt(chain[0], 0)
    primary = chain[0]
    return Attempt(chain[position], position,
                   f"failing over to {chain[position].email} at {ca_of(chain[position])} (fallback {position}) "
                   f"after {cert.ca_failure_count} consecutive CA-side failures; {primary.email} at "
                   f"{ca_of(primary)} is used again at the next normal renewal")


def ca_of(account: Account) -> str:
    return str(account.ca_name or account.directory_url)


def issuing_account(cert: ManagedCertificate) -> Account:
    """The account that issued the current version (the primary when unknown: versions before schema 7)."""
    version = (CertificateVersion.select(CertificateVersion.account_id).where(CertificateVersion.certificate == cert)
               .order_by(CertificateVersion.version.desc()).first())
    if version is not None and version.account_id is not None:
        account = Account.get_or_none(Account.id == version.account_id)
        if account is not None:
            return account
    primary: Account = cert.account
    return primary


def same_ca(url: str, directory_url: str) -> bool:
    """Whether `url` (an order, a certificate) belongs to the CA of `directory_url`."""
    return urlsplit(url).netloc.lower() == urlsplit(directory_url).netloc.lower()


def failover_view(cert: ManagedCertificate, version: CertificateVersion | None) -> dict[str, Any]:
    """The fallback accounts (emails, in order), the CA-side failure streak, a rate limit, who issued it."""
    by_id = {a.id: a for a in Account.select().where(Account.id.in_(
        [*(cert.fallback_accounts or []), *([version.account_id] if version and version.account_id else [])]))}
    issuer = by_id.get(version.account_id) if version is not None and version.account_id else None
    return {
        "fallback_accounts": [by_id[i].email if i in by_id else f"#{i} (removed)" for i in cert.fallback_accounts or []],
        "ca_failure_count": cert.ca_failure_count,
        "rate_limited_until": cert.rate_limited_until.isoformat() if cert.rate_limited_until else None,
        "issued_by": ({"account": issuer.email, "ca": issuer.ca_name or issuer.directory_url}
                      if issuer is not None else None),
    }


# -- rate limits ----------------------------------------------------------------------------------------------

def rate_limit_end(error: CertifyError, now: datetime) -> datetime:
    wait = retry_after_seconds(getattr(error, "retry_after", None))
    return now + (timedelta(seconds=wait) if wait is not None else DEFAULT_RATE_LIMIT_WAIT)


def account_limited_until(account: Account, now: datetime) -> datetime | None:
    """The end of an account-wide rate limit still running, else None."""
    row = Setting.get_or_none(Setting.key == ACCOUNT_LIMIT_KEY.format(account.id))
    if row is None or not row.value:
        return None
    try:
        until = datetime.fromisoformat(str(row.value))
    except ValueError:
        return None
    return until if until > now else None


def _remember_account_limit(account: Account, until: datetime) -> None:
    key = ACCOUNT_LIMIT_KEY.format(account.id)
    Setting.insert(key=key, value=until.isoformat(), updated_at=datetime.now(UTC)).on_conflict(
        conflict_target=[Setting.key], update={Setting.value: until.isoformat(),
                                               Setting.updated_at: datetime.now(UTC)}).execute()


def still_limited(cert: ManagedCertificate, account: Account, now: datetime) -> CAError | None:
    """The error to give instead of asking a CA that told us to wait (the certificate's or the account's limit)."""
    ends = [t for t in (cert.rate_limited_until, account_limited_until(account, now)) if t is not None and t > now]
    if not ends:
        return None
    until = max(ends)
    return CAError(f"Rate limited by the CA ({ca_of(account)}) until {until:%Y-%m-%d %H:%M:%S} UTC: not asking it "
                   f"again before then.", problem_type="rateLimited",
                   retry_after=str(max(1, int((until - now).total_seconds()))))


def _margin(cert: ManagedCertificate) -> timedelta:
    if cert.not_before and cert.not_after:
        lifetime: timedelta = cert.not_after - cert.not_before
        return min(RATE_LIMIT_MARGIN, lifetime / 10)
    return RATE_LIMIT_MARGIN


# -- recording an attempt's failure ------------------------------------------------------------------------------

def record_failure(cert: ManagedCertificate, error: CertifyError, now: datetime) -> bool:
    """Update the failover and rate-limit state for a failed attempt (not saved). True when the failure was a
    rate limit: the caller then counts no failure and schedules nothing more (next_attempt is set here)."""
    kind = failure_kind(error)
    attempt = attempt_account(cert)  # as the failed attempt chose it: the state is not changed yet
    if kind == "rate-limited":
        _record_rate_limit(cert, error, attempt, now)
        return True
    if kind == "ca-side":
        cert.ca_failure_count = (cert.ca_failure_count or 0) + 1
    elif kind == "validation":
        cert.ca_failure_count = 0  # not the CA's fault: the streak of CA-side failures is broken
    return False


def fails_over_now(cert: ManagedCertificate) -> bool:
    """Whether the failure just recorded moved the next attempt to another account (it then runs at once)."""
    after = int(get_settings()["failover_after"])
    count = cert.ca_failure_count or 0
    return count > 0 and count % after == 0 and len(account_chain(cert)) > 1


def _record_rate_limit(cert: ManagedCertificate, error: CertifyError, attempt: Attempt, now: datetime) -> None:
    until = rate_limit_end(error, now)
    if cert.rate_limited_until is not None and cert.rate_limited_until > until:
        until = cert.rate_limited_until  # asked (or refused here) while limited: the CA's time stands
    if any(word in error.message.lower() for word in _ACCOUNT_WIDE):
        _remember_account_limit(attempt.account, until)
    cert.last_error = error.message
    chain = account_chain(cert)
    if cert.not_after is not None and until > cert.not_after - _margin(cert) and len(chain) > 1:
        # Waiting would let it expire: the next account now, the limited one is remembered for the account.
        _remember_account_limit(attempt.account, until)
        after = int(get_settings()["failover_after"])
        cert.ca_failure_count = ((cert.ca_failure_count or 0) // after + 1) * after
        cert.rate_limited_until = None
        cert.next_attempt = now
        cert.renew_reason = (f"rate limited by {ca_of(attempt.account)} until {until:%Y-%m-%d %H:%M} UTC, past "
                             f"expiry: failing over to {attempt_account(cert).account.email}")
        log.info("%s: %s", cert.name, cert.renew_reason)
        return
    cert.rate_limited_until = until
    cert.next_attempt = until
    cert.renew_reason = f"rate limited until {until:%Y-%m-%d %H:%M:%S} UTC"


def record_success(cert: ManagedCertificate) -> None:
    """A version was issued: back to the primary at the next renewal, no rate limit pending (not saved)."""
    cert.ca_failure_count = 0
    cert.rate_limited_until = None
