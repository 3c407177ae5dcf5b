"""The sign-in backend: mozilla-django-oidc's code flow, with stricter checks.

mozilla-django-oidc checks an ID token's signature and nonce; it does not check
the audience or the issuer, and it finds users by email. Here an ID token must be
signed with an asymmetric algorithm by a key from the provider's JWKS, be meant
for this client (``aud``, and ``azp`` when present), come from the configured
issuer, and be unexpired; a user is found by (issuer, subject).
"""

from __future__ import annotations

import base64
import hashlib
import logging
from typing import Any

import jwt
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import SuspiciousOperation
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from dashboard.signin import client_address
from relay.inputs import printable
from sso.claims import ClaimsRefused, VerifiedIdentity, identity_from_claims
from sso.discovery import DISCOVERY, ProviderUnavailable
from sso.models import Identity

logger = logging.getLogger("ctserver.sso")

# Never "none" nor HS*: a symmetric algorithm would let anyone holding the client
# secret mint tokens, and accepting it where RS256 is expected invites confusion.
SIGNING_ALGORITHMS = (
    *("RS256", "RS384", "RS512"),
    *("PS256", "PS384", "PS512"),
    *("ES256", "ES384", "ES512"),
)
CLOCK_LEEWAY_SECONDS = 60
CALLBACK_PATH = "/sso/authorization-code/callback"


class SignInRefused(Exception):
    """The provider answered, but what it said does not sign anyone in here."""


def username_for(issuer: str, subject: str) -> str:
    """A stable, unique Django user name for a provider account (150 chars at most)."""
    digest = hashlib.sha256(f"{issuer}\0{subject}".encode()).digest()
    return "sso-" + base64.urlsafe_b64encode(digest[:18]).decode()


def save_identity(issuer: str, identity: VerifiedIdentity) -> AbstractUser:
    """The user for this identity, created or brought up to date (admin rights included:
    leaving CT_SSO_ADMIN_GROUP takes them away at the next sign-in). Two first
    sign-ins of one person at the same instant: the second finds the first's row."""
    try:
        return _save_identity(issuer, identity)
    except IntegrityError:
        return _save_identity(issuer, identity)


@transaction.atomic
def _save_identity(issuer: str, identity: VerifiedIdentity) -> AbstractUser:
    user_model = get_user_model()
    record = (
        Identity.objects.select_for_update()
        .select_related("user")
        .filter(issuer=issuer, subject=identity.subject)
        .first()
    )
    if record is None:
        # An SSO account never signs in with a password. Only here, at creation: a
        # new unusable password at every sign-in would change the session hash and
        # sign the person out of every other browser.
        user = user_model.objects.create_user(username_for(issuer, identity.subject))
        record = Identity(user=user, issuer=issuer, subject=identity.subject)
    user = record.user
    user.email = identity.email
    user.first_name = identity.name[:150]
    user.is_staff = user.is_superuser = identity.admin
    user.save()
    record.email, record.name = identity.email, identity.name
    record.groups, record.admin = list(identity.groups), identity.admin
    record.save()
    return user


class SsoBackend(OIDCAuthenticationBackend):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # mozilla's __init__ reads the provider's endpoints. Django makes a backend for
        # every sign-in (the dashboard's password form too) and for every request's
        # user: they are read only when a provider's answer is to be checked.
        self.UserModel = get_user_model()

    def get_user(self, user_id: Any) -> AbstractUser | None:
        """A session's user while it is active: disabling someone in the admin ends
        their browser sessions too (mozilla's get_user does not check)."""
        user: AbstractUser | None = super().get_user(user_id)
        return user if user is not None and user.is_active else None

    def authenticate(self, request: HttpRequest | None, **kwargs: Any) -> AbstractUser | None:
        sso = settings.CONFIG.sso
        if (
            sso is None
            or request is None
            or request.path != CALLBACK_PATH
            or not kwargs.get("nonce")
            or "code" not in request.GET
        ):
            # Not the provider's callback with a pending sign-in (its state, nonce
            # and PKCE verifier): some other backend's business.
            return None
        endpoints = DISCOVERY.endpoints()  # ProviderUnavailable: the view says so
        self.endpoints = endpoints
        self.OIDC_OP_TOKEN_ENDPOINT = endpoints.token
        self.OIDC_OP_USER_ENDPOINT = endpoints.userinfo
        self.OIDC_OP_JWKS_ENDPOINT = endpoints.jwks
        self.OIDC_RP_CLIENT_ID = sso.client_id
        self.OIDC_RP_CLIENT_SECRET = sso.client_secret
        self.OIDC_RP_IDP_SIGN_KEY = None
        self.OIDC_RP_SIGN_ALGO = "RS256"  # means "a key from the JWKS"; _verify_jws checks more
        try:
            user: AbstractUser | None = super().authenticate(request, **kwargs)
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else 0
            if 400 <= status < 500:  # the provider refused this code (reused, expired)
                return self._refused(request, SignInRefused("the provider refused the sign-in"))
            logger.warning("Single sign-on: the provider answered %s", printable(str(exc)))
            raise ProviderUnavailable(f"{sso.issuer} answered with an error") from exc
        except requests.RequestException as exc:
            logger.warning("Single sign-on: the provider failed: %s", printable(str(exc)))
            raise ProviderUnavailable(f"{sso.issuer} cannot be reached") from exc
        except KeyError as exc:  # an ID token or JWKS key without the member it needs
            return self._refused(request, SignInRefused(f"the ID token lacks {exc}"))
        except (SuspiciousOperation, jwt.PyJWTError, ClaimsRefused, SignInRefused) as exc:
            return self._refused(request, exc)
        return user

    @staticmethod
    def _refused(request: HttpRequest, exc: Exception) -> None:
        reason = str(exc) or exc.__class__.__name__
        request.sso_refusal = reason  # type: ignore[attr-defined]  # shown by the callback
        logger.warning(
            "Single sign-on refused for %s: %s", client_address(request), printable(reason)
        )

    def get_token(self, payload: dict[str, Any]) -> Any:
        # The redirect URI the provider knows: from CT_SERVER_URL, not from the Host
        # header this request happened to carry.
        payload["redirect_uri"] = callback_url()
        return super().get_token(payload)

    def _verify_jws(self, payload: str, key: Any) -> dict[str, Any]:
        sso = settings.CONFIG.sso
        assert sso is not None
        algorithm = jwt.get_unverified_header(payload).get("alg")
        if algorithm not in SIGNING_ALGORITHMS:
            raise SignInRefused(f"the ID token is signed with {algorithm!r}, which is not accepted")
        try:
            claims: dict[str, Any] = jwt.decode(
                payload,
                key,
                algorithms=[algorithm],
                audience=sso.client_id,
                issuer=self.endpoints.issuer,
                leeway=CLOCK_LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.InvalidAudienceError:
            raise SignInRefused("the ID token is meant for another application") from None
        except jwt.InvalidIssuerError:
            raise SignInRefused("the ID token comes from another issuer") from None
        except jwt.ExpiredSignatureError:
            raise SignInRefused("the ID token has expired") from None
        except jwt.InvalidSignatureError:
            raise SignInRefused("the ID token's signature does not verify") from None
        except jwt.PyJWTError as exc:
            raise SignInRefused(f"the ID token is not valid: {exc}") from None
        authorized_party = claims.get("azp")
        if authorized_party is not None and authorized_party != sso.client_id:
            raise SignInRefused("the ID token was issued to another application (azp)")
        audience = claims.get("aud")
        if isinstance(audience, list) and len(audience) > 1 and authorized_party is None:
            # OpenID Connect Core 3.1.3.7: several audiences need azp naming us.
            raise SignInRefused("the ID token names several audiences and no azp")
        return claims

    def get_or_create_user(self, access_token: str, id_token: str, payload: dict[str, Any]) -> Any:
        sso = settings.CONFIG.sso
        assert sso is not None
        claims = dict(payload)
        if self.OIDC_OP_USER_ENDPOINT and access_token:
            extra = self.get_userinfo(access_token, id_token, payload)
            if not isinstance(extra, dict) or extra.get("sub") != payload.get("sub"):
                raise SignInRefused("the provider's user information is about another user")
            claims.update(extra)
        identity = identity_from_claims(claims, sso)
        user = save_identity(self.endpoints.issuer, identity)
        logger.info(
            "Signed in through single sign-on: %s <%s> (subject %s)%s",
            printable(identity.name),
            printable(identity.email),
            printable(identity.subject),
            ", an administrator" if identity.admin else "",
        )
        return user


def callback_url() -> str:
    return settings.CONFIG.server_url + CALLBACK_PATH
