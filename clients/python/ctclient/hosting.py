"""``ctclient host``: share a folder and admit guests."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ctclient.auth import ServerAuth
from ctclient.control import ControlDir
from ctclient.errors import CtClientError
from ctclient.files import Folder
from ctclient.live import next_event, status_of, stop_tasks, watch
from ctclient.outcomes import close_exit, closed_because, say, show, who
from ctclient.peer import Peer, create_session
from ctclient.sharing import HostShare
from ctclient.trust import context_for

# Errors after an admit (docs/protocol.md §5.5), in words.
LICENSE_REFUSALS = {
    "license_full": "every connection the server's license allows is in use; "
    "admit again when someone leaves",
    "no_license": "the server has no valid license, so it takes no new connections",
}


class Terminal:
    """Questions to the person at the terminal, one at a time, without blocking the
    session: answers are read by a daemon thread, which never holds up exit."""

    def __init__(self) -> None:
        self._answers: asyncio.Queue[str] = asyncio.Queue()
        self._turn = asyncio.Lock()
        self._reader: threading.Thread | None = None

    def _read(self, loop: asyncio.AbstractEventLoop) -> None:
        # The session may end, and its loop close, while this thread still reads: an
        # answer typed then has nobody to go to.
        with contextlib.suppress(RuntimeError):
            for line in sys.stdin:
                loop.call_soon_threadsafe(self._answers.put_nowait, line)
            loop.call_soon_threadsafe(self._answers.put_nowait, "")  # end of input: "no"

    async def ask(self, question: str, still_asked: Callable[[], bool]) -> bool | None:
        """The answer, or None when by its turn the question no longer matters."""
        async with self._turn:
            if not still_asked():
                return None
            if self._reader is None:
                loop = asyncio.get_running_loop()
                self._reader = threading.Thread(target=self._read, args=(loop,), daemon=True)
                self._reader.start()
            say(question)
            answer = await self._answers.get()
            return answer.strip().lower() in ("y", "yes")


async def decide(peer: Peer, terminal: Terminal, guest: dict[str, Any], waiting: set[int]) -> None:
    """Ask about one guest, unless it stopped waiting before its question's turn."""
    peer_id = guest["peer_id"]
    answer = await terminal.ask(
        f"{who(guest)} wants to join. Admit? [y/N]", lambda: peer_id in waiting
    )
    if answer is None:
        return
    waiting.discard(peer_id)
    if answer:
        await peer.admit(peer_id)
    else:
        await peer.deny(peer_id)


async def host(args: argparse.Namespace) -> int:
    root = Path(args.dir)
    if not root.is_dir():
        say(f"ctclient: {root} is not a folder")
        return 2
    context = context_for(args.server, args.ca_file, args.fingerprint)
    auth = ServerAuth(args.server, context)  # sends a token only after `ctclient login`
    link, secret = await create_session(
        args.server, name=args.name, auto_admit=args.auto_admit, ssl_context=context, auth=auth
    )
    show(str(link))  # the session id in it is the server's
    peer = await Peer(
        link, name=args.name, host_secret=secret, ssl_context=context, auth=auth
    ).start()

    share = HostShare(
        Folder(root),
        peer.send,
        say,
        share_all=args.share == "all",
        keep_files=args.guests_keep_files,
    )
    share.identify(peer.name, peer.peer_id)
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
        await stop_tasks([watcher])
        if peer.closed is None:  # stopped by Ctrl-C: end the session for everyone
            with contextlib.suppress(CtClientError, OSError):
                await peer.end()


async def adopt(peer: Peer, share: HostShare, guest: dict[str, Any], all_read_only: bool) -> None:
    """A guest the host learns is admitted, from ``admitted`` or from a ``welcome``
    (guests admitted while the host was away, or before its first hello, are
    announced only there). Under ``--read-only-guests`` its edits are refused from
    now on, before the relay has the flag."""
    read_only = all_read_only or guest["read_only"]
    share.set_read_only(guest["peer_id"], read_only)
    if read_only and not guest["read_only"]:
        await peer.set_read_only(guest["peer_id"], True)


async def host_events(
    peer: Peer,
    share: HostShare,
    args: argparse.Namespace,
    on_change: Callable[[], None] | None = None,
) -> int:
    terminal = Terminal()
    decisions: set[asyncio.Task[None]] = set()
    waiting: set[int] = set()  # guests in the lobby with a question pending
    try:
        while True:
            event = await next_event(peer, share, on_change)
            if event.kind == "join_request":  # asked aside, so the session goes on meanwhile
                guest = event.data["peer"]
                if guest["peer_id"] not in waiting:  # asked again (we reconnected): one question
                    waiting.add(guest["peer_id"])
                    decisions.add(asyncio.create_task(decide(peer, terminal, guest, waiting)))
                decisions = {task for task in decisions if not task.done()}
            elif event.kind == "welcome":  # the first, or after a resume
                for guest in event.data["peers"]:
                    if guest["role"] == "guest":
                        await adopt(peer, share, guest, args.read_only_guests)
                        # Admitted while we were away or before we came (auto-admit):
                        # its hello_app may have reached nobody, so it gets the tree now.
                        await share.welcome(guest["peer_id"])
            elif event.kind == "presence":
                await presence(peer, share, event.data, args.read_only_guests, waiting)
            elif event.kind == "error" and event.data.get("code") in LICENSE_REFUSALS:
                # An admit found no licensed place: the guest stays in the lobby.
                say(f"Could not admit: {LICENSE_REFUSALS[event.data['code']]}")
            elif event.kind == "closed":
                say(f"Session closed: {closed_because(event.data)}")
                return close_exit(event.data["code"])
    finally:  # a question nobody answered must not act after the session
        await stop_tasks(list(decisions))


async def presence(
    peer: Peer, share: HostShare, data: dict[str, Any], all_read_only: bool, waiting: set[int]
) -> None:
    guest, what = data["peer"], data["event"]
    waiting.discard(guest["peer_id"])  # admitted, gone or denied: nothing to ask
    if what in ("admitted", "back"):
        await share.resend_cursor()
    if what == "admitted":
        say(f"{who(guest)} joined")
        await adopt(peer, share, guest, all_read_only)
    elif what in ("left", "removed"):
        say(f"{who(guest)} left")
        await share.forget(guest["peer_id"])
    elif what == "read_only":
        share.set_read_only(guest["peer_id"], guest["read_only"])
