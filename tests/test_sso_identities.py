"""Who is in a session, under single sign-on: the verified names, addresses and
subjects in the lobby, presence, history and sessions.log, never the names peers
chose; and guests without an account, when the server allows them, marked
unverified everywhere and never admitted without the host."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from ctclient.auth import ServerAuth, TokenStore
from ctclient.peer import Peer, create_session
from playwright.async_api import BrowserContext

from tests.support.browser import browser_context
from tests.support.oidc import ctclient_login, provider_sign_in, sso_server
from tests.support.server import ServerProcess

StartServer = Callable[..., ServerProcess]


@pytest.fixture
def server(start_server: StartServer) -> Iterator[ServerProcess]:
    with sso_server(start_server, CT_SSO_ALLOW_UNVERIFIED_GUESTS="true") as started:
        yield started


@pytest.fixture
async def browser() -> AsyncIterator[BrowserContext]:
    async with browser_context() as context:
        yield context


async def guest_hello(
    server: ServerProcess, session_id: str, name: str, cookie: str | None = None
) -> tuple[Any, dict[str, Any]]:
    """A raw guest WebSocket saying hello with a name of its own choosing."""
    url = f"{server.http_url.replace('http', 'ws', 1)}/ws/v1/sessions/{session_id}"
    headers = {"Cookie": cookie} if cookie else {}
    ws = await websockets.connect(url, additional_headers=headers)
    await ws.send(json.dumps({"type": "hello", "role": "guest", "name": name}))
    return ws, json.loads(await ws.recv())


async def next_event(peer: Peer, kind: str) -> dict[str, Any]:
    event = await peer.wait_for(kind, timeout=10)
    return event.data


async def test_verified_identities_replace_chosen_names_and_unverified_guests_are_marked(
    server: ServerProcess, browser: BrowserContext, tmp_path: Path
) -> None:
    # The host: Grace, signed in with ctclient login; she asks to be called "Boss".
    tokens = await ctclient_login(server.http_url, browser, "grace", tmp_path / "grace")
    auth = ServerAuth(server.http_url, None, TokenStore(tokens))
    link, secret = await create_session(server.http_url, name="Boss", auto_admit=True, auth=auth)
    host = await Peer(link, name="Boss", host_secret=secret, auth=auth).start()

    # A guest signed in through the browser (Ada) says she is "Mallory": the session
    # auto-admits, and everyone sees Ada, verified.
    await browser.clear_cookies()  # another person: not Grace's provider session
    page = await browser.new_page()
    await page.goto(f"{server.http_url}/clients/")
    await provider_sign_in(page, "ada")
    cookies = {c["name"]: c["value"] for c in await browser.cookies(server.http_url)}
    ada_cookie = f"sessionid={cookies['sessionid']}"
    ada, welcome = await guest_hello(server, link.session_id, "Mallory", ada_cookie)
    assert welcome["type"] == "welcome" and welcome["state"] == "lobby"
    let_in = json.loads(await ada.recv())  # auto-admit: admitted at once
    assert let_in["type"] == "admitted"
    (them,) = [p for p in let_in["peers"] if p["role"] == "host"]
    assert (them["name"], them["email"], them["verified"]) == (
        "Grace Hopper",
        "grace@example.com",
        True,
    )
    admitted = await next_event(host, "presence")
    assert admitted["event"] == "admitted"
    assert {k: admitted["peer"][k] for k in ("name", "email", "verified")} == {
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "verified": True,
    }

    # Someone without an account: allowed in the lobby here, shown unverified, and
    # asked about although the session auto-admits.
    stranger, welcome = await guest_hello(server, link.session_id, "Visitor")
    assert welcome["state"] == "lobby"
    # From the lobby it sees who is there, not their addresses.
    assert {p["name"]: p["email"] for p in welcome["peers"]} == {
        "Grace Hopper": "",
        "Ada Lovelace": "",
    }
    asked = (await next_event(host, "join_request"))["peer"]
    assert (asked["name"], asked["verified"], asked["email"]) == ("Visitor", False, "")
    await host.admit(asked["peer_id"])
    assert json.loads(await stranger.recv())["type"] == "admitted"

    # Nobody hosts without signing in, whatever secret they hold.
    url = f"{server.http_url.replace('http', 'ws', 1)}/ws/v1/sessions/{link.session_id}"
    async with websockets.connect(url) as anonymous:
        hello = {"type": "hello", "role": "host", "name": "X", "host_secret": secret}
        await anonymous.send(json.dumps(hello))
        error = json.loads(await anonymous.recv())
        assert error["type"] == "error" and error["message"] == "a host must sign in"
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await anonymous.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4003

    # Only who created a session hosts it, even before they connect: Ada, signed in,
    # holding the host secret of a session Grace just made, is refused.
    other, other_secret = await create_session(server.http_url, name="Grace", auth=auth)
    url = f"{server.http_url.replace('http', 'ws', 1)}/ws/v1/sessions/{other.session_id}"
    async with websockets.connect(url, additional_headers={"Cookie": ada_cookie}) as taker:
        hello = {"type": "hello", "role": "host", "name": "Ada", "host_secret": other_secret}
        await taker.send(json.dumps(hello))
        error = json.loads(await taker.recv())
        assert error["message"] == "only who created the session may host it"

    await ada.close()
    await stranger.close()
    await host.close()

    # sessions.log: verified names with their address and subject; the stranger unverified.
    text = (server.data_dir / "logs" / "sessions.log").read_text()
    assert "Mallory" not in text and "Boss" not in text
    lines = [json.loads(line[line.index("{") :]) for line in text.splitlines() if "{" in line]
    ours = [line for line in lines if line["session"] == link.session_id]
    created = next(line for line in ours if line["event"] == "created")
    assert (created["host_name"], created["email"], created["subject"]) == (
        "Grace Hopper",
        "grace@example.com",
        "grace",
    )
    admitted_lines = {line["name"]: line for line in ours if line["event"] == "admitted"}
    assert admitted_lines["Ada Lovelace"]["subject"] == "ada"
    assert admitted_lines["Ada Lovelace"]["verified"] is True
    assert admitted_lines["Visitor"]["verified"] is False


def test_a_join_page_offers_to_join_unverified_only_where_allowed(server: ServerProcess) -> None:
    page = f"{server.http_url}/join/abcdefghijklmnopqrstuv"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(page, timeout=10)
    assert refused.value.code == 401
    assert b"Join as an unverified guest" in refused.value.read()
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(page + "?as=unverified", timeout=10)
    assert missing.value.code == 404  # the join page itself: this session is unknown
    assert b"Join as an unverified guest" not in missing.value.read()
