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

from ctclient.control import ControlDir
from ctclient.errors import CtClientError
from ctclient.files import Folder
from ctclient.live import next_event, status_of, stop_tasks, watch
from ctclient.outcomes import CLOSE_EXIT, closed_because, say
from ctclient.peer import Peer, create_session
from ctclient.sharing import HostShare
from ctclient.trust import context_for


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


async def host(args: argparse.Namespace) -> int:
    root = Path(args.dir)
    if not root.is_dir():
        say(f"ctclient: {root} is not a folder")
        return 2
    context = context_for(args.server, args.ca_file, args.fingerprint)
    link, secret = await create_session(
        args.server, name=args.name, auto_admit=args.auto_admit, ssl_context=context
    )
    print(link, flush=True)
    peer = await Peer(link, name=args.name, host_secret=secret, ssl_context=context).start()

    share = HostShare(
        Folder(root),
        peer.send,
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
        await stop_tasks([watcher])
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
