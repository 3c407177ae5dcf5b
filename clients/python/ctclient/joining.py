"""``ctclient join``: materialise a shared folder and keep opened files in step."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path

from ctclient.auth import ServerAuth
from ctclient.control import ControlDir
from ctclient.errors import CtClientError
from ctclient.files import Folder
from ctclient.links import JoinLink
from ctclient.live import next_event, status_of, stop_tasks, watch
from ctclient.messages import AppMessage
from ctclient.outcomes import close_exit, closed_because, say
from ctclient.peer import Peer
from ctclient.sharing import HOST, GuestShare
from ctclient.trust import context_for

# Sent once admitted and after every reconnect: the host answers with the tree.
HELLO_APP = AppMessage("hello_app", {"client": "ctclient"})


async def serve_requests(control: ControlDir, share: GuestShare) -> None:
    """``ctclient open DIR/PATH`` asks through the control folder."""
    while True:
        for path in control.take_requests():
            try:
                await share.open(path)
            except CtClientError as exc:
                say(f"cannot open {path}: {exc}")
        await asyncio.sleep(0.2)


async def join(args: argparse.Namespace) -> int:
    link = JoinLink.parse(args.url)
    root = Path(args.dir)
    root.mkdir(parents=True, exist_ok=True)
    context = context_for(link.server_url, args.ca_file, args.fingerprint)
    peer = await Peer(
        link, name=args.name, ssl_context=context, auth=ServerAuth(link.server_url, context)
    ).start()
    if peer.state == "lobby":
        say("Waiting for the host to admit you...")
        await peer.wait_for("admitted", timeout=24 * 3600)
    say(f"Joined; the shared folder is {root}")

    share = GuestShare(Folder(root), peer.send, say)
    share.identify(peer.name, peer.peer_id)
    share.wanted.update(args.open or [])
    await peer.send(HELLO_APP, HOST)
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
        await stop_tasks(helpers)
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
    await peer.send(HELLO_APP, HOST)
    await share.resync()
    await share.resend_cursor()


def become_read_only(share: GuestShare, read_only: bool) -> None:
    """Follow the host's decision, saying each change once."""
    if read_only != share.read_only:
        share.read_only = read_only
        say("You are read-only now" if read_only else "You may edit again")


async def guest_events(
    peer: Peer, share: GuestShare, on_change: Callable[[], None] | None = None
) -> int:
    while True:
        event = await next_event(peer, share, on_change)
        if event.kind == "resumed":
            me = peer.peers.get(peer.peer_id)
            if me is not None:  # the flag may have changed while we were away, unannounced
                become_read_only(share, bool(me["read_only"]))
            await rejoin(peer, share)
        elif event.kind == "presence":
            who, what = event.data["peer"], event.data["event"]
            if what in ("host_back", "host_joined"):  # a host that was not there had
                await rejoin(peer, share)  # no tree to send us: ask again
            elif what in ("left", "removed"):
                share.cursors.forget(who["peer_id"])
            elif what in ("admitted", "back"):
                await share.resend_cursor()
            elif what == "read_only" and who["peer_id"] == peer.peer_id:
                become_read_only(share, bool(who["read_only"]))
        elif event.kind == "error" and event.data.get("code") == "read_only":
            # An edit sent before the flag reached us, refused by the relay. Said once:
            # later edits are undone locally, each with its own notice.
            if not share.read_only:
                share.read_only = True
                say("You are read-only: the relay refused your edit; the others do not see it")
        elif event.kind == "closed":
            say(f"Session closed: {closed_because(event.data)}")
            return close_exit(event.data["code"])
