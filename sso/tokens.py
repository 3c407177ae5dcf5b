"""Clients' own tokens under single sign-on, issued by django-oauth-toolkit.

A browser signs in through the provider and keeps a session cookie. A client that
is not a browser (``ctclient login``) gets a token from this server instead, after
its user signed in through the provider in a browser: with the authorization code
flow and PKCE to a loopback redirect (RFC 8252), or with a device code (RFC 8628)
when no browser can be opened there. Access tokens are short-lived
(CT_SSO_TOKEN_LIFETIME), renewed with a refresh token that rotates at every use
(CT_SSO_REFRESH_LIFETIME), and revocable (``ctclient logout``, or deleting it in
the admin). The client sends it as ``Authorization: Bearer`` on HTTP and on the
WebSocket handshake.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from csp.decorators import csp_update
from django.conf import settings
from django.urls import URLResolver, include, path
from django.utils import timezone
from oauth2_provider import views as oauth_views
from oauth2_provider.models import get_access_token_model

# The two public clients ctclient (and later IDE clients) use: made by
# sso/migrations/0002_client_applications.py.
LOOPBACK_CLIENT_ID = "ctclient"
DEVICE_CLIENT_ID = "ctclient-device"

SCOPE = "sessions"  # what a client's token allows: hosting and joining, nothing else
TOKEN_EXPIRED = "token_expired"  # noqa: S105 (an error code, not a secret)
TOKEN_INVALID = "token_invalid"  # noqa: S105


@dataclass(frozen=True)
class TokenCheck:
    user: Any | None  # the token's active user, or None
    refusal: str | None  # TOKEN_EXPIRED or TOKEN_INVALID when user is None


def bearer_token(authorization: str) -> str | None:
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 512:
        return None
    return token


def check_access_token(token: str) -> TokenCheck:
    """Who an access token stands for. Revoked tokens are deleted by
    django-oauth-toolkit, so they are unknown here, like forged ones."""
    checksum = hashlib.sha256(token.encode()).hexdigest()
    access = (
        get_access_token_model()
        .objects.select_related("user")
        .filter(token_checksum=checksum)
        .first()
    )
    if access is None or access.user is None or not access.user.is_active:
        return TokenCheck(None, TOKEN_INVALID)
    if SCOPE not in access.scope.split():
        return TokenCheck(None, TOKEN_INVALID)
    if access.expires <= timezone.now():
        return TokenCheck(None, TOKEN_EXPIRED)
    return TokenCheck(access.user, None)


# The approval form redirects to the client's loopback listener, on a port of its
# own: the page's Content-Security-Policy must let that form go there.
authorize = csp_update({"form-action": ["http://127.0.0.1:*", "http://[::1]:*"]})(
    oauth_views.AuthorizationView.as_view()
)


def sso_token_urls() -> list[URLResolver]:
    """/oauth/: only while single sign-on is on; without it no token is ever needed.
    Only what clients use: no application management, no dynamic registration."""
    if settings.CONFIG.sso is None:
        return []
    patterns = [
        path("authorize/", authorize, name="authorize"),
        path("token/", oauth_views.TokenView.as_view(), name="token"),
        path("revoke_token/", oauth_views.RevokeTokenView.as_view(), name="revoke-token"),
        path(
            "device-authorization/",
            oauth_views.DeviceAuthorizationView.as_view(),
            name="device-authorization",
        ),
        path("device/", oauth_views.DeviceUserCodeView.as_view(), name="device"),
        path(
            "device-confirm/<slug:client_id>/<slug:user_code>",
            oauth_views.DeviceConfirmView.as_view(),
            name="device-confirm",
        ),
        path(
            "device-grant-status/<slug:client_id>/<slug:user_code>",
            oauth_views.DeviceGrantStatusView.as_view(),
            name="device-grant-status",
        ),
    ]
    return [path("oauth/", include((patterns, "oauth2_provider")))]
