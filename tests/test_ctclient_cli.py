"""``ctclient host`` and ``ctclient join`` as people run them, through a real server."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import IO

import pytest
from ctclient import Peer, create_session
from ctclient.control import ControlDir
from ctclient.files import Folder
from ctclient.hosting import host_events
from ctclient.sharing import HostShare

from tests.support.ctclients import content, ctclient, stop
from tests.support.ports import free_port
from tests.support.proxy import TcpProxy
from tests.support.server import ServerProcess

MARKER = "MARKER-b51e-secret"
SECRET_NAME = "payroll-9f2c.py"


@pytest.fixture(scope="module")
def server(http_server: ServerProcess) -> ServerProcess:
    return http_server


async def eventually(check: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {what}")
        await asyncio.sleep(0.05)


@pytest.fixture
def host_dir(tmp_path: Path) -> Path:
    root = tmp_path / "host"
    (root / "src").mkdir(parents=True)
    (root / "src" / SECRET_NAME).write_text(f"salary = 1  # {MARKER}\n")
    (root / "README.md").write_text("# shared\n")
    (root / "logo.png").write_bytes(b"\x89PNG\x00\x00")
    (root / ".gitignore").write_text("*.log\n")
    (root / "debug.log").write_text("not shared\n")
    return root


@pytest.fixture
async def proxy(server: ServerProcess) -> AsyncIterator[TcpProxy]:
    capture = await TcpProxy(server.http_port).start()
    yield capture
    await capture.close()


async def test_host_and_join_keep_both_folders_in_step(
    server: ServerProcess, host_dir: Path, tmp_path: Path, proxy: TcpProxy
) -> None:
    hosting = ctclient("host", str(host_dir), "--server", f"http://127.0.0.1:{proxy.port}",
                       "--auto-admit", "--name", "Ada")  # fmt: skip
    joining = None
    try:
        assert hosting.stdout is not None
        link = (await asyncio.to_thread(hosting.stdout.readline)).strip()
        assert f"127.0.0.1:{proxy.port}/join/" in link and "#" in link
        guest_dir = tmp_path / "guest"
        guest_dir.mkdir()
        (guest_dir / "mine.txt").write_text("the guest's own file\n")
        joining = ctclient("join", link, str(guest_dir), "--open", f"src/{SECRET_NAME}")
        shared = guest_dir / "src" / SECRET_NAME
        await eventually(lambda: content(shared) == f"salary = 1  # {MARKER}\n", 10, "open file")
        assert (guest_dir / "README.md").exists() and (guest_dir / "logo.png").exists()
        assert not (guest_dir / "debug.log").exists()

        (host_dir / "src" / SECRET_NAME).write_text(f"salary = 2  # {MARKER}\n")
        await eventually(lambda: content(shared) == f"salary = 2  # {MARKER}\n", 2, "host edit")
        shared.write_text(f"salary = 3  # {MARKER}\n")
        await eventually(
            lambda: content(host_dir / "src" / SECRET_NAME) == f"salary = 3  # {MARKER}\n",
            2,
            "guest edit",
        )

        code, err = await asyncio.to_thread(stop, joining)  # the proxy runs on this loop
        assert code == 0, err
        assert "Removed the" in err
        assert not shared.exists() and not (guest_dir / "README.md").exists()
        assert (guest_dir / "mine.txt").read_text() == "the guest's own file\n"
    finally:
        if joining is not None:
            await asyncio.to_thread(stop, joining)
        code, err = await asyncio.to_thread(stop, hosting)
    assert code == 0, err
    seen = bytes(proxy.received)
    assert len(seen) > 1000
    assert MARKER.encode() not in seen and SECRET_NAME.encode() not in seen


def run_ctclient(
    *args: str, stdin: str = "", timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CT_")}
    return subprocess.run(
        [sys.executable, "-m", "ctclient.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def test_bad_link_and_unknown_session_have_their_exit_codes(
    server: ServerProcess, tmp_path: Path
) -> None:
    bad = run_ctclient("join", "https://example.com/nope", str(tmp_path / "g"))
    assert bad.returncode == 2 and "join link" in bad.stderr
    key = "A" * 43
    unknown = run_ctclient("join", f"{server.http_url}/join/{'B' * 22}#{key}", str(tmp_path / "g"))
    assert unknown.returncode == 5, unknown.stderr


def test_unreachable_server_is_exit_3(tmp_path: Path) -> None:
    result = run_ctclient("host", str(tmp_path), "--server", f"http://127.0.0.1:{free_port()}")
    assert result.returncode == 3 and "cannot reach" in result.stderr


def start_host(host_dir: Path, url: str, *options: str) -> tuple[subprocess.Popen[str], str]:
    hosting = ctclient("host", str(host_dir), "--server", url, "--name", "Ada", *options)
    assert hosting.stdout is not None
    return hosting, hosting.stdout.readline().strip()


def read_until(stream: IO[str], text: str) -> list[str]:
    """Lines from ``stream`` up to the first that holds ``text``."""
    lines = []
    for line in stream:
        lines.append(line)
        if text in line:
            return lines
    raise AssertionError(f"{text!r} never came: {''.join(lines)}")


def test_a_denied_guest_exits_4_and_another_from_its_address_must_wait(
    server: ServerProcess, host_dir: Path, tmp_path: Path
) -> None:
    hosting = ctclient("host", str(host_dir), "--server", server.http_url, stdin=subprocess.PIPE)
    assert hosting.stdout and hosting.stdin and hosting.stderr
    asked: list[str] = []
    try:
        link = hosting.stdout.readline().strip()
        mallory = ctclient("join", link, str(tmp_path / "m"), "--name", "Mallory")
        asked += read_until(hosting.stderr, "Mallory wants to join")
        eve = ctclient("join", link, str(tmp_path / "e"), "--name", "Eve")
        assert eve.stderr is not None
        read_until(eve.stderr, "Waiting for the host to admit you")  # Eve waits too
        hosting.stdin.write("n\n")
        hosting.stdin.flush()
        _, mallory_err = mallory.communicate(timeout=20)
        assert mallory.returncode == 4, mallory_err
        assert "the host denied you" in mallory_err
        asked += read_until(hosting.stderr, "Eve wants to join")  # nobody answers
        trent = run_ctclient("join", link, str(tmp_path / "t"), "--name", "Trent")
        assert trent.returncode == 6, trent.stderr  # the relay's back-off after a denial
        assert "the host denied a guest from your address recently" in trent.stderr
    finally:
        # Ctrl-C with a question pending still stops at once. Stdin stays open, as at a
        # terminal: closing it would answer "no" (deny Eve) in a race with the stop.
        hosting.send_signal(signal.SIGINT)
        code = hosting.wait(timeout=20)
        err = hosting.stderr.read()
        hosting.stdin.close()
    assert code == 0, err
    assert asked[-1] == "Eve wants to join. Admit? [y/N]\n"
    assert "Mallory wants to join. Admit? [y/N]\n" in asked
    _, eve_err = eve.communicate(timeout=20)  # Eve's join ends by itself
    assert eve.returncode == 0, eve_err  # the question about her went with the session
    assert "the host ended the session" in eve_err


async def test_read_only_guests_edits_are_not_applied(
    server: ServerProcess, host_dir: Path, tmp_path: Path
) -> None:
    hosting, link = start_host(
        host_dir, server.http_url, "--auto-admit", "--read-only-guests", "--share", "all"
    )
    guest_dir = tmp_path / "guest"
    joining = ctclient("join", link, str(guest_dir))
    try:
        shared = guest_dir / "README.md"
        await eventually(lambda: content(shared) == "# shared\n", 10, "shared with --share all")
        await eventually(lambda: is_read_only_there(guest_dir), 10, "the guest is read-only")
        shared.write_text("# vandalised\n")
        await eventually(lambda: content(shared) == "# shared\n", 5, "the edit undone")
        assert (host_dir / "README.md").read_text() == "# shared\n"
    finally:
        _, guest_err = await asyncio.to_thread(stop, joining)
        await asyncio.to_thread(stop, hosting)
    assert "you are read-only" in guest_err


def has_open(host_dir: Path, path: str) -> bool:
    """The running host's status says a guest has ``path`` open."""
    status = ControlDir(host_dir).read_status() or {}
    return any(path in person["open"] for person in status.get("participants", []))


def is_read_only_there(guest_dir: Path) -> bool:
    status = ControlDir(guest_dir).read_status() or {}
    you = [p for p in status.get("participants", []) if p["peer_id"] == status["you"]]
    return bool(you and you[0]["read_only"])


async def test_a_read_only_guest_still_opens_files_on_demand(
    server: ServerProcess, host_dir: Path, tmp_path: Path
) -> None:
    # The relay refuses a read-only guest's broadcasts: what it asks goes to the host alone.
    hosting, link = start_host(host_dir, server.http_url, "--auto-admit", "--read-only-guests")
    guest_dir = tmp_path / "guest"
    joining = ctclient("join", link, str(guest_dir))
    shared = guest_dir / "README.md"
    try:
        await eventually(lambda: is_read_only_there(guest_dir), 10, "the guest is read-only")
        opened = await asyncio.to_thread(run_ctclient, "open", str(shared))
        assert opened.returncode == 0, opened.stderr
        assert content(shared) == "# shared\n"
        (host_dir / "README.md").write_text("# shared\nmore\n")
        await eventually(lambda: content(shared) == "# shared\nmore\n", 5, "the host's edit")
    finally:
        _, guest_err = await asyncio.to_thread(stop, joining)
        await asyncio.to_thread(stop, hosting)
    assert "You are read-only now" in guest_err


async def test_guests_keep_files_when_the_host_allows_and_https_with_a_ca_file(
    server: ServerProcess, host_dir: Path, tmp_path: Path
) -> None:
    ca = str(server.certificate)
    hosting, link = start_host(
        host_dir, server.https_url, "--auto-admit", "--guests-keep-files", "--ca-file", ca
    )
    assert link.startswith("https://localhost:")
    guest_dir = tmp_path / "guest"
    joining = ctclient("join", link, str(guest_dir), "--open", "README.md", "--ca-file", ca)
    try:
        await eventually(lambda: content(guest_dir / "README.md") == "# shared\n", 10, "open")
        await asyncio.to_thread(stop, hosting)  # the host ends the session: the guest exits
        _, err = await asyncio.to_thread(joining.communicate, timeout=20)
    finally:
        await asyncio.to_thread(stop, hosting)
        await asyncio.to_thread(stop, joining)
    assert joining.returncode == 0, err
    assert "the host ended the session" in err
    assert "keep the files" in err
    assert (guest_dir / "README.md").read_text() == "# shared\n"


async def test_edits_during_a_network_cut_converge_without_loss_or_duplication(
    server: ServerProcess, host_dir: Path, tmp_path: Path, proxy: TcpProxy
) -> None:
    url = f"http://127.0.0.1:{proxy.port}"
    # Read the link in a thread: the proxy runs on this event loop.
    hosting, link = await asyncio.to_thread(start_host, host_dir, url, "--auto-admit")
    guest_dir = tmp_path / "guest"
    joining = ctclient("join", link, str(guest_dir), "--open", "README.md")
    host_file, guest_file = host_dir / "README.md", guest_dir / "README.md"
    try:
        await eventually(lambda: content(guest_file) == "# shared\n", 10, "open")
        proxy.cut()  # host and guest both lose their connections
        host_file.write_text("# shared\nhost line\n")
        guest_file.write_text("guest line\n# shared\n")
        expected = "guest line\n# shared\nhost line\n"
        # Both clients reconnect with backoff (0.2 s doubling, jittered): on a loaded
        # machine a few attempts can add up to over 10 s before both are back.
        await eventually(lambda: content(host_file) == expected, 25, "host converges")
        await eventually(lambda: content(guest_file) == expected, 25, "guest converges")
        # And stays converged: a duplicate would arrive before this later edit does.
        host_file.write_text(expected + "after\n")
        await eventually(lambda: content(guest_file) == expected + "after\n", 10, "in order")
        assert content(host_file) == expected + "after\n"
    finally:
        await asyncio.to_thread(stop, joining)
        await asyncio.to_thread(stop, hosting)


async def test_status_and_open_while_a_join_runs(
    server: ServerProcess, host_dir: Path, tmp_path: Path
) -> None:
    hosting, link = start_host(host_dir, server.http_url, "--auto-admit")
    guest_dir = tmp_path / "guest"
    joining = ctclient("join", link, str(guest_dir), "--name", "Bob")
    try:
        await eventually(lambda: (guest_dir / "README.md").exists(), 10, "tree materialised")
        opened = await asyncio.to_thread(run_ctclient, "open", str(guest_dir / "README.md"))
        assert opened.returncode == 0, opened.stderr
        assert content(guest_dir / "README.md") == "# shared\n"
        await eventually(lambda: has_open(host_dir, "README.md"), 10, "the host saw it opened")
        shown = await asyncio.to_thread(run_ctclient, "status", str(host_dir))
        assert shown.returncode == 0, shown.stderr
        assert "host of session" in shown.stdout
        assert "Bob (guest): README.md" in shown.stdout
        guest_view = await asyncio.to_thread(run_ctclient, "status", str(guest_dir))
        assert "open here: README.md" in guest_view.stdout
        # The host edits the file: its cursor (docs/protocol.md §10.2) shows where.
        (host_dir / "README.md").write_text("# shared\nmore\n")

        async def host_seen_editing() -> bool:
            view = await asyncio.to_thread(run_ctclient, "status", str(guest_dir))
            return "(host): no files open; editing README.md" in view.stdout

        async with asyncio.timeout(10):
            while not await host_seen_editing():
                await asyncio.sleep(0.2)
    finally:
        await asyncio.to_thread(stop, joining)
        await asyncio.to_thread(stop, hosting)
    assert not (guest_dir / ".ctclient").exists() and not (host_dir / ".ctclient").exists()
    nothing = run_ctclient("status", str(guest_dir))
    assert nothing.returncode == 2 and "no ctclient" in nothing.stderr


def test_an_untrusted_certificate_is_refused_with_its_fingerprint(
    server: ServerProcess, host_dir: Path
) -> None:
    refused = run_ctclient("host", str(host_dir), "--server", server.https_url)
    assert refused.returncode == 3
    logged = server.output.split("SHA-256 fingerprint ")[1].split(",")[0]
    assert f"--fingerprint {logged}" in refused.stderr
    wrong = run_ctclient(
        "host", str(host_dir), "--server", server.https_url, "--fingerprint", "AB" * 32
    )
    assert wrong.returncode == 3 and "not the one given" in wrong.stderr


async def test_a_pinned_fingerprint_is_trusted(
    server: ServerProcess, host_dir: Path, tmp_path: Path
) -> None:
    pin = server.output.split("SHA-256 fingerprint ")[1].split(",")[0]
    hosting, link = start_host(host_dir, server.https_url, "--auto-admit", "--fingerprint", pin)
    guest_dir = tmp_path / "guest"
    joining = ctclient("join", link, str(guest_dir), "--open", "README.md", "--fingerprint", pin)
    try:
        await eventually(lambda: content(guest_dir / "README.md") == "# shared\n", 10, "open")
    finally:
        await asyncio.to_thread(stop, joining)
        await asyncio.to_thread(stop, hosting)


async def test_a_guest_admitted_before_the_host_came_gets_the_tree(
    server: ServerProcess, host_dir: Path, tmp_path: Path
) -> None:
    """Auto-admitted before the host's first hello, the guest's hello_app reached
    nobody: the host sends the tree to the guests its welcome lists, and the guest
    asks again on host_joined (either alone would do; both are tested here)."""
    link, secret = await create_session(server.http_url, name="Ada", auto_admit=True)
    guest_dir = tmp_path / "guest"
    joining = ctclient("join", str(link), str(guest_dir), "--name", "Bob")
    task: asyncio.Task[int] | None = None
    try:
        await eventually(lambda: (guest_dir / ".ctclient").exists(), 10, "the guest admitted")
        host = await Peer(link, name="Ada", host_secret=secret).start()
        share = HostShare(Folder(host_dir), host.send, lambda _: None)
        args = argparse.Namespace(read_only_guests=False)
        task = asyncio.create_task(host_events(host, share, args))
        await eventually(lambda: (guest_dir / "README.md").exists(), 10, "the tree at the guest")
        await host.end()
        assert await asyncio.wait_for(task, 10) == 0
    finally:
        if task is not None and not task.done():
            task.cancel()
        await asyncio.to_thread(stop, joining)
