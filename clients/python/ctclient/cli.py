"""``ctclient``: host a folder, or join one, from a terminal.

    ctclient host DIR --server URL [--name NAME] [--auto-admit] [--share on-demand|all]
                  [--read-only-guests] [--guests-keep-files] [--ca-file PEM | --fingerprint FP]
    ctclient join URL DIR [--name NAME] [--open PATH ...] [--ca-file PEM | --fingerprint FP]
    ctclient status DIR
    ctclient open DIR/PATH
    ctclient login --server URL [--device] [--no-browser]
    ctclient logout --server URL

This module parses the command line and runs the command: ``host`` is in
hosting.py, ``join`` in joining.py, exit codes in outcomes.py. The join link is
the first line ``host`` prints on stdout; everything else goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ctclient.control import ControlDir
from ctclient.errors import BadLink, CtClientError, ServerError, SessionClosed
from ctclient.hosting import host
from ctclient.joining import join
from ctclient.outcomes import (
    EXIT_CODES,
    REFUSED_EXIT,
    close_exit,
    closed_because,
    refused_because,
    say,
    show,
)
from ctclient.signin import login, logout
from ctclient.trust import Untrusted

try:  # present in the copy a ctserver offers for download under /clients/
    from ctclient._defaults import (  # type: ignore[import-not-found,unused-ignore]
        SERVER_URL as DEFAULT_SERVER,
    )
except ImportError:
    DEFAULT_SERVER = None


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
    show(f"{current['role']} of session {current['session']} on {current['server']}")
    show(f"you are peer {current['you']} ({current['state']})")
    for person in current["participants"]:  # names and paths chosen by peers
        flags = " read-only" if person.get("read_only") else ""
        files = ", ".join(person["open"]) or "no files open"
        at = current.get("cursors", {}).get(str(person["peer_id"]))
        where = f"; editing {at}" if at else ""
        show(f"  {person['peer_id']:>3} {person['name']} ({person['role']}{flags}): {files}{where}")
    if current["role"] == "guest":
        show("open here: " + (", ".join(current["open_here"]) or "none"))
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
            show(f"{relative} is open and stays in step")
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
    signing_in = commands.add_parser(
        "login", help="sign in to a server that uses single sign-on", formatter_class=fmt
    )
    signing_in.add_argument("--server", default=DEFAULT_SERVER, required=DEFAULT_SERVER is None)
    signing_in.add_argument(
        "--device", action="store_true", help="sign in on another device with a code"
    )
    signing_in.add_argument(
        "--no-browser", action="store_true", help="print the sign-in address instead of opening it"
    )
    add_trust_options(signing_in)
    signing_out = commands.add_parser("logout", help="revoke and forget this server's token")
    signing_out.add_argument("--server", default=DEFAULT_SERVER, required=DEFAULT_SERVER is None)
    add_trust_options(signing_out)
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
    if args.command in ("login", "logout"):
        try:
            return login(args) if args.command == "login" else logout(args)
        except (Untrusted, CtClientError) as exc:
            say(f"ctclient: {exc}")
            return 3
    try:
        return asyncio.run(run(args))
    except BadLink as exc:
        say(f"ctclient: {exc}")
        return 2
    except ServerError as exc:
        say(f"ctclient: the server refused: {refused_because(exc)}")
        return REFUSED_EXIT.get(exc.code, 1)
    except SessionClosed as exc:
        say(f"ctclient: {closed_because({'code': exc.code, 'reason': exc.reason})}")
        return close_exit(exc.code)
    except (Untrusted, CtClientError) as exc:
        say(f"ctclient: {exc}")
        return 3


if __name__ == "__main__":
    sys.exit(main())
