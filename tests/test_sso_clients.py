"""Single sign-on for clients that are not browsers: ``ctclient login`` through the
system browser (loopback redirect, PKCE) and with a device code, its token on HTTP
and on the WebSocket, renewal, expiry and revocation; against a real OpenID
provider (npm oidc-provider) and a real ctserver, the browser being Chromium."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import websockets
from ctclient.auth import ServerAuth, Tokens, TokenStore, renew
from ctclient.errors import ServerError
from ctclient.peer import Peer, create_session
from playwright.async_api import BrowserContext, expect

from tests.support.browser import browser_context, screenshot
from tests.support.oidc import Login, provider_sign_in, sso_server
from tests.support.server import ServerProcess

StartServer = Callable[..., ServerProcess]
TOKEN_LIFETIME = 10  # seconds: short, so that renewal and expiry happen in the test


@pytest.fixture
def server(start_server: StartServer) -> Iterator[ServerProcess]:
    with sso_server(start_server, CT_SSO_TOKEN_LIFETIME=str(TOKEN_LIFETIME)) as started:
        yield started


@pytest.fixture
async def browser() -> AsyncIterator[BrowserContext]:
    async with browser_context() as context:
        yield context


@pytest.fixture
def config_home(tmp_path: Path) -> Path:
    return tmp_path / "config"


def request(url: str, token: str | None, body: bytes | None = b"{}") -> tuple[int, str]:
    """POST (or GET without a body) with a bearer token: status and error code."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, data=body, headers=headers), timeout=10
        ) as response:
            return response.status, ""
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())["error"]["code"]


async def handshake_status(server: ServerProcess, token: str) -> tuple[int, str]:
    url = server.http_url.replace("http", "ws", 1) + "/ws/v1/sessions/abcdefghijklmnopqrstuv"
    try:
        async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {token}"}):
            return 101, ""
    except websockets.InvalidStatus as refused:
        error = json.loads(refused.response.body or b"")["error"]
        return refused.response.status_code, error["code"]


async def test_login_through_the_browser_then_host_renew_expire_and_logout(
    server: ServerProcess, browser: BrowserContext, config_home: Path
) -> None:
    login = Login(server.http_url, config_home, "--no-browser")
    address = (await login.line(r"(http://\S+/oauth/authorize/\S+)")).group(1)
    page = await browser.new_page()
    await page.goto(address)  # as the system browser would
    await provider_sign_in(page, "grace")
    await expect(page.get_by_role("heading", name="Sign in ctclient?")).to_be_visible()
    await expect(page.get_by_text("as Grace Hopper")).to_be_visible()
    await screenshot(page, "sso-ctclient-approve")
    await page.get_by_role("button", name="Allow").click()
    await expect(page.get_by_text("Signed in: you can close this page")).to_be_visible()
    assert await login.finish() == 0, login.lines

    path = config_home / "ctclient" / "tokens.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    store = TokenStore(path)
    first = store.get(server.http_url)
    assert first is not None and first.client_id == "ctclient"

    # Without its token the API refuses; with it (renewed first: 10 s tokens are never
    # fresh enough) a session is made and its host admitted over the WebSocket.
    with pytest.raises(ServerError, match="sign_in_required"):
        await create_session(server.http_url)
    auth = ServerAuth(server.http_url, None, store)
    link, secret = await create_session(server.http_url, name="Grace", auth=auth)
    renewed = store.get(server.http_url)
    assert renewed is not None and renewed.refresh_token != first.refresh_token
    host = await Peer(link, name="Grace", host_secret=secret, auth=auth).start()
    assert host.state == "admitted"
    await host.close()
    # The token is for sessions and downloads, not the dashboard or the admin.
    token = auth.headers()["Authorization"].split()[1]
    for blocked in ("/dashboard/live.json", "/admin/", "/logs/"):
        assert request(server.http_url + blocked, token, None)[0] == 401, blocked

    # Renewing revoked the access token it replaced.
    held = store.get(server.http_url)
    assert held is not None and held.access_token != renewed.access_token
    assert request(f"{server.http_url}/api/v1/sessions", renewed.access_token) == (
        401,
        "token_invalid",
    )
    # An expired access token is refused, on HTTP and on the handshake, as expired.
    time.sleep(max(0.0, held.expires_at - time.time()) + 1)
    assert request(f"{server.http_url}/api/v1/sessions", held.access_token) == (
        401,
        "token_expired",
    )
    assert await handshake_status(server, held.access_token) == (401, "token_expired")

    # Renewed once more, then revoked by logout: unknown to the server afterwards.
    assert auth.headers()["Authorization"] != f"Bearer {held.access_token}"
    held = store.get(server.http_url)
    assert held is not None
    out = subprocess.run(
        [sys.executable, "-m", "ctclient.cli", "logout", "--server", server.http_url],
        env={**os.environ, "XDG_CONFIG_HOME": str(config_home)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0 and "Signed out" in out.stderr
    assert store.get(server.http_url) is None
    with pytest.raises(ServerError):
        renew(server.http_url, None, held)
    assert request(f"{server.http_url}/api/v1/sessions", held.access_token) == (
        401,
        "token_invalid",
    )
    # Refresh tokens rotate: the first one was spent long ago.
    with pytest.raises(ServerError):
        renew(server.http_url, None, first)


@pytest.mark.parametrize("options", [("--device",), ()], ids=["asked", "no browser here"])
async def test_login_with_a_device_code(
    server: ServerProcess, browser: BrowserContext, config_home: Path, options: tuple[str, ...]
) -> None:
    login = Login(server.http_url, config_home, *options)
    verification = (await login.line(r"open (http://\S+)")).group(1)
    code = (await login.line(r"enter the code (\S+)")).group(1)
    assert verification == f"{server.http_url}/oauth/device/"

    page = await browser.new_page()  # another device: it signs in there
    await page.goto(verification)
    await provider_sign_in(page, "ada")
    await page.get_by_label(re.compile("code", re.I)).fill(code)
    await page.get_by_role("button", name="Continue").click()
    await expect(page.get_by_role("heading", name=re.compile("Sign in ctclient"))).to_be_visible()
    await page.get_by_role("button", name="Allow").click()
    await expect(page.get_by_role("heading", name=re.compile("Device"))).to_be_visible()
    await screenshot(page, "sso-device-approved")
    assert await login.finish() == 0, login.lines
    tokens = TokenStore(config_home / "ctclient" / "tokens.json").get(server.http_url)
    assert isinstance(tokens, Tokens) and tokens.client_id == "ctclient-device"
    assert request(f"{server.http_url}/api/v1/sessions", tokens.access_token)[0] == 201
