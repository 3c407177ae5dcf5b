"""What peers and servers choose (names, paths, reasons) reaches the terminal escaped."""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ctclient.cli import status
from ctclient.control import ControlDir
from ctclient.files import Folder
from ctclient.hosting import host_events
from ctclient.outcomes import printable, say
from ctclient.peer import Peer
from ctclient.sharing import HostShare
from websockets.asyncio.server import ServerConnection

from tests.support.peers import FakeRelay, control, fake_session_api, peer_object, welcome

# The display name an attacker used: cursor up, erase the line, set the window
# title, ring the bell, then reverse the text that follows.
HOSTILE = "Mallory\x1b[1A\x1b[2K\x1b]0;pwned\x07\u202e"
SHOWN = "Mallory\\x1b[1A\\x1b[2K\\x1b]0;pwned\\x07\\u202e"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (HOSTILE, SHOWN),
        ("tab\there\nnew line\r", "tab\\x09here\\x0anew line\\x0d"),  # Cc
        ("\x00\x7f\x85\x9b", "\\x00\\x7f\\x85\\x9b"),  # NUL, DEL, NEL, CSI (Cc)
        ("a\u2028b\u2029c", "a\\u2028b\\u2029c"),  # Zl, Zp
        ("\u200b\u2066\u202d\ufeff\xad", "\\u200b\\u2066\\u202d\\ufeff\\xad"),  # Cf
        ("tag\U000e0001", "tag\\U000e0001"),  # Cf beyond the BMP
        ("lone\ud800\udfff", "lone\\ud800\\udfff"),  # Cs (unpaired surrogates)
        ("\ue000\U000f0000", "\\ue000\\U000f0000"),  # Co
        ("\u0378\U0010fffe", "\\u0378\\U0010fffe"),  # Cn
    ],
)
def test_printable_escapes_what_a_terminal_could_act_on(text: str, shown: str) -> None:
    assert printable(text) == shown


def test_printable_keeps_ordinary_text_of_any_script() -> None:
    text = "Zoë 李 Ελένη עברית Мария 🎉 naïve café \\x1b C:\\work ~/src/app.py"
    assert printable(text) == text


def test_say_writes_one_escaped_line(capsys: pytest.CaptureFixture[str]) -> None:
    say(f"{HOSTILE} left")
    assert capsys.readouterr().err == f"{SHOWN} left\n"


async def test_the_host_sees_a_hostile_guest_name_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    decisions: list[dict[str, object]] = []

    async def relay_with_a_hostile_guest(ws: ServerConnection) -> None:
        await ws.recv()  # hello
        await ws.send(welcome(peer_object(1, "Ada", "host")))
        await ws.send(control("join_request", peer=peer_object(2, HOSTILE, state="lobby")))
        decisions.append(json.loads(await ws.recv()))
        await ws.send(control("presence", event="admitted", peer=peer_object(2, HOSTILE)))
        await ws.send(control("presence", event="left", peer=peer_object(2, HOSTILE)))
        await ws.send(control("ended", reason="host_ended"))
        await ws.close(4005)

    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))  # the host answers "y"
    async with FakeRelay(relay_with_a_hostile_guest) as relay:
        peer = await Peer(relay.link, name="Ada", host_secret="h" * 43).start()
        share = HostShare(Folder(tmp_path), peer.send, say)
        code = await host_events(peer, share, argparse.Namespace(read_only_guests=False))

    assert code == 0
    assert decisions == [{"type": "admit", "peer": 2}]
    err = capsys.readouterr().err
    assert err.splitlines() == [
        f"{SHOWN} wants to join. Admit? [y/N]",
        f"{SHOWN} joined",
        f"{SHOWN} left",
        "Session closed: the host ended the session",
    ]
    assert not {"\x1b", "\x07", "\u202e"} & set(err)


def test_status_shows_names_and_paths_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    control_dir = ControlDir(tmp_path)
    control_dir.create()
    guest = {**peer_object(2, HOSTILE), "open": ["notes\u202etxt.exe"]}
    control_dir.write_status(
        {
            "role": "host",
            "session": "x3Jb0pQ1sW9mZk2Lr7yTvA",
            "server": "http://127.0.0.1:1",
            "you": 1,
            "state": "admitted",
            "participants": [guest],
            "open_here": [],
        }
    )
    assert status(argparse.Namespace(dir=str(tmp_path))) == 0
    out = capsys.readouterr().out
    assert f"    2 {SHOWN} (guest): notes\\u202etxt.exe\n" in out
    assert not {"\x1b", "\x07", "\u202e"} & set(out)


def test_a_malformed_session_id_from_the_server_is_refused_escaped(tmp_path: Path) -> None:
    created = {"session_id": "abc\x1b]0;pwned\x07", "host_secret": "h" * 43}
    with fake_session_api(201, created) as url:
        result = subprocess.run(
            [sys.executable, "-m", "ctclient.cli", "host", str(tmp_path), "--server", url],
            capture_output=True,
            text=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("CT_")},
            timeout=30,
        )
    assert result.returncode == 3
    assert result.stdout == ""  # no join link
    assert result.stderr == (
        "ctclient: the server answered with a malformed session id: abc\\x1b]0;pwned\\x07\n"
    )


async def test_the_host_is_not_asked_about_guests_who_stopped_waiting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A guest that knocks and leaves (or is asked about twice) leaves no stale
    question behind the real ones."""
    frames: list[dict[str, object]] = []

    async def relay(ws: ServerConnection) -> None:
        await ws.recv()  # hello
        await ws.send(welcome(peer_object(1, "Ada", "host")))
        await ws.send(control("join_request", peer=peer_object(2, "Bob", state="lobby")))
        await ws.send(control("join_request", peer=peer_object(3, "Knocker", state="lobby")))
        await ws.send(control("join_request", peer=peer_object(2, "Bob", state="lobby")))
        await ws.send(control("presence", event="left", peer=peer_object(3, "Knocker")))
        frames.append(json.loads(await ws.recv()))
        # Questions are asked in turn: a stale one would be answered before this one.
        await ws.send(control("join_request", peer=peer_object(4, "Later", state="lobby")))
        frames.append(json.loads(await ws.recv()))
        await ws.send(control("ended", reason="host_ended"))
        await ws.close(4005)

    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))  # then end of input: "no"
    async with FakeRelay(relay) as fake:
        peer = await Peer(fake.link, name="Ada", host_secret="h" * 43).start()
        share = HostShare(Folder(tmp_path), peer.send, say)
        await host_events(peer, share, argparse.Namespace(read_only_guests=False))

    assert frames == [{"type": "admit", "peer": 2}, {"type": "deny", "peer": 4}]
    questions = [line for line in capsys.readouterr().err.splitlines() if "Admit?" in line]
    assert questions == ["Bob wants to join. Admit? [y/N]", "Later wants to join. Admit? [y/N]"]
