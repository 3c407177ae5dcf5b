"""Single sign-on end to end: a real OpenID provider (npm oidc-provider) on
loopback, a real ctserver, Chromium driven by Playwright. Screenshots go to
test-artifacts/."""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import re
import secrets
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

import pytest
import websockets
from playwright.async_api import BrowserContext, Page, Route, expect

from tests.support.browser import browser_context as fresh_browser_context
from tests.support.browser import screenshot
from tests.support.oidc import OidcProvider, provider_sign_in, running_provider
from tests.support.ports import free_port
from tests.support.server import ServerProcess, plain_http_env

StartServer = Callable[..., ServerProcess]
BREAK_GLASS_USER, BREAK_GLASS_PASSWORD = "operator", "Break-glass-password-5172"


@dataclass
class SsoDeployment:
    server: ServerProcess
    provider: OidcProvider


@pytest.fixture
def deployment(start_server: StartServer) -> Iterator[SsoDeployment]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with running_provider(url) as provider:
        server = start_server(
            **plain_http_env(
                CT_HTTP_PORT=str(port),
                CT_DASHBOARD_USER=BREAK_GLASS_USER,
                CT_DASHBOARD_PASSWORD=BREAK_GLASS_PASSWORD,
                **provider.server_env(),
            )
        )
        yield SsoDeployment(server, provider)


@pytest.fixture
async def browser_context() -> AsyncIterator[BrowserContext]:
    async with fresh_browser_context() as context:
        yield context


def call(method: str, url: str, body: bytes | None = None) -> tuple[int, dict[str, object]]:
    """Status and JSON body ({} for a page)."""
    request = urllib.request.Request(url, data=body, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, content = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, content = error.code, error.read()
    try:
        return status, json.loads(content)
    except ValueError:
        return status, {}


async def test_nothing_but_health_works_anonymously(deployment: SsoDeployment) -> None:
    base = deployment.server.http_url
    assert call("GET", f"{base}/ct-health/")[0] == 200
    status, body = call("POST", f"{base}/api/v1/sessions", b"{}")
    assert status == 401
    assert body["error"] == {
        "code": "sign_in_required",
        "message": "sign in first: this server admits only users of its single sign-on",
    }
    for path in ("/clients/", "/join/abcdefghijklmnopqrstuv", "/dashboard/sessions/"):
        assert call("GET", base + path)[0] == 401, path
    ws_url = base.replace("http", "ws", 1) + "/ws/v1/sessions/abcdefghijklmnopqrstuv"
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(ws_url):
            pass
    assert refused.value.response.status_code == 401
    assert b"sign_in_required" in refused.value.response.body


async def test_a_join_link_survives_sign_in_and_its_key_never_leaves_the_browser(
    deployment: SsoDeployment, browser_context: BrowserContext
) -> None:
    server, provider = deployment.server, deployment.provider
    page = await browser_context.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    key = "k" * 43
    link = f"{server.http_url}/join/abcdefghijklmnopqrstuv#{key}"

    await page.goto(link)
    await expect(page).to_have_url(re.compile("^" + re.escape(provider.issuer)))
    await screenshot(page, "sso-provider-sign-in")
    await provider_sign_in(page, "grace")
    # Back on the page the link named, with its fragment.
    await expect(page).to_have_url(link)
    # Fragments are never sent; what is sent, and anything the provider's pages see
    # (their whole address, fragment included), must not hold the key.
    sent = [url for url in requested if key in urllib.parse.urldefrag(url).url]
    seen_by_provider = [url for url in requested if url.startswith(provider.issuer) and key in url]
    assert not sent and not seen_by_provider, (sent, seen_by_provider)

    # The browser is signed in: its session cookie opens the relay's WebSocket too.
    cookies = {c["name"]: c["value"] for c in await browser_context.cookies(server.http_url)}
    ws_url = server.http_url.replace("http", "ws", 1) + "/ws/v1/sessions/abcdefghijklmnopqrstuv"
    cookie = f"sessionid={cookies['sessionid']}"
    async with websockets.connect(ws_url, additional_headers={"Cookie": cookie}) as ws:
        # An unknown session: accepted, then closed with 4004 (docs/protocol.md §4),
        # maybe before the hello is even sent.
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.send(json.dumps({"type": "hello", "role": "guest", "name": "Grace"}))
            await ws.recv()
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4004


async def test_admins_come_from_the_admin_group_and_break_glass_is_logged(
    deployment: SsoDeployment, browser_context: BrowserContext
) -> None:
    server = deployment.server
    page = await browser_context.new_page()
    await page.goto(f"{server.http_url}/dashboard/")
    await provider_sign_in(page, "ada")  # in ct-admins
    await expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    await expect(page.get_by_role("button", name="Sign out Ada Lovelace")).to_be_visible()
    await screenshot(page, "sso-admin-dashboard")
    assert "Signed in through single sign-on: Ada Lovelace <ada@example.com>" in server.output

    # Signing out goes through the provider's logout and back to /sso/logout.
    await page.get_by_role("button", name="Sign out Ada Lovelace").click()
    await page.get_by_role("button", name=re.compile("yes", re.I)).click()
    await expect(page.get_by_role("heading", name="Signed out")).to_be_visible()
    assert call("GET", f"{server.http_url}/clients/")[0] == 401

    # Someone outside the group is signed in, but the dashboard is not theirs.
    other = await browser_context.new_page()
    await browser_context.clear_cookies()
    await other.goto(f"{server.http_url}/dashboard/")
    await provider_sign_in(other, "grace")
    await expect(other).to_have_url(re.compile(r"/dashboard/login/"))
    await expect(other.get_by_text("not in this server's administrators group")).to_be_visible()
    assert call("GET", f"{server.http_url}/admin/")[0] in (302, 401)

    # The environment's credentials still work, and say so in the log.
    await browser_context.clear_cookies()
    glass = await browser_context.new_page()
    await glass.goto(f"{server.http_url}/dashboard/login/")
    await glass.get_by_label("User name").fill(BREAK_GLASS_USER)
    await glass.get_by_label("Password").fill(BREAK_GLASS_PASSWORD)
    await glass.get_by_role("button", name="Sign in").click()
    await expect(glass.get_by_role("heading", name="Dashboard")).to_be_visible()
    assert "Break-glass sign-in as 'operator'" in server.output


async def test_a_provider_that_is_down_is_said_clearly_and_never_hangs(
    start_server: StartServer, browser_context: BrowserContext
) -> None:
    port = free_port()
    provider = OidcProvider(f"http://127.0.0.1:{port}")  # not started: nothing listens
    server = start_server(**plain_http_env(CT_HTTP_PORT=str(port), **provider.server_env()))
    assert "Single sign-on: the provider" in server.output
    assert "is unavailable" in server.output
    status, body = call("GET", f"{server.http_url}/ct-health/ready/")
    assert status == 503
    assert str(body["checks"]["sso"]).startswith("error:")  # type: ignore[index]

    page = await browser_context.new_page()
    response = await page.goto(f"{server.http_url}/sso/login")
    assert response is not None and response.status == 503
    await expect(page.get_by_role("heading", name="Sign-in is unavailable")).to_be_visible()
    await expect(page.locator(".error")).to_contain_text("cannot be reached")
    await screenshot(page, "sso-provider-down")

    # It recovers by itself once the provider answers.
    provider.start()
    try:
        assert call("GET", f"{server.http_url}/ct-health/ready/")[0] == 200
        await page.goto(f"{server.http_url}/clients/")
        await provider_sign_in(page, "grace")
        await expect(page).to_have_url(f"{server.http_url}/clients/")
    finally:
        provider.stop()


def changed_subject(id_token: str) -> str:
    """The ID token with another subject and the provider's signature kept."""
    header, payload, signature = id_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = "ada"  # someone else
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=")
    return f"{header}.{forged.decode()}.{signature}"


class TamperingTokenProxy:
    """Between ctserver and the provider's token endpoint (CT_SSO_TOKEN_ENDPT): it
    forwards each request and replaces the ID token in the answer, as an attacker
    on that path would."""

    def __init__(self, token_endpoint: str, rewrite: Callable[[str], str]) -> None:
        endpoint = token_endpoint

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {
                    k: v for k, v in self.headers.items() if k in ("Content-Type", "Authorization")
                }
                request = urllib.request.Request(endpoint, data=body, headers=headers)
                with urllib.request.urlopen(request, timeout=10) as response:
                    answer = json.loads(response.read())
                answer["id_token"] = rewrite(answer["id_token"])
                content = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/token"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def __enter__(self) -> TamperingTokenProxy:
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()


async def refused_sign_in(
    start_server: StartServer,
    context: BrowserContext,
    provider: OidcProvider,
    proxy: TamperingTokenProxy,
    reason: str,
) -> tuple[ServerProcess, Page]:
    """A ctserver whose token endpoint is ``proxy``; Grace's sign-in through it ends
    on the refusal page with ``reason``."""
    env = provider.server_env(CT_SSO_TOKEN_ENDPT=proxy.url)
    port = urllib.parse.urlsplit(provider.server_url).port
    server = start_server(**plain_http_env(CT_HTTP_PORT=str(port), **env))
    page = await context.new_page()
    await page.goto(f"{server.http_url}/clients/")
    await provider_sign_in(page, "grace")
    await expect(page.get_by_role("heading", name="Sign-in refused")).to_be_visible()
    await expect(page.locator(".error")).to_contain_text(reason)
    return server, page


async def test_a_tampered_id_token_signs_nobody_in(
    start_server: StartServer, browser_context: BrowserContext
) -> None:
    port = free_port()
    with (
        running_provider(f"http://127.0.0.1:{port}") as provider,
        TamperingTokenProxy(provider.issuer + "/token", changed_subject) as proxy,
    ):
        server, page = await refused_sign_in(
            start_server, browser_context, provider, proxy, "signature does not verify"
        )
        await screenshot(page, "sso-tampered-token")
        # Nobody was signed in: the next page needs signing in again (and the
        # provider, which still knows Grace, answers with a tampered token again).
        await page.goto(f"{server.http_url}/clients/")
        await expect(page.get_by_role("heading", name="Sign-in refused")).to_be_visible()
        assert "Single sign-on refused for 127.0.0.1" in server.output


async def id_token_for_another_application(
    provider: OidcProvider, context: BrowserContext, client: dict[str, str]
) -> str:
    """A real ID token from the provider, signed by it, issued to ``client``: the
    code flow with PKCE done by hand, the browser signing in as Grace."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    query = urllib.parse.urlencode(
        {
            "client_id": client["client_id"],
            "response_type": "code",
            "scope": "openid email",
            "redirect_uri": client["redirect_uri"],
            "state": "s",
            "nonce": "n",
            "code_challenge": challenge.rstrip(b"=").decode(),
            "code_challenge_method": "S256",
        }
    )
    page = await context.new_page()
    redirected: list[str] = []

    async def capture(route: Route) -> None:
        redirected.append(route.request.url)
        await route.fulfill(body="captured")

    await page.route(client["redirect_uri"] + "*", capture)
    await page.goto(f"{provider.issuer}/auth?{query}")
    await provider_sign_in(page, "grace")
    await expect(page.get_by_text("captured")).to_be_visible()
    code = urllib.parse.parse_qs(urllib.parse.urlsplit(redirected[0]).query)["code"][0]
    body = urllib.parse.urlencode(
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": client["redirect_uri"],
            "code_verifier": verifier,
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
        }
    ).encode()
    with urllib.request.urlopen(f"{provider.issuer}/token", data=body, timeout=10) as answer:
        token: str = json.loads(answer.read())["id_token"]
    await page.close()
    await context.clear_cookies()
    return token


async def test_an_id_token_for_another_application_signs_nobody_in(
    start_server: StartServer, browser_context: BrowserContext
) -> None:
    port = free_port()
    other = {
        "client_id": "another-app",
        "client_secret": "another-app-secret-0123456789",
        "redirect_uri": f"http://127.0.0.1:{free_port()}/cb",
    }
    registration = {
        "client_id": other["client_id"],
        "client_secret": other["client_secret"],
        "redirect_uris": [other["redirect_uri"]],
    }
    with running_provider(f"http://127.0.0.1:{port}", extra_clients=[registration]) as provider:
        foreign = await id_token_for_another_application(provider, browser_context, other)
        with TamperingTokenProxy(provider.issuer + "/token", lambda _ours: foreign) as proxy:
            await refused_sign_in(
                start_server, browser_context, provider, proxy, "meant for another application"
            )
