"""Random concurrent edits by a host and two guests, through a real server, converge."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from pathlib import Path

import pytest
from ctclient import AppMessage, Peer, create_session
from ctclient.files import Folder
from ctclient.hosting import host_events
from ctclient.joining import guest_events
from ctclient.sharing import GuestShare, HostShare, Share
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.peers import FAST
from tests.support.server import ServerProcess

WORDS = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=6)


@pytest.fixture(scope="module")
def server(http_server: ServerProcess) -> ServerProcess:
    return http_server


def quiet(_text: str) -> None:
    pass


async def until(check: object, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():  # type: ignore[operator]
            await asyncio.sleep(0.02)


async def scenario(url: str, root: Path, edits: list[tuple[int, str, int]]) -> None:
    dirs = [root / name for name in ("host", "guest1", "guest2")]
    for folder in dirs:
        folder.mkdir(parents=True)
    (dirs[0] / "doc.txt").write_text("base\n")
    link, secret = await create_session(url, name="Host", auto_admit=True)
    host = await Peer(link, name="Host", host_secret=secret, policy=FAST).start()
    peers: list[Peer] = [host]
    shares: list[Share] = []
    tasks: list[asyncio.Task[int]] = []

    host_share = HostShare(Folder(dirs[0]), host.send, quiet)
    shares.append(host_share)
    options = argparse.Namespace(read_only_guests=False)
    tasks.append(asyncio.create_task(host_events(host, host_share, options)))
    for index, folder in enumerate(dirs[1:], start=1):
        guest = await Peer(link, name=f"Guest{index}", policy=FAST).start()
        await guest.wait_for("admitted")
        guest_share = GuestShare(Folder(folder), guest.send, quiet)
        guest_share.wanted.add("doc.txt")
        peers.append(guest)
        shares.append(guest_share)
        tasks.append(asyncio.create_task(guest_events(guest, guest_share)))
        await guest.send(AppMessage("hello_app", {"client": "test"}))
    files = [folder / "doc.txt" for folder in dirs]
    await until(lambda: all(f.exists() and f.read_text() == "base\n" for f in files))

    markers = []
    for number, (who, word, where) in enumerate(edits):  # all sent without waiting
        share = shares[who]
        text = files[who].read_text()
        starts = [0] + [i + 1 for i, char in enumerate(text) if char == "\n"]
        cut = starts[where % len(starts)]
        marker = f"[{number}:{word}]\n"
        markers.append(marker)
        files[who].write_text(text[:cut] + marker + text[cut:])
        await share.disk_changed("doc.txt")
    await until(lambda: len({f.read_text() for f in files}) == 1)
    final = files[0].read_text()
    assert all(final.count(marker) == 1 for marker in markers), final
    assert final.count("base\n") == 1
    await host.end()
    for task in tasks:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(task, 10)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(st.integers(0, 2), WORDS, st.integers(0, 100)),
        min_size=1,
        max_size=10,
    )
)
def test_random_concurrent_edits_converge_through_the_server(
    server: ServerProcess,
    tmp_path_factory: pytest.TempPathFactory,
    edits: list[tuple[int, str, int]],
) -> None:
    asyncio.run(scenario(server.http_url, tmp_path_factory.mktemp("edits"), edits))
