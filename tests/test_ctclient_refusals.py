"""Refusals (closes and HTTP errors) said in words, with their exit codes; limits that
no reconnect can lift end the run."""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ctclient import Peer, SessionClosed, create_session
from ctclient.errors import ServerError
from ctclient.files import Folder
from ctclient.hosting import host_events
from ctclient.outcomes import REFUSED_EXIT, close_exit, closed_because, refused_because, say
from ctclient.sharing import HostShare
from websockets.asyncio.server import ServerConnection

from tests.support.peers import FAST, FakeRelay, control, fake_session_api, peer_object, welcome


def run_ctclient(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ctclient.cli", *args],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("CT_")},
        timeout=30,
    )


@pytest.mark.parametrize(
    ("code", "reason", "words", "exit_code"),
    [
        (1013, "", "the server has too many connections; try again later", 6),
        (4008, "", "the connection was too slow to keep up with the session", 1),
        (
            4009,
            "control frames are limited to 16384 bytes",
            "a message was too large for the server (control frames are limited to 16384 bytes)",
            1,
        ),
        (4010, "", "too many messages too fast (rate limited)", 1),
        (4012, "", "the connection did not say hello in time", 1),
        (
            4014,
            "",
            "too many connections, or guests waiting in this lobby, from your network address",
            6,
        ),
        (4015, "", "nobody admitted you in time", 4),
        (
            4016,
            "wait 42 s",
            "the host denied a guest from your address recently; wait before trying again"
            " (wait 42 s)",
            6,
        ),
        (
            4017,
            "",
            "every connection the server's license allows is in use; try again when someone leaves",
            6,
        ),
        (4018, "", "the server has no valid license, so it takes no new connections", 7),
        (4999, "", "connection closed (4999)", 1),
        (4005, "", "the host ended the session", 0),
        (1002, "the server sent a malformed frame: x", "the server sent a malformed frame: x", 1),
        (1011, "ctclient failed: TypeError: x", "ctclient failed: TypeError: x", 1),
        (1006, "connection lost", "connection lost", 3),
    ],
)
def test_closes_are_said_in_words_with_their_exit_code(
    code: int, reason: str, words: str, exit_code: int
) -> None:
    assert closed_because({"code": code, "reason": reason}) == words
    assert close_exit(code) == exit_code


@pytest.mark.parametrize(
    ("status", "code", "retry_after", "words", "exit_code"),
    [
        (
            429,
            "rate_limited",
            17,
            "too many sessions were created from your address in the last minute;"
            " try again in 17 s",
            6,
        ),
        (
            429,
            "too_many_sessions_from_address",
            None,
            "too many open sessions were created from your address",
            6,
        ),
        (
            503,
            "too_many_sessions",
            None,
            "the server has too many open sessions; try again later",
            6,
        ),
        (413, "too_large", None, "the request was too large (is --name very long?)", 2),
        (418, "teapot", None, "short and stout (teapot, HTTP 418)", 1),
    ],
)
def test_http_refusals_are_said_in_words_with_their_exit_code(
    status: int, code: str, retry_after: int | None, words: str, exit_code: int
) -> None:
    error = ServerError(status, code, "short and stout", retry_after)
    assert refused_because(error) == words
    assert REFUSED_EXIT.get(code, 1) == exit_code


@pytest.mark.parametrize(("header", "seconds"), [("17", 17), ("soon", None), ("-3", None)])
async def test_a_refusal_carries_the_retry_after_seconds(header: str, seconds: int | None) -> None:
    body = {"error": {"code": "rate_limited", "message": "too many sessions from 10.0.0.7"}}
    with (
        fake_session_api(429, body, **{"Retry-After": header}) as url,
        pytest.raises(ServerError) as refused,
    ):
        await create_session(url)
    assert (refused.value.status, refused.value.code) == (429, "rate_limited")
    assert refused.value.retry_after == seconds


def test_ctclient_host_says_a_rate_limit_in_words_and_exits_6(tmp_path: Path) -> None:
    body = {"error": {"code": "rate_limited", "message": "slow down"}}
    with fake_session_api(429, body, **{"Retry-After": "30"}) as url:
        result = run_ctclient("host", str(tmp_path), "--server", url)
    assert result.returncode == 6
    assert result.stderr == (
        "ctclient: the server refused: too many sessions were created from your address"
        " in the last minute; try again in 30 s\n"
    )


def test_an_unknown_refusal_shows_the_servers_message_escaped(tmp_path: Path) -> None:
    body = {"error": {"code": "nope", "message": "go away\x1b[2J\u202e"}}
    with fake_session_api(400, body) as url:
        result = run_ctclient("host", str(tmp_path), "--server", url)
    assert result.returncode == 1
    assert result.stderr == (
        "ctclient: the server refused: go away\\x1b[2J\\u202e (nope, HTTP 400)\n"
    )


async def test_ctclient_join_says_a_final_close_in_words_with_the_errors_message(
    tmp_path: Path,
) -> None:
    async def refuse(ws: ServerConnection) -> None:
        await ws.recv()  # hello
        await ws.send(control("error", code="retry_later", message="wait 42 s\x1b[31m"))
        await ws.close(4016)  # no reason: the error frame says it

    async with FakeRelay(refuse) as relay:
        result = await asyncio.to_thread(run_ctclient, "join", str(relay.link), str(tmp_path))
    assert result.returncode == 6
    assert result.stderr == (
        "ctclient: the host denied a guest from your address recently; wait before trying"
        " again (wait 42 s\\x1b[31m)\n"
    )


@pytest.mark.parametrize("code", [4014, 4015, 4016, 4017, 4018])
async def test_a_limit_met_on_reconnecting_ends_the_session(code: int) -> None:
    async def drop_then_refuse(ws: ServerConnection) -> None:
        await ws.recv()
        if relay.connections == 1:
            await ws.send(welcome(peer_object(2, "Bob")))
            await ws.close(1012)  # "reconnect and resume"
        else:
            await ws.send(control("error", code="limit", message="from 10.0.0.7"))
            await ws.close(code)

    relay = FakeRelay(drop_then_refuse)
    async with relay:
        peer = await Peer(relay.link, name="Bob", policy=FAST).start()
        closed = await peer.wait_for("closed", timeout=5)
        await peer.close()  # its connect loop has ended: no attempt can follow
    assert closed.data == {"code": code, "reason": "from 10.0.0.7"}
    assert relay.connections == 2


async def test_try_again_later_is_final_at_the_first_connection() -> None:
    async def full(ws: ServerConnection) -> None:
        await ws.recv()
        await ws.send(control("error", code="try_again_later", message="too many connections"))
        await ws.close(1013)

    async with FakeRelay(full) as relay:
        with pytest.raises(SessionClosed) as closed:  # raised once its connect loop ended
            await Peer(relay.link, name="Bob", policy=FAST).start()
    assert (closed.value.code, closed.value.reason) == (1013, "too many connections")
    assert relay.connections == 1


async def test_try_again_later_during_a_session_is_retried() -> None:
    async def busy_once(ws: ServerConnection) -> None:
        await ws.recv()
        if relay.connections == 2:
            await ws.close(1013)
            return
        await ws.send(welcome(peer_object(2, "Bob"), resumed=relay.connections > 1))
        if relay.connections == 1:
            await ws.close(1012)
        else:
            await ws.wait_closed()

    relay = FakeRelay(busy_once)
    async with relay:
        peer = await Peer(relay.link, name="Bob", policy=FAST).start()
        retried = [await peer.wait_for("reconnecting", timeout=5) for _ in range(2)]
        await peer.wait_for("resumed", timeout=5)
        assert peer.closed is None
        await peer.close()
    assert [event.data["code"] for event in retried] == [1012, 1013]
    assert relay.connections == 3


async def test_the_host_is_told_in_words_when_the_license_has_no_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def full_license(ws: ServerConnection) -> None:
        await ws.recv()  # hello
        await ws.send(welcome(peer_object(1, "Ada", "host")))
        await ws.send(control("join_request", peer=peer_object(2, "Bob", state="lobby")))
        await ws.recv()  # the admit
        await ws.send(control("error", code="license_full", message="all 5 in use", ref="admit"))
        await ws.send(control("ended", reason="host_ended"))
        await ws.close(4005)

    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))
    async with FakeRelay(full_license) as relay:
        peer = await Peer(relay.link, name="Ada", host_secret="h" * 43).start()
        share = HostShare(Folder(tmp_path), peer.send, say)
        await host_events(peer, share, argparse.Namespace(read_only_guests=False))
    assert (
        "Could not admit: every connection the server's license allows is in use; admit again"
        " when someone leaves" in capsys.readouterr().err
    )
