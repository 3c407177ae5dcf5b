"""``ctclient``: host a folder, or join one, from a terminal.

    ctclient host DIR --server URL [--name NAME] [--auto-admit] [--share on-demand|all]
                  [--read-only-guests] [--guests-keep-files] [--ca-file PEM]
    ctclient join URL DIR [--name NAME] [--open PATH ...] [--ca-file PEM]

The join link is the first line ``host`` prints on stdout; everything else goes
to stderr. Exit codes are listed in ``EXIT_CODES``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from watchfiles import Change, awatch

from ctclient.control import ControlDir
from ctclient.errors import BadLink, CtClientError, ServerError, SessionClosed
from ctclient.files import Folder
from ctclient.links import JoinLink
from ctclient.messages import AppMessage
from ctclient.peer import Event, Peer, create_session
from ctclient.sharing import GuestShare, HostShare, Share
from ctclient.trust import Untrusted, context_for

try:  # present in the copy a ctserver offers for download under /clients/
    from ctclient._defaults import (  # type: ignore[import-not-found,unused-ignore]
        SERVER_URL as DEFAULT_SERVER,
    )
except ImportError:
    DEFAULT_SERVER = None

EXIT_CODES = {
    0: "the session ended, or you left it",
    1: "an unexpected error",
    2: "bad arguments or join link",
    3: "the server could not be reached or trusted",
    4: "the host denied or removed you",
    5: "the session does not exist or has ended",
    6: "the session or server is full",
}
CLOSE_EXIT = {4006: 4, 4007: 4, 4004: 5, 4011: 6, 1006: 3}
CLOSE_REASONS = {
    1000: "you left",
    4004: "the session does not exist or has ended",
    4005: "the host ended the session",
    4006: "the host denied you",
    4007: "the host removed you",
    4011: "the session is full",
    4013: "the same peer connected again elsewhere",
}


def closed_because(data: dict[str, Any]) -> str:
    code = data["code"]
    return CLOSE_REASONS.get(code) or data["reason"] or f"connection closed ({code})"


WATCH_DEBOUNCE_MS = 100


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def trust(args: argparse.Namespace, url: str) -> ssl.SSLContext | None:
    return context_for(url, args.ca_file, args.fingerprint)


def relative(root: Path, changed: str) -> str | None:
    try:
        path = Path(changed).resolve().relative_to(root)
    except ValueError:
        return None
    text = path.as_posix()
    if text.startswith((".git/", ".ctclient/")) or Path(text).name.startswith(".ctclient-"):
        return None
    return text


async def watch(root: Path, share: Share, on_tree_change: Any = None) -> None:
    """Turn edits on disk, by any editor, into shared edits."""
    async for changes in awatch(root, debounce=WATCH_DEBOUNCE_MS, step=20, recursive=True):
        tree_changed = False
        for change, changed in changes:
            path = relative(share.folder.root, changed)
            if path is None:
                continue
            if change is Change.modified:
                await share.disk_changed(path)
            else:
                tree_changed = True
                if change is Change.added:
                    await share.disk_changed(path)
        if tree_changed and on_tree_change is not None:
            await on_tree_change()


def from_read_only_peer(peer: Peer, event: Event) -> bool:
    assert event.message is not None
    sender = peer.peers.get(event.message.sender, {})
    return event.message.type == "doc_update" and bool(sender.get("read_only"))


async def next_event(peer: Peer, share: Share, on_change: Callable[[], None] | None) -> Event:
    """The next event the host's or guest's loop must handle; file messages go to
    ``share`` here (edits from read-only peers are dropped)."""
    while True:
        event = await peer.events.get()
        if on_change is not None and event.kind != "closed":
            asyncio.get_running_loop().call_soon(on_change)
        if event.kind != "message" or event.message is None:
            return event
        if not from_read_only_peer(peer, event):
            await share.receive(event.message)


class Terminal:
    """Questions to the person at the terminal, one at a time, without blocking the
    session: answers are read by a daemon thread, which never holds up exit."""

    def __init__(self) -> None:
        self._answers: asyncio.Queue[str] = asyncio.Queue()
        self._turn = asyncio.Lock()
        self._reader: threading.Thread | None = None

    def _read(self, loop: asyncio.AbstractEventLoop) -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(self._answers.put_nowait, line)
        loop.call_soon_threadsafe(self._answers.put_nowait, "")  # end of input: "no"

    async def ask(self, question: str) -> bool:
        async with self._turn:
            if self._reader is None:
                loop = asyncio.get_running_loop()
                self._reader = threading.Thread(target=self._read, args=(loop,), daemon=True)
                self._reader.start()
            say(question)
            answer = await self._answers.get()
            return answer.strip().lower() in ("y", "yes")


async def decide(peer: Peer, terminal: Terminal, guest: dict[str, Any]) -> None:
    if await terminal.ask(f"{guest['name']} wants to join. Admit? [y/N]"):
        await peer.admit(guest["peer_id"])
    else:
        await peer.deny(guest["peer_id"])


def status_of(peer: Peer, share: Share, opens: dict[int, list[str]]) -> dict[str, Any]:
    participants = []
    for peer_id, info in sorted(peer.peers.items()):
        participants.append({**info, "open": opens.get(peer_id, [])})
    return {
        "role": peer.role,
        "session": peer.link.session_id,
        "server": peer.link.server_url,
        "you": peer.peer_id,
        "state": peer.state,
        "participants": participants,
        "open_here": sorted(share.documents),
    }


async def serve_requests(control: ControlDir, share: GuestShare) -> None:
    """``ctclient open DIR/PATH`` asks through the control folder."""
    while True:
        for path in control.take_requests():
            try:
                await share.open(path)
            except CtClientError as exc:
                say(f"cannot open {path}: {exc}")
        await asyncio.sleep(0.2)


# -- host ------------------------------------------------------------------------------


async def host(args: argparse.Namespace) -> int:
    root = Path(args.dir)
    if not root.is_dir():
        say(f"ctclient: {root} is not a folder")
        return 2
    context = trust(args, args.server)
    link, secret = await create_session(
        args.server, name=args.name, auto_admit=args.auto_admit, ssl_context=context
    )
    print(link, flush=True)
    peer = await Peer(link, name=args.name, host_secret=secret, ssl_context=context).start()

    async def send(message: AppMessage, to: int | None) -> None:
        await peer.send(message, to)

    share = HostShare(
        Folder(root),
        send,
        say,
        share_all=args.share == "all",
        keep_files=args.guests_keep_files,
    )
    texts = sum(entry.kind == "text" for entry in share.entries.values())
    say(
        f"Sharing {len(share.entries)} files ({texts} as text) from {root}; Ctrl-C ends the session"
    )
    for entry in share.entries.values():
        if entry.kind != "text":
            say(f"{entry.path}: shared as a name only ({entry.kind.replace('_', ' ')})")
    watcher = asyncio.create_task(watch(share.folder.root, share, share.tree_changed))
    control = ControlDir(share.folder.root)
    control.create()

    def publish_status() -> None:
        control.write_status(status_of(peer, share, share.opened_by_lists()))

    publish_status()
    try:
        return await host_events(peer, share, args, publish_status)
    finally:
        control.remove()
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        if peer.closed is None:  # stopped by Ctrl-C: end the session for everyone
            with contextlib.suppress(CtClientError, OSError):
                await peer.end()


async def host_events(
    peer: Peer,
    share: HostShare,
    args: argparse.Namespace,
    on_change: Callable[[], None] | None = None,
) -> int:
    terminal = Terminal()
    decisions: set[asyncio.Task[None]] = set()
    while True:
        event = await next_event(peer, share, on_change)
        if event.kind == "join_request":  # asked aside, so the session goes on meanwhile
            decisions.add(asyncio.create_task(decide(peer, terminal, event.data["peer"])))
            decisions = {task for task in decisions if not task.done()}
        elif event.kind == "presence":
            guest = event.data["peer"]
            if event.data["event"] == "admitted":
                say(f"{guest['name']} joined")
                if args.read_only_guests:
                    await peer.set_read_only(guest["peer_id"], True)
            elif event.data["event"] in ("left", "removed"):
                say(f"{guest['name']} left")
                await share.forget(guest["peer_id"])
            if guest.get("read_only"):
                share.read_only.add(guest["peer_id"])
            else:
                share.read_only.discard(guest["peer_id"])
        elif event.kind == "closed":
            say(f"Session closed: {closed_because(event.data)}")
            return CLOSE_EXIT.get(event.data["code"], 0)


# -- join -------------------------------------------------------------------------------


async def join(args: argparse.Namespace) -> int:
    link = JoinLink.parse(args.url)
    root = Path(args.dir)
    root.mkdir(parents=True, exist_ok=True)
    peer = await Peer(link, name=args.name, ssl_context=trust(args, link.server_url)).start()
    if peer.state == "lobby":
        say("Waiting for the host to admit you...")
        await peer.wait_for("admitted", timeout=24 * 3600)
    say(f"Joined; the shared folder is {root}")

    async def send(message: AppMessage, to: int | None) -> None:
        await peer.send(message, to)

    share = GuestShare(Folder(root), send, say)
    share.wanted.update(args.open or [])
    await send(AppMessage("hello_app", {"client": "ctclient"}), None)
    control = ControlDir(share.folder.root)
    control.create()

    def publish_status() -> None:
        control.write_status(status_of(peer, share, share.opens))

    publish_status()
    helpers = [
        asyncio.create_task(watch(share.folder.root, share)),
        asyncio.create_task(serve_requests(control, share)),
    ]
    code = 0
    try:
        code = await guest_events(peer, share, publish_status)
    finally:
        control.remove()
        for helper in helpers:
            helper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await helper
        if peer.closed is None:  # stopped by Ctrl-C: leave for good
            with contextlib.suppress(CtClientError, OSError):
                await peer.leave()
        if share.keep_files:
            say("The host lets you keep the files: they stay in the folder")
        else:
            removed = share.clean_up()
            say(f"Removed the {len(removed)} files received in this session, as the host asks")
    return code


async def rejoin(peer: Peer, share: GuestShare) -> None:
    """After a reconnect (ours or the host's): ask for the tree, bring open files level."""
    await peer.send(AppMessage("hello_app", {"client": "ctclient"}))
    await share.resync()


async def guest_events(
    peer: Peer, share: GuestShare, on_change: Callable[[], None] | None = None
) -> int:
    while True:
        event = await next_event(peer, share, on_change)
        if event.kind == "resumed":
            await rejoin(peer, share)
        elif event.kind == "presence":
            who, what = event.data["peer"], event.data["event"]
            if what == "host_back":
                await rejoin(peer, share)
            elif what == "read_only" and who["peer_id"] == peer.peer_id:
                share.read_only = bool(who["read_only"])
                say("You are read-only now" if share.read_only else "You may edit again")
        elif event.kind == "closed":
            say(f"Session closed: {closed_because(event.data)}")
            return CLOSE_EXIT.get(event.data["code"], 0)


# -- status and open ------------------------------------------------------------------------


def find_running(start: Path) -> tuple[ControlDir, dict[str, Any]] | None:
    """The running ctclient whose shared folder holds ``start``."""
    for folder in [start, *start.parents]:
        control = ControlDir(folder)
        status = control.read_status()
        if status is not None:
            return control, status
    return None


def status(args: argparse.Namespace) -> int:
    found = find_running(Path(args.dir).resolve())
    if found is None:
        say(f"ctclient: no ctclient host or join is running for {args.dir}")
        return 2
    _, current = found
    print(f"{current['role']} of session {current['session']} on {current['server']}")
    print(f"you are peer {current['you']} ({current['state']})")
    for person in current["participants"]:
        flags = " read-only" if person.get("read_only") else ""
        files = ", ".join(person["open"]) or "no files open"
        print(f"  {person['peer_id']:>3} {person['name']} ({person['role']}{flags}): {files}")
    if current["role"] == "guest":
        print("open here: " + (", ".join(current["open_here"]) or "none"))
    return 0


def open_file(args: argparse.Namespace) -> int:
    target = Path(args.path).absolute()
    found = find_running(target.parent.resolve())
    if found is None:
        say(f"ctclient: no ctclient join is running for {args.path}")
        return 2
    control, current = found
    if current["role"] != "guest":
        say("ctclient: the host already has every file")
        return 2
    relative = target.resolve().relative_to(control.path.parent).as_posix()
    control.request_open(relative)
    for _ in range(100):
        current = control.read_status() or {}
        if relative in current.get("open_here", []):
            print(f"{relative} is open and stays in step")
            return 0
        time.sleep(0.1)
    say(f"ctclient: {relative} did not open (is it a shared text file?)")
    return 1


# -- entry point -------------------------------------------------------------------------


def add_trust_options(command: argparse.ArgumentParser) -> None:
    trusted = command.add_mutually_exclusive_group()
    trusted.add_argument("--ca-file", help="PEM certificate(s) to trust for the server")
    trusted.add_argument(
        "--fingerprint",
        metavar="SHA256",
        help="trust only the server certificate with this SHA-256 fingerprint (from its log)",
    )


def parser() -> argparse.ArgumentParser:
    epilog = "exit codes:\n" + "\n".join(f"  {c}  {m}" for c, m in EXIT_CODES.items())
    top = argparse.ArgumentParser(
        prog="ctclient",
        description="Share a folder through a ctserver, end-to-end encrypted.",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = top.add_subparsers(dest="command", required=True)
    fmt = argparse.RawDescriptionHelpFormatter
    hosting = commands.add_parser("host", help="share a folder", epilog=epilog, formatter_class=fmt)
    hosting.add_argument("dir", help="the folder to share")
    hosting.add_argument(
        "--server",
        default=DEFAULT_SERVER,
        required=DEFAULT_SERVER is None,
        help=f"the ctserver URL (default: {DEFAULT_SERVER or 'none; required'})",
    )
    hosting.add_argument("--name", default="Host", help="your display name")
    hosting.add_argument("--auto-admit", action="store_true", help="admit guests without asking")
    hosting.add_argument(
        "--share",
        choices=["on-demand", "all"],
        default="on-demand",
        help="send file contents only when a guest opens a file (default), or all text files",
    )
    hosting.add_argument("--read-only-guests", action="store_true", help="guests cannot edit")
    hosting.add_argument(
        "--guests-keep-files", action="store_true", help="guests keep the files after the session"
    )
    add_trust_options(hosting)
    joining = commands.add_parser(
        "join", help="join a shared folder", epilog=epilog, formatter_class=fmt
    )
    joining.add_argument("url", help="the join link, with the key after '#'")
    joining.add_argument("dir", help="where to put the shared files")
    joining.add_argument("--name", default="Guest", help="your display name")
    joining.add_argument(
        "--open", action="append", metavar="PATH", help="a file to open at once (repeatable)"
    )
    add_trust_options(joining)
    showing = commands.add_parser(
        "status", help="who is in the session and who has which file open", epilog=epilog
    )
    showing.add_argument("dir", help="a folder being hosted or joined")
    opening = commands.add_parser("open", help="open a shared file in a running join")
    opening.add_argument("path", help="DIR/PATH of a file in a joined folder")
    return top


async def run(args: argparse.Namespace) -> int:
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    try:
        return await (host(args) if args.command == "host" else join(args))
    except asyncio.CancelledError:
        say("Stopped")
        return 0


def main(argv: Iterable[str] | None = None) -> int:
    try:
        return _main(argv)
    finally:  # a late Ctrl-C while exiting must not turn a clean exit into a traceback
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _main(argv: Iterable[str] | None) -> int:
    args = parser().parse_args(None if argv is None else list(argv))
    if args.command == "status":
        return status(args)
    if args.command == "open":
        return open_file(args)
    try:
        return asyncio.run(run(args))
    except BadLink as exc:
        say(f"ctclient: {exc}")
        return 2
    except ServerError as exc:
        say(f"ctclient: the server refused: {exc}")
        return 6 if exc.code == "too_many_sessions" else 1
    except SessionClosed as exc:
        say(f"ctclient: {closed_because({'code': exc.code, 'reason': exc.reason})}")
        return CLOSE_EXIT.get(exc.code, 1)
    except (Untrusted, CtClientError) as exc:
        say(f"ctclient: {exc}")
        return 3


if __name__ == "__main__":
    sys.exit(main())
