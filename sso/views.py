"""Sign-in pages: mozilla-django-oidc's views with the provider's endpoints from
discovery, the redirect URIs from CT_SERVER_URL, and clear pages when the provider
cannot be reached or refuses (never a traceback, never a hang: CT_SSO_TIMEOUT)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import auth
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_http_methods
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from relay.inputs import printable
from sso.backend import callback_url
from sso.discovery import DISCOVERY, ProviderUnavailable

logger = logging.getLogger("ctserver.sso")

View = Callable[..., HttpResponse]


def unavailable_page(request: HttpRequest, problem: str) -> HttpResponse:
    logger.warning("Single sign-on unavailable: %s", printable(problem))
    return render(request, "sso/unavailable.html", {"problem": problem}, status=503)


def provider_errors_shown(view: View) -> View:
    """A provider that is down or misbehaves gets a page that says so, with 503."""

    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except ProviderUnavailable as exc:
            return unavailable_page(request, str(exc))

    return wrapped


class SignIn(OIDCAuthenticationRequestView):  # type: ignore[misc]
    """Off to the provider's authorization endpoint (code flow, PKCE, nonce, state)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # mozilla's __init__ reads the endpoint from settings; here it comes from
        # discovery, in get(), where a provider that is down becomes a page.
        super(OIDCAuthenticationRequestView, self).__init__(*args, **kwargs)

    def get(self, request: HttpRequest) -> HttpResponse:
        sso = settings.CONFIG.sso
        if sso is None:
            return HttpResponseRedirect(settings.LOGIN_URL)
        self.OIDC_OP_AUTH_ENDPOINT = DISCOVERY.endpoints().authorization
        self.OIDC_RP_CLIENT_ID = sso.client_id
        response: HttpResponse = super().get(request)
        return response

    def get_extra_params(self, request: HttpRequest) -> dict[str, str]:
        return {"redirect_uri": callback_url()}


UNFINISHED = "the sign-in could not be completed (it was started in another tab, or long ago)"


def refused_page(request: HttpRequest, reason: str) -> HttpResponse:
    return render(request, "sso/refused.html", {"reason": reason}, status=403)


class Callback(OIDCAuthenticationCallbackView):  # type: ignore[misc]
    """Where the provider sends the browser back with a code (or an error)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        pending = request.session.get("oidc_states") or {}
        if request.GET.get("state") not in pending:
            # Not an answer to a sign-in this browser started: no provider text from
            # the address is shown, and nobody is signed out by a link.
            return refused_page(request, UNFINISHED)
        self.provider_error = request.GET.get("error_description") or request.GET.get("error")
        response: HttpResponse = super().get(request)
        return response

    def login_failure(self) -> HttpResponse:
        request = self.request
        reason = getattr(request, "sso_refusal", None)
        if reason is None and self.provider_error:
            # The provider's own words (access_denied, ...), shown escaped.
            reason = self.provider_error
            logger.warning("Single sign-on: the provider answered %s", printable(reason))
        return refused_page(request, reason or UNFINISHED)


def signed_out_page(request: HttpRequest) -> HttpResponse:
    return render(request, "sso/signed_out.html")


@require_http_methods(["GET", "POST"])
def sign_out(request: HttpRequest) -> HttpResponse:
    """POST signs out here, then at the provider when it offers that (RP-initiated
    logout), which sends the browser back to GET /sso/logout: the signed-out page."""
    if request.method == "GET":
        return signed_out_page(request)
    id_token = request.session.get("oidc_id_token")
    auth.logout(request)
    try:
        end_session = DISCOVERY.endpoints().end_session
    except ProviderUnavailable:
        end_session = None  # signed out here; the provider's own session stays
    sso = settings.CONFIG.sso
    if end_session is None or sso is None:
        return signed_out_page(request)
    params = {
        "post_logout_redirect_uri": settings.CONFIG.server_url + "/sso/logout",
        "client_id": sso.client_id,
    }
    if id_token:
        params["id_token_hint"] = id_token
    return HttpResponseRedirect(f"{end_session}?{urlencode(params)}")


def return_page(request: HttpRequest) -> HttpResponse:
    """After sign-in: back to the page asked for, with the fragment the browser kept
    (static/sso/return.js); the fragment holds a session key and never left it."""
    return render(request, "sso/return.html")


sign_in = provider_errors_shown(SignIn.as_view())
callback = provider_errors_shown(Callback.as_view())
