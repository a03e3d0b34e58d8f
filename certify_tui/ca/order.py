"""Running one ACME order: publish answers, let the CA validate, finalise, download.

Polling is our own (see certify_tui/polling.py): the library's fixed one-second sleeps would set the
pace of every certificate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from acme import challenges as acme_challenges
from acme import messages

from certify_tui.ca.client import AcmeSession, Order
from certify_tui.ca.problems import describe_problem
from certify_tui.challenges.base import ChallengeProvider, ChallengeTask
from certify_tui.errors import CAError, CertifyError, UsageError, ValidationFailed
from certify_tui.events import RequestLog
from certify_tui.keys import PrivateKey, make_csr, split_pem_chain
from certify_tui.polling import Poller

ProviderFor = Callable[[str], ChallengeProvider]


@dataclass(frozen=True)
class IssuedChain:
    fullchain_pem: bytes
    order_uri: str
    chain_issuer: str  # issuer CN at the top of the chosen chain


@dataclass
class _Pending:
    url: str
    identifier: str
    challenge: messages.ChallengeBody
    response: acme_challenges.ChallengeResponse
    task: ChallengeTask
    provider: ChallengeProvider


def issue(session: AcmeSession, names: list[str], key: PrivateKey, provider_for: ProviderFor, *,
          log: RequestLog, profile: str | None = None, replaces: str | None = None,
          preferred_chain: str | None = None, timeout: float = 300.0, resume_url: str | None = None,
          on_order: Callable[[str], None] | None = None) -> IssuedChain:
    """Run an order to a downloaded chain; `resume_url` picks up an order a crashed run left behind."""
    order = _resume(session, resume_url, names, log) if resume_url else None
    if order is not None:
        try:
            return _complete(session, order, names, key, provider_for, log, preferred_chain, timeout)
        except _StaleAnswerFailed as exc:
            log.info(f"the resumed order failed where the stopped run had answered ({exc}); starting a new one")
    check_profile(session, profile)
    order = _new_order(session, names, profile, replaces, log)
    if on_order is not None:
        on_order(order.uri)  # persisted before any challenge is answered, so a crash can resume it
    return _complete(session, order, names, key, provider_for, log, preferred_chain, timeout)


class _StaleAnswerFailed(ValidationFailed):
    """A resumed order failed on a challenge the stopped run had answered: the CA may have looked while no
    process served the answer, which says nothing about the names. Worth one new order, never a failure."""


def _complete(session: AcmeSession, order: Order, names: list[str], key: PrivateKey, provider_for: ProviderFor,
              log: RequestLog, preferred_chain: str | None, timeout: float) -> IssuedChain:
    if order.body.status in (messages.STATUS_VALID, messages.STATUS_PROCESSING, messages.STATUS_READY):
        return _finalize(session, order, names, key, log, preferred_chain, timeout)
    pending = _prepare_tasks(session, order, provider_for, log)
    inherited = {item.url for item in pending if item.challenge.status != messages.STATUS_PENDING}
    published: list[tuple[ChallengeProvider, list[ChallengeTask]]] = []
    try:
        for provider, tasks in _group(pending):
            log.check_cancelled()
            provider.prepare(tasks, log)
            published.append((provider, tasks))
        for item in pending:
            if item.url in inherited:
                # A resumed order: this challenge was answered before the crash and the CA is on it.
                log.step("validation", "already answered; the CA is validating", item.identifier)
                continue
            session.answer(item.challenge, item.response)
            log.step("validation", f"{item.task.challenge_type} answered; the CA is validating", item.identifier)
        failed = _wait_for_authorizations(session, pending, log, timeout)
        if failed:
            reasons = "; ".join(failed.values())
            if inherited & failed.keys():
                raise _StaleAnswerFailed(reasons)
            raise ValidationFailed("Validation failed: " + reasons)
    finally:
        for provider, tasks in published:
            try:
                provider.cleanup(tasks, log)
            except Exception as exc:  # noqa: BLE001 - cleanup trouble must not hide the order's outcome
                log.step("cleanup", f"could not remove a challenge answer: {exc}", ok=False)
    return _finalize(session, order, names, key, log, preferred_chain, timeout)


def check_profile(session: AcmeSession, profile: str | None) -> None:
    if not profile:
        return
    offered = session.profiles
    if not offered:
        raise UsageError(f"This CA offers no certificate profiles, so profile '{profile}' cannot be used.")
    if profile not in offered:
        raise UsageError(f"This CA has no profile '{profile}'; it offers: {', '.join(sorted(offered))}.")


def _new_order(session: AcmeSession, names: list[str], profile: str | None, replaces: str | None,
               log: RequestLog) -> Order:
    log.step("order", f"new order for {', '.join(names)}" + (f" (profile {profile})" if profile else "")
             + (" replacing the current certificate (ARI)" if replaces else ""))
    try:
        order = session.new_order(names, profile=profile, replaces=replaces)
    except CAError as exc:
        if not replaces or exc.problem_type in ("rateLimited", "badNonce"):
            raise
        # A CA may refuse `replaces` (already replaced, unknown serial): the renewal matters more than the hint.
        log.info(f"the CA refused 'replaces' ({exc.message}); ordering without it")
        order = session.new_order(names, profile=profile)
    log.step("order", "order created", ok=True)
    return order


def _resume(session: AcmeSession, url: str, names: list[str], log: RequestLog) -> Order | None:
    """The unfinished order at `url` if it is still usable for these names, else None."""
    try:
        order = session.load_order(url)
    except CertifyError as exc:
        log.info(f"the unfinished order could not be read ({exc.message}); starting a new one")
        return None
    ordered = sorted(str(i.value) for i in order.body.identifiers)
    wanted = sorted(n[2:] if n.startswith("*.") else n for n in names)
    if order.body.status in (messages.STATUS_INVALID, "expired", "deactivated") or ordered != wanted:
        log.info(f"the unfinished order is {getattr(order.body.status, 'name', order.body.status)}; "
                 "starting a new one")
        return None
    log.step("order", f"resuming the unfinished order ({getattr(order.body.status, 'name', order.body.status)})",
             ok=True)
    return order


def _prepare_tasks(session: AcmeSession, order: Order, provider_for: ProviderFor,
                   log: RequestLog) -> list[_Pending]:
    pending: list[_Pending] = []
    for url, authz in order.authorizations:
        domain = str(authz.identifier.value)
        identifier = f"*.{domain}" if authz.wildcard else domain
        if authz.status == messages.STATUS_VALID:
            log.step("authorization", "already valid at the CA (reused)", identifier, ok=True)
            continue
        provider = provider_for(identifier)
        wanted = provider.challenge_type
        challenge = next((c for c in authz.challenges if c.chall.typ == wanted), None)
        if challenge is None:
            offered = ", ".join(sorted(str(getattr(c.chall, "typ", "unknown")) for c in authz.challenges))
            raise CAError(f"{identifier}: the CA does not offer {wanted} for this name (it offers {offered}).")
        response = challenge.chall.response(session.jwk)
        key_authorization = response.key_authorization
        validation = challenge.chall.validation(session.jwk) if wanted == "dns-01" else key_authorization
        token = challenge.chall.encode("token")
        task = ChallengeTask(identifier, domain, wanted, token, key_authorization, validation)
        pending.append(_Pending(url, identifier, challenge, response, task, provider))
        log.step("authorization", f"pending; will answer with {wanted} via {provider.describe()}", identifier)
    return pending


def _group(pending: list[_Pending]) -> list[tuple[ChallengeProvider, list[ChallengeTask]]]:
    groups: dict[int, tuple[ChallengeProvider, list[ChallengeTask]]] = {}
    for item in pending:
        groups.setdefault(id(item.provider), (item.provider, []))[1].append(item.task)
    return list(groups.values())


def _wait_for_authorizations(session: AcmeSession, pending: list[_Pending], log: RequestLog,
                             timeout: float) -> dict[str, str]:
    """Poll until every authorization is decided; the failed ones' reasons by authorization URL."""
    waiting = {item.url: item for item in pending}
    failures: dict[str, str] = {}
    poller = Poller("the CA to validate", timeout)
    while waiting:
        retry_after = None
        for url, item in list(waiting.items()):
            authz, response = session.fetch_authorization(url)
            if authz.status in (messages.STATUS_PENDING, messages.STATUS_PROCESSING):
                retry_after = response.headers.get("Retry-After") or retry_after
                continue
            del waiting[url]
            if authz.status == messages.STATUS_VALID:
                log.step("validation", "validated", item.identifier, ok=True)
                continue
            problem = next((c.error for c in authz.challenges if c.error is not None), None)
            reason = describe_problem(problem, item.identifier) if problem else (
                f"{item.identifier}: authorization is {authz.status}")
            log.step("validation", reason, item.identifier, ok=False)
            failures[url] = reason
        if waiting:
            log.check_cancelled()
            poller.wait(retry_after)
    return failures


def _finalize(session: AcmeSession, order: Order, names: list[str], key: PrivateKey, log: RequestLog,
              preferred_chain: str | None, timeout: float) -> IssuedChain:
    body = order.body
    if body.status in (messages.STATUS_PENDING, messages.STATUS_READY):
        log.step("finalize", "sending the certificate signing request")
        body = session.begin_finalize(order, make_csr(key, names))
    poller = Poller("the CA to issue the certificate", timeout)
    while body.status != messages.STATUS_VALID or not body.certificate:
        if body.status == messages.STATUS_INVALID:
            reason = describe_problem(body.error) if body.error else "the CA marked the order invalid"
            raise CAError(f"The CA refused to issue: {reason}")
        log.check_cancelled()
        retry_after = None
        if body.status == messages.STATUS_PROCESSING:
            retry_after = getattr(session.net.last_response, "headers", {}).get("Retry-After")
        poller.wait(retry_after)
        body, _ = session.fetch_order(order.uri)
    log.step("finalize", "certificate issued", ok=True)
    log.step("download", "downloading the certificate chain")
    chains = session.download_chains(body.certificate)
    chosen, issuer = choose_chain(chains, preferred_chain)
    if preferred_chain and issuer != preferred_chain:
        log.info(f"no chain offered by '{preferred_chain}'; using the default chain ({issuer})")
    log.step("download", f"downloaded ({len(chains)} chain(s) offered, using {issuer})", ok=True)
    return IssuedChain(chosen.encode(), order.uri, issuer)


def choose_chain(chains: list[str], preferred: str | None) -> tuple[str, str]:
    """The chain whose top certificate was issued by `preferred` (by common name), else the default."""
    from cryptography import x509

    from certify_tui.keys import issuer_common_name

    def top_issuer(chain: str) -> str:
        blocks = split_pem_chain(chain)
        return issuer_common_name(x509.load_pem_x509_certificate(blocks[-1])) if blocks else ""

    if preferred:
        wanted = preferred.strip().lower()
        for chain in chains:
            if top_issuer(chain).lower() == wanted:
                return chain, top_issuer(chain)
        for chain in chains:  # fall back to any certificate in the chain naming that issuer
            for block in split_pem_chain(chain):
                if issuer_common_name(x509.load_pem_x509_certificate(block)).lower() == wanted:
                    return chain, top_issuer(chain)
    return chains[0], top_issuer(chains[0])
