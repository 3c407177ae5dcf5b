"""``ctclient login`` and ``ctclient logout``: this server's token, for servers
that use single sign-on (the flows are in auth.py)."""

from __future__ import annotations

import argparse
import ssl
import webbrowser
from collections.abc import Callable

from ctclient.auth import (
    SignInFailed,
    Tokens,
    TokenStore,
    finish_device_login,
    login_with_browser,
    revoke,
    start_device_login,
)
from ctclient.errors import CtClientError
from ctclient.outcomes import say
from ctclient.trust import context_for


def login(args: argparse.Namespace) -> int:
    server = args.server.rstrip("/")
    context = context_for(server, args.ca_file, args.fingerprint)
    store = TokenStore()
    device = args.device
    if not device and not args.no_browser and not _browser_available():
        say("No web browser can be opened here: signing in with a code instead")
        device = True
    try:
        if device:
            tokens = _device(server, context)
        else:
            tokens = login_with_browser(server, context, _browser_opener(args.no_browser))
    except SignInFailed as exc:
        say(f"ctclient: {exc}")
        return 5
    store.put(server, tokens)
    say(f"Signed in to {server}; the token is kept in {store.path}")
    return 0


def _browser_available() -> bool:
    try:
        webbrowser.get()
    except webbrowser.Error:
        return False
    return True


def _browser_opener(never: bool) -> Callable[[str], bool]:
    def open_browser(url: str) -> bool:
        say("Sign in in your browser. If it did not open, open this address:")
        say(url)
        return False if never else webbrowser.open(url)

    return open_browser


def _device(server: str, context: ssl.SSLContext | None) -> Tokens:
    device = start_device_login(server, context)
    say(f"On any device, open {device.verification_uri}")
    say(f"and enter the code {device.user_code}")
    return finish_device_login(server, context, device)


def logout(args: argparse.Namespace) -> int:
    server = args.server.rstrip("/")
    store = TokenStore()
    tokens = store.get(server)
    if tokens is None:
        say(f"Not signed in to {server}")
        return 0
    try:
        revoke(server, context_for(server, args.ca_file, args.fingerprint), tokens)
    except CtClientError as exc:
        say(f"ctclient: {exc}; the token is forgotten here anyway")
    store.put(server, None)
    say(f"Signed out of {server}")
    return 0
