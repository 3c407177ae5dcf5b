"""The OpenID provider's endpoints, from its discovery document.

``CT_SSO_SYSTEM_BASE_URL`` is the provider's issuer; its endpoints come from
``<issuer>/.well-known/openid-configuration`` (OpenID Connect Discovery 1.0), read
once and kept for the life of the process. A provider that cannot be reached at
startup is a warning, not a failure: the document is asked for again whenever a
sign-in or a readiness probe needs it, so the server recovers by itself.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import requests
from django.conf import settings

from ctserver.config import Sso

logger = logging.getLogger("ctserver.sso")

WELL_KNOWN = "/.well-known/openid-configuration"


class ProviderUnavailable(Exception):
    """The OpenID provider cannot be used now; the message says why, for people."""


@dataclass(frozen=True)
class ProviderEndpoints:
    issuer: str
    authorization: str
    token: str
    userinfo: str | None
    jwks: str
    end_session: str | None


def parse(document: object, sso: Sso) -> ProviderEndpoints:
    """The endpoints a discovery document names; ProviderUnavailable if it is unusable."""
    if not isinstance(document, dict):
        raise ProviderUnavailable("its discovery document is not a JSON object")

    # An https issuer's endpoints are https too: a plain-http one would carry tokens
    # and keys in clear (plain http is allowed only for a provider on this machine).
    schemes = ("https://",) if sso.issuer.startswith("https://") else ("https://", "http://")

    def url(name: str, required: bool = True) -> str | None:
        value = document.get(name)
        if isinstance(value, str) and value.startswith(schemes):
            return value
        if required:
            raise ProviderUnavailable(f"its discovery document has no usable {name}")
        return None

    issuer = document.get("issuer")
    # OpenID Connect Discovery §4.3: the document's issuer is the URL it was read
    # from. (Entra ID: a tenant's own URL, not /common/, whose issuer is a template.)
    if not isinstance(issuer, str) or issuer.rstrip("/") != sso.issuer:
        raise ProviderUnavailable(
            f"its discovery document names the issuer {issuer!r}, not {sso.issuer!r} "
            "(CT_SSO_SYSTEM_BASE_URL must be the issuer exactly)"
        )
    return ProviderEndpoints(
        issuer=issuer if isinstance(issuer, str) else sso.issuer,
        authorization=url("authorization_endpoint") or "",
        token=sso.token_endpoint or url("token_endpoint") or "",
        userinfo=url("userinfo_endpoint", required=False),
        jwks=url("jwks_uri") or "",
        end_session=url("end_session_endpoint", required=False),
    )


def fetch(sso: Sso) -> ProviderEndpoints:
    try:
        response = requests.get(sso.issuer + WELL_KNOWN, timeout=sso.timeout)
        response.raise_for_status()
        document = response.json()
    except requests.RequestException as exc:
        raise ProviderUnavailable(f"{sso.issuer} cannot be reached: {_reason(exc)}") from exc
    except ValueError as exc:
        raise ProviderUnavailable("its discovery document is not JSON") from exc
    return parse(document, sso)


def _reason(exc: requests.RequestException) -> str:
    if isinstance(exc, requests.Timeout):
        return "no answer in time"
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"HTTP {exc.response.status_code} for its discovery document"
    if isinstance(exc, requests.ConnectionError):
        return "connection refused or failed"
    return exc.__class__.__name__


class Discovery:
    """The endpoints once known; asked for again while they are not."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._endpoints: ProviderEndpoints | None = None
        self.problem: str | None = None  # why the last attempt failed

    def endpoints(self) -> ProviderEndpoints:
        """The provider's endpoints; raises ProviderUnavailable when they cannot be had."""
        if self._endpoints is not None:
            return self._endpoints
        sso = settings.CONFIG.sso
        if sso is None:
            raise ProviderUnavailable("single sign-on is not configured")
        with self._lock:  # one request at a time, however many sign-ins wait
            if self._endpoints is None:
                try:
                    self._endpoints = fetch(sso)
                except ProviderUnavailable as exc:
                    self.problem = str(exc)
                    raise
                if self.problem is not None:
                    logger.warning("The sign-in provider %s answers again", sso.issuer)
                self.problem = None
            return self._endpoints

    def forget(self) -> None:
        """For tests: the next call asks the provider again."""
        with self._lock:
            self._endpoints = None
            self.problem = None


DISCOVERY = Discovery()


def check_at_startup() -> None:
    """One attempt, a warning if it fails (startup goes on; readiness says so)."""
    sso = settings.CONFIG.sso
    if sso is None:
        return
    try:
        DISCOVERY.endpoints()
    except ProviderUnavailable as exc:
        logger.warning(
            "Single sign-on: the provider %s is unavailable (%s); nobody can sign in until "
            "it answers, and /ct-health/ready/ reports it",
            sso.issuer,
            exc,
        )
    else:
        logger.info("Single sign-on with %s (client %s)", sso.issuer, sso.client_id)
