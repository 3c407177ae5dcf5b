"""Single sign-on, in process: configuration, claims, ID token checks, identities."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
from asgiref.testing import ApplicationCommunicator
from cryptography.hazmat.primitives.asymmetric import rsa
from ctclient.outcomes import who
from django.contrib.auth import get_user_model
from django.db import IntegrityError, OperationalError

from ctserver.config import ConfigError, Sso, load_config
from sso import backend as backend_module
from sso import gate
from sso.backend import SignInRefused, SsoBackend, save_identity, username_for
from sso.claims import ClaimsRefused, identity_from_claims
from sso.discovery import ProviderEndpoints, ProviderUnavailable, parse

ISSUER = "https://sso.example.com/realms/company"
BASE = {
    "CT_SSO_SYSTEM_BASE_URL": ISSUER,
    "CT_SSO_CLIENT_ID": "ctserver",
    "CT_SSO_CLIENT_SECRET": "secret",
}


def sso_config(**env: str) -> Sso:
    sso = load_config({**BASE, **env}).sso
    assert sso is not None
    return sso


# --- configuration ---------------------------------------------------------------


def test_sso_is_off_without_its_base_url() -> None:
    assert load_config({}).sso is None


def test_the_base_url_turns_it_on_with_defaults() -> None:
    sso = sso_config()
    assert (sso.issuer, sso.client_id, sso.provider) == (ISSUER, "ctserver", "generic")
    assert (sso.scopes, sso.groups_claim, sso.admin_group) == (
        "openid email profile",
        "groups",
        None,
    )
    assert not sso.allow_unverified_guests
    assert (sso.token_lifetime, sso.refresh_lifetime) == (3600, 30 * 86400)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CT_SSO_CLIENT_ID": "x"}, "CT_SSO_CLIENT_ID set, but not CT_SSO_SYSTEM_BASE_URL"),
        (
            {"CT_SSO_SYSTEM_BASE_URL": ISSUER},
            "CT_SSO_CLIENT_ID and CT_SSO_CLIENT_SECRET are not",
        ),
        (
            {"CT_SSO_SYSTEM_BASE_URL": ISSUER, "CT_SSO_CLIENT_ID": "x"},
            "but CT_SSO_CLIENT_SECRET is not",
        ),
        ({**BASE, "CT_SSO_SYSTEM_BASE_URL": "http://sso.example.com"}, "must be an https URL"),
        ({**BASE, "CT_SSO_SYSTEM_BASE_URL": "sso.example.com"}, "must be the OpenID provider"),
        ({**BASE, "CT_SSO_SCOPES": "email profile"}, "must include openid"),
        ({**BASE, "CT_SSO_PROVIDER": "facebook"}, "CT_SSO_PROVIDER must be one of"),
        ({**BASE, "CT_SSO_TOKEN_LIFETIME": "1"}, "CT_SSO_TOKEN_LIFETIME must be"),
    ],
)
def test_half_a_configuration_stops_startup_naming_what_is_missing(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(env)


def test_plain_http_is_allowed_to_this_machine_only() -> None:
    assert sso_config(CT_SSO_SYSTEM_BASE_URL="http://127.0.0.1:9000/").issuer == (
        "http://127.0.0.1:9000"
    )


# --- discovery --------------------------------------------------------------------


def discovery_document(**overrides: Any) -> dict[str, Any]:
    return {
        "issuer": ISSUER,
        "authorization_endpoint": ISSUER + "/auth",
        "token_endpoint": ISSUER + "/token",
        "userinfo_endpoint": ISSUER + "/me",
        "jwks_uri": ISSUER + "/jwks",
        **overrides,
    }


def test_discovery_names_the_endpoints_and_a_configured_token_endpoint_wins() -> None:
    endpoints = parse(discovery_document(), sso_config())
    assert (endpoints.authorization, endpoints.token) == (ISSUER + "/auth", ISSUER + "/token")
    assert endpoints.end_session is None
    proxied = sso_config(CT_SSO_TOKEN_ENDPT="https://proxy.example.com/token")
    assert parse(discovery_document(), proxied).token == "https://proxy.example.com/token"


@pytest.mark.parametrize(
    "document",
    [
        discovery_document(issuer="https://evil.example.com"),
        discovery_document(jwks_uri=None),
        discovery_document(authorization_endpoint="javascript:alert(1)"),
        ["not", "an", "object"],
    ],
)
def test_an_unusable_discovery_document_makes_the_provider_unavailable(document: Any) -> None:
    with pytest.raises(ProviderUnavailable):
        parse(document, sso_config())


# --- claims -----------------------------------------------------------------------


def test_claims_give_a_clean_identity() -> None:
    sso = sso_config(CT_SSO_ADMIN_GROUP="ct-admins")
    identity = identity_from_claims(
        {
            "sub": "248289761001",
            "email": "ada@example.com",
            "name": "Ada\x1b[31m\u202e Lovelace\n",
            "groups": ["developers", "ct-admins"],
        },
        sso,
    )
    assert identity.name == "Ada[31m Lovelace"  # ESC, bidi override and newline dropped
    assert identity.email == "ada@example.com"
    assert identity.groups == ("developers", "ct-admins")
    assert identity.admin


def test_provider_quirks_where_the_address_and_groups_live() -> None:
    adfs = identity_from_claims(
        {"sub": "x", "upn": "grace@corp.example", "group": "ct-admins"},
        sso_config(CT_SSO_GROUPS_CLAIM="group", CT_SSO_ADMIN_GROUP="ct-admins"),
    )
    assert (adfs.email, adfs.name, adfs.groups, adfs.admin) == (
        "grace@corp.example",
        "grace@corp.example",
        ("ct-admins",),
        True,
    )
    nameless = identity_from_claims({"sub": "id-7"}, sso_config())
    assert (nameless.email, nameless.name, nameless.admin) == ("", "id-7", False)


def test_claims_without_a_subject_identify_nobody() -> None:
    with pytest.raises(ClaimsRefused):
        identity_from_claims({"email": "ada@example.com"}, sso_config())


# --- ID tokens --------------------------------------------------------------------

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def id_token(key: Any = KEY, algorithm: str = "RS256", **claims: Any) -> str:
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": "ctserver", "sub": "u1", "iat": now, "exp": now + 300}
    payload.update(claims)
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, key, algorithm)


@pytest.fixture
def backend(settings: Any) -> SsoBackend:
    settings.CONFIG = load_config(BASE)
    checker = SsoBackend()
    checker.endpoints = ProviderEndpoints(ISSUER, "a", "t", None, "j", None)
    return checker


def test_a_good_id_token_is_accepted(backend: SsoBackend) -> None:
    claims = backend._verify_jws(id_token(), KEY.public_key())
    assert claims["sub"] == "u1"


def tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = "someone-else"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (id_token(aud="another-app"), "meant for another application"),
        (id_token(iss="https://evil.example.com"), "comes from another issuer"),
        (id_token(exp=int(time.time()) - 3600), "has expired"),
        (tampered(id_token()), "signature does not verify"),
        (id_token(OTHER_KEY), "signature does not verify"),
        (id_token(azp="another-app"), "issued to another application"),
        (id_token(exp=None), "not valid"),
        (id_token("shared-secret-shared-secret-shared-secret", "HS256"), "'HS256'"),
        (jwt.encode({"sub": "u1"}, "", "none"), "'none'"),
    ],
)
def test_bad_id_tokens_are_refused(backend: SsoBackend, token: str, reason: str) -> None:
    with pytest.raises(SignInRefused, match=reason):
        backend._verify_jws(token, KEY.public_key())


# --- identities -------------------------------------------------------------------


@pytest.mark.django_db
def test_a_user_is_found_again_by_subject_and_admin_rights_follow_the_group() -> None:
    sso = sso_config(CT_SSO_ADMIN_GROUP="ct-admins")
    first = save_identity(
        ISSUER,
        identity_from_claims({"sub": "s1", "email": "a@x.org", "groups": ["ct-admins"]}, sso),
    )
    assert first.is_staff and first.is_superuser and not first.has_usable_password()
    again = save_identity(
        ISSUER, identity_from_claims({"sub": "s1", "email": "new@x.org", "groups": []}, sso)
    )
    assert again.pk == first.pk and again.email == "new@x.org"
    assert not again.is_staff and not again.is_superuser
    # Another subject with the same address is another user: addresses change hands.
    other = save_identity(ISSUER, identity_from_claims({"sub": "s2", "email": "new@x.org"}, sso))
    assert other.pk != first.pk
    assert get_user_model().objects.get(pk=other.pk).username == username_for(ISSUER, "s2")


# --- how clients show an identity ------------------------------------------------


def test_ctclient_shows_who_a_peer_is() -> None:
    assert who({"name": "Ada"}) == "Ada"  # no single sign-on
    assert who({"name": "Ada", "verified": True, "email": "ada@example.com"}) == (
        "Ada <ada@example.com>"
    )
    assert who({"name": "Visitor", "verified": False, "email": ""}) == (
        "Visitor (unverified: not signed in)"
    )


@pytest.mark.django_db
def test_signing_in_again_keeps_other_browsers_signed_in() -> None:
    """The session hash comes from the password hash: it must not change at sign-in."""
    sso = sso_config()
    first = save_identity(ISSUER, identity_from_claims({"sub": "s9", "email": "a@x.org"}, sso))
    hashed = first.get_session_auth_hash()
    again = save_identity(ISSUER, identity_from_claims({"sub": "s9", "email": "a@x.org"}, sso))
    assert again.get_session_auth_hash() == hashed


@pytest.mark.django_db
def test_the_backend_answers_only_the_callback_of_a_pending_sign_in(
    backend: SsoBackend, rf: Any
) -> None:
    for path in ("/dashboard/login/", "/admin/login/", "/metrics"):
        request = rf.post(f"{path}?code=x&state=y")
        assert backend.authenticate(request, username="u", password="p") is None
    callback = rf.get("/sso/authorization-code/callback?code=x&state=y")
    assert backend.authenticate(callback) is None  # no nonce: not a sign-in this server began


@pytest.mark.django_db
def test_a_callback_for_no_pending_sign_in_shows_nothing_it_was_given(
    client: Any, settings: Any
) -> None:
    settings.CONFIG = load_config(BASE)
    page = client.get(
        "/sso/authorization-code/callback",
        {"error": "access_denied", "error_description": "Call +1-555-EVIL now", "state": "z"},
        secure=True,
    )
    assert page.status_code == 403
    assert b"EVIL" not in page.content and b"could not be completed" in page.content


def test_several_audiences_need_azp(backend: SsoBackend) -> None:
    with pytest.raises(SignInRefused, match="several audiences"):
        backend._verify_jws(id_token(aud=["ctserver", "other"]), KEY.public_key())
    assert backend._verify_jws(
        id_token(aud=["ctserver", "other"], azp="ctserver"), KEY.public_key()
    )


def test_an_https_issuer_needs_https_endpoints() -> None:
    with pytest.raises(ProviderUnavailable, match="token_endpoint"):
        parse(discovery_document(token_endpoint="http://sso.example.com/token"), sso_config())


async def test_a_handshake_while_the_database_is_away_is_told_so(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.CONFIG = load_config(BASE)

    async def unreachable(*_: Any) -> Any:
        raise OperationalError("the database is away")

    async def never(*_: Any) -> None:
        raise AssertionError("nobody may be let in")

    monkeypatch.setattr(gate, "_handshake_identity", unreachable)
    app = gate.require_signed_in_websockets(never)
    talk = ApplicationCommunicator(
        app, {"type": "websocket", "path": "/ws/v1/sessions/x", "headers": []}
    )
    await talk.send_input({"type": "websocket.connect"})
    start = await talk.receive_output(2)
    assert (start["type"], start["status"]) == ("websocket.http.response.start", 503)
    body = await talk.receive_output(2)
    assert json.loads(body["body"])["error"]["code"] == "database_unavailable"


@pytest.mark.django_db
def test_two_first_sign_ins_at_once_make_one_user(monkeypatch: pytest.MonkeyPatch) -> None:
    real, calls = backend_module._save_identity, []

    def racing(issuer: str, identity: Any) -> Any:
        calls.append(identity)
        if len(calls) == 1:  # the other sign-in committed the same subject meanwhile
            real(issuer, identity)
            raise IntegrityError("sso_identity_subject")
        return real(issuer, identity)

    monkeypatch.setattr(backend_module, "_save_identity", racing)
    user = save_identity(ISSUER, identity_from_claims({"sub": "s7"}, sso_config()))
    assert len(calls) == 2 and user.username == username_for(ISSUER, "s7")
