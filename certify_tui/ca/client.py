"""One ACME session: a directory, an account key and a network, used by one thread.

Built from the library's public calls (`ClientNetwork.post`, `ClientV2.get_directory`,
`answer_challenge`, `new_account`) plus our own order and polling code.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import josepy as jose
import requests
from acme import client as acme_client
from acme import jws, messages

from certify_tui.ca import challenge_types  # noqa: F401 - registers tls-alpn-01 before any authz is read
from certify_tui.ca.network import RetryingNetwork, jwk_and_alg
from certify_tui.ca.problems import translate
from certify_tui.errors import CertifyError, OperationError, UsageError
from certify_tui.keys import PrivateKey

PEM_CHAIN = "application/pem-certificate-chain"

_T = TypeVar("_T")


class NewOrderRequest(messages.NewOrder):
    """newOrder with ARI's `replaces` (RFC 9773), which the library does not send."""

    replaces: str | None = jose.field("replaces", omitempty=True)


@dataclass
class Order:
    uri: str
    body: messages.Order
    authorizations: list[tuple[str, messages.Authorization]] = field(default_factory=list)


def _env_ca_bundle() -> str | None:
    """The CA bundle requests would take from the environment (corporate TLS-inspecting proxies)."""
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or None


class AcmeSession:
    def __init__(self, directory_url: str, account_key: PrivateKey, *, ca_bundle: str | None = None,
                 account_uri: str | None = None, timeout: int = 30) -> None:
        self.directory_url = directory_url
        jwk, alg = jwk_and_alg(account_key)
        self.jwk = jwk
        self.net = RetryingNetwork(jwk, alg=alg, verify_ssl=ca_bundle or _env_ca_bundle() or True,
                                   timeout=timeout)
        # requests re-reads proxy variables from the environment on every call (~0.7 ms each); read them
        # once for the CA's URL (no_proxy honoured) and stop the per-call lookups.
        self.net.session.proxies.update(requests.utils.get_environ_proxies(directory_url))
        self.net.session.trust_env = False
        if account_uri:
            self.net.account = messages.RegistrationResource(uri=account_uri, body=messages.Registration())
        self.directory = self._call(lambda: acme_client.ClientV2.get_directory(directory_url, self.net))
        self.client = acme_client.ClientV2(self.directory, self.net)

    # -- directory facts -------------------------------------------------------------------------
    @property
    def meta(self) -> Any:
        return getattr(self.directory, "meta", None)

    @property
    def terms_of_service(self) -> str | None:
        return getattr(self.meta, "terms_of_service", None) if self.meta else None

    @property
    def requires_eab(self) -> bool:
        return bool(self.meta and getattr(self.meta, "external_account_required", False))

    @property
    def profiles(self) -> dict[str, str]:
        return dict(getattr(self.meta, "profiles", None) or {}) if self.meta else {}

    # -- account ---------------------------------------------------------------------------------
    def register(self, email: str | None, *, agree_tos: bool, eab_kid: str | None = None,
                 eab_hmac_key: str | None = None) -> messages.RegistrationResource:
        eab = None
        if eab_kid or eab_hmac_key:
            if not (eab_kid and eab_hmac_key):
                raise UsageError("External Account Binding needs both --eab-kid and --eab-hmac-key.")
            try:
                eab = messages.ExternalAccountBinding.from_data(
                    account_public_key=self.jwk.public_key(), kid=eab_kid, hmac_key=eab_hmac_key,
                    directory=self.directory)
            except (ValueError, jose.DeserializationError) as exc:
                raise UsageError("The EAB HMAC key is not valid base64url.") from exc
        elif self.requires_eab:
            raise UsageError(
                "This CA requires External Account Binding: pass --eab-kid and --eab-hmac-key "
                "from your account page at the CA.")
        registration = messages.NewRegistration.from_data(
            email=email, terms_of_service_agreed=agree_tos, external_account_binding=eab)
        return self._call(lambda: self.client.new_account(registration))

    def deactivate(self) -> None:
        regr = self._registered("deactivate it")
        self._call(lambda: self.client.deactivate_registration(regr))

    def update_contact(self, email: str) -> None:
        """Replace the account's contact at the CA (RFC 8555 7.3.2)."""
        regr = self._registered("change its contact")
        update = messages.Registration.from_data(email=email)
        self._call(lambda: self.client.update_registration(regr, update))

    def change_key(self, new_key: PrivateKey) -> None:
        """Roll the account over to `new_key` (RFC 8555 7.3.5): an inner JWS signed by the new key, naming the
        account and its old key, posted to keyChange signed by the old one. The library (acme 5.x) has no
        call for it. Afterwards only `new_key` signs for this account: the caller must store it."""
        regr = self._registered("change its key")
        url = self._directory_url("keyChange", "account key changes")
        new_jwk, new_alg = jwk_and_alg(new_key)
        payload = {"account": regr.uri, "oldKey": self.jwk.public_key().to_json()}
        inner = jws.JWS.sign(json.dumps(payload).encode(), key=new_jwk, alg=new_alg, nonce=None, url=url)
        self.post(url, inner)

    def revoke(self, cert_pem: bytes, reason_code: int) -> None:
        """Revoke the certificate in `cert_pem` (RFC 8555 7.6) with an RFC 5280 reason code.

        Signed by this session's key: an account session signs with the account key (kid header); a
        session made without an account URL over the certificate's own key sends that key as a jwk
        header, which the CA accepts from whoever holds the key (the keyCompromise case)."""
        from cryptography import x509

        self._directory_url("revokeCert", "revocation")
        try:
            cert = x509.load_pem_x509_certificate(cert_pem)
        except ValueError as exc:
            raise OperationError(f"The certificate to revoke is not a readable PEM certificate: {exc}.") from exc
        self._call(lambda: self.client.revoke(cert, reason_code))

    def _registered(self, what: str) -> messages.RegistrationResource:
        regr = self.net.account
        if regr is None:
            raise OperationError(f"This account has no URL at the CA (it was never registered): cannot {what}.")
        return regr

    def _directory_url(self, name: str, what: str) -> str:
        try:
            return str(self.directory[name])
        except KeyError:
            raise OperationError(f"This CA does not support {what} (its directory has no {name}).") from None

    # -- orders ----------------------------------------------------------------------------------
    def post_as_get(self, url: str, **kwargs: Any) -> requests.Response:
        return self._call(lambda: self.net.post(url, None, new_nonce_url=self.directory["newNonce"], **kwargs))

    def post(self, url: str, obj: Any) -> requests.Response:
        return self._call(lambda: self.net.post(url, obj, new_nonce_url=self.directory["newNonce"]))

    def new_order(self, names: list[str], *, profile: str | None = None, replaces: str | None = None) -> Order:
        identifiers = [messages.Identifier(typ=messages.IDENTIFIER_FQDN, value=n) for n in names]
        kwargs: dict[str, Any] = {"identifiers": identifiers}
        if profile:
            kwargs["profile"] = profile
        if replaces:
            kwargs["replaces"] = replaces
        response = self.post(self.directory["newOrder"], NewOrderRequest(**kwargs))
        body = messages.Order.from_json(response.json())
        order = Order(uri=response.headers.get("Location", ""), body=body)
        for url in body.authorizations:
            order.authorizations.append((url, self.fetch_authorization(url)[0]))
        return order

    def load_order(self, url: str) -> Order:
        """An existing order with its authorizations (to resume after a crash)."""
        body, _ = self.fetch_order(url)
        order = Order(uri=url, body=body)
        for authz_url in body.authorizations:
            order.authorizations.append((authz_url, self.fetch_authorization(authz_url)[0]))
        return order

    def fetch_authorization(self, url: str) -> tuple[messages.Authorization, requests.Response]:
        response = self.post_as_get(url)
        return messages.Authorization.from_json(response.json()), response

    def fetch_order(self, url: str) -> tuple[messages.Order, requests.Response]:
        response = self.post_as_get(url)
        return messages.Order.from_json(response.json()), response

    def answer(self, challenge: messages.ChallengeBody, response: Any) -> None:
        self._call(lambda: self.client.answer_challenge(challenge, response))

    def begin_finalize(self, order: Order, csr_pem: bytes) -> messages.Order:
        from cryptography import x509

        csr = x509.load_pem_x509_csr(csr_pem)
        response = self.post(order.body.finalize, messages.CertificateRequest(csr=csr))
        return messages.Order.from_json(response.json())

    def download_chains(self, certificate_url: str) -> list[str]:
        """The default chain first, then the alternates the CA offers (Link rel="alternate")."""
        # Passing headers replaces the library's default, so Content-Type must be given again.
        headers = {"Accept": PEM_CHAIN, "Content-Type": self.net.JOSE_CONTENT_TYPE}
        response = self.post_as_get(certificate_url, headers=headers)
        chains = [response.text]
        for link in requests.utils.parse_header_links(response.headers.get("Link", "")):
            if link.get("rel") == "alternate" and link.get("url"):
                chains.append(self.post_as_get(link["url"], headers=dict(headers)).text)
        return chains

    def _call(self, fn: Callable[[], _T]) -> _T:
        try:
            return fn()
        except CertifyError:
            raise
        except Exception as exc:  # noqa: BLE001 - every library failure becomes one readable error
            last = self.net.last_response if hasattr(self, "net") else None
            retry_after = last.headers.get("Retry-After") if last is not None else None
            raise translate(exc, url=self.directory_url, retry_after=retry_after) from exc
