"""Signing in to a server that uses single sign-on (docs/sso.md, "Clients").

``ctclient login --server URL`` gets this server's own token after its user signed
in through the organisation's provider in a browser: the system browser with a
loopback redirect and PKCE (RFC 8252), or, with ``--device`` or when no browser
can be opened, a code to enter on any device (RFC 8628). oauthlib builds and reads
the OAuth messages. Tokens are kept per server in ``~/.config/ctclient/tokens.json``
(owner-only), renewed before they expire, and revoked by ``ctclient logout``.
"""

from __future__ import annotations

import contextlib
import fcntl
import http.server
import json
import os
import secrets
import ssl
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from oauthlib.oauth2 import DeviceClient, WebApplicationClient

from ctclient.errors import CtClientError, ServerError

LOOPBACK_CLIENT_ID = "ctclient"
DEVICE_CLIENT_ID = "ctclient-device"
SCOPE = ["sessions"]
RENEW_BEFORE_SECONDS = 30  # renew a token this close to its end rather than be refused
SIGN_IN_TIMEOUT = 300.0  # seconds a person has to finish signing in
USER_AGENT = "ctclient/0.1"
INSECURE_TRANSPORT = "OAUTHLIB_INSECURE_TRANSPORT"


class SignInFailed(CtClientError):
    """Signing in did not give a token; the message says why, for people."""


@dataclass
class Tokens:
    client_id: str
    access_token: str
    refresh_token: str
    expires_at: float  # time.time() when the access token ends

    def fresh(self) -> bool:
        return time.time() < self.expires_at - RENEW_BEFORE_SECONDS


@contextlib.contextmanager
def _plain_http_allowed(server_url: str) -> Iterator[None]:
    """oauthlib refuses http:// addresses; a server whose URL is plain http was
    chosen so by its operator (tokens then travel in clear, like everything else)."""
    if not server_url.startswith("http://"):
        yield
        return
    before = os.environ.get(INSECURE_TRANSPORT)
    os.environ[INSECURE_TRANSPORT] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(INSECURE_TRANSPORT, None)
        else:
            os.environ[INSECURE_TRANSPORT] = before


def origin(server_url: str) -> str:
    parts = urllib.parse.urlsplit(server_url.rstrip("/"))
    return f"{parts.scheme}://{parts.netloc}".lower()


class TokenStore:
    """Tokens per server origin, in one JSON file only its owner can read."""

    def __init__(self, path: Path | None = None) -> None:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
        self.path = path or base / "ctclient" / "tokens.json"

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, server_url: str) -> Tokens | None:
        entry = self._load().get(origin(server_url))
        try:
            return Tokens(**entry) if isinstance(entry, dict) else None
        except TypeError:
            return None

    def put(self, server_url: str, tokens: Tokens | None) -> None:
        data = self._load()
        if tokens is None:
            data.pop(origin(server_url), None)
        else:
            data[origin(server_url)] = asdict(tokens)
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # A name of its own (mkstemp: owner-only), so two processes never share it.
        descriptor, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".tokens-")
        with os.fdopen(descriptor, "w") as file:
            json.dump(data, file, indent=1)
        os.replace(temporary, self.path)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Held while a token is read, renewed and written back: two ctclient
        processes renewing at once would spend one refresh token twice, and the
        server revokes every token of a sign-in whose refresh token is reused."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def _post_form(url: str, body: str, context: ssl.SSLContext | None) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(  # noqa: S310 (the caller's server URL)
        url,
        data=body.encode(),
        method="POST",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=15, context=context) as response:  # noqa: S310
            status, content = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, content = exc.code, exc.read()
    except urllib.error.URLError as exc:
        raise CtClientError(f"cannot reach {url}: {exc.reason}") from None
    try:
        answer = json.loads(content or b"{}")
    except ValueError:
        answer = {}
    return status, answer if isinstance(answer, dict) else {}


def _tokens(client_id: str, answer: dict[str, Any]) -> Tokens:
    try:
        return Tokens(
            client_id=client_id,
            access_token=str(answer["access_token"]),
            refresh_token=str(answer["refresh_token"]),
            expires_at=time.time() + float(answer.get("expires_in", 0)),
        )
    except (KeyError, TypeError, ValueError):
        raise SignInFailed("the server's token answer is malformed") from None


def _oauth_error(answer: dict[str, Any]) -> str:
    error = str(answer.get("error", "refused"))
    description = answer.get("error_description")
    return f"{error}: {description}" if description else error


class _Redirect:
    """What the browser brought back to the loopback listener (with ``state``: an
    answer to another login, or a stray local request, is ignored)."""

    def __init__(self, state: str) -> None:
        self.state = state
        self.result: dict[str, str] = {}
        self.arrived = threading.Event()

    def handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        redirect = self

        class Callback(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urllib.parse.urlsplit(self.path)
                if parts.path != "/callback" or redirect.arrived.is_set():
                    self.send_error(404)
                    return
                answer = dict(urllib.parse.parse_qsl(parts.query))
                if answer.get("state") != redirect.state:
                    self.send_error(400, "not an answer to this login")
                    return
                redirect.result = answer
                body = b"Signed in: you can close this page and go back to your terminal.\n"
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                redirect.arrived.set()

            def log_message(self, *args: Any) -> None:
                pass

        return Callback


def login_with_browser(
    server_url: str,
    context: ssl.SSLContext | None,
    open_browser: Callable[[str], bool],
    timeout: float = SIGN_IN_TIMEOUT,
) -> Tokens:
    """The authorization code flow with PKCE, redirected to a port on 127.0.0.1."""
    server_url = server_url.rstrip("/")
    client = WebApplicationClient(LOOPBACK_CLIENT_ID)
    verifier = client.create_code_verifier(64)
    challenge = client.create_code_challenge(verifier, "S256")
    state = secrets.token_urlsafe(24)
    redirect = _Redirect(state)
    listener = http.server.HTTPServer(("127.0.0.1", 0), redirect.handler())
    redirect_uri = f"http://127.0.0.1:{listener.server_address[1]}/callback"
    thread = threading.Thread(target=listener.serve_forever, daemon=True)
    thread.start()
    try:
        with _plain_http_allowed(server_url):
            url = client.prepare_request_uri(
                f"{server_url}/oauth/authorize/",
                redirect_uri=redirect_uri,
                scope=SCOPE,
                state=state,
                code_challenge=challenge,
                code_challenge_method="S256",
            )
        open_browser(url)
        if not redirect.arrived.wait(timeout):
            raise SignInFailed(f"nobody finished signing in within {timeout:g} s")
    finally:
        listener.shutdown()
        listener.server_close()
    result = redirect.result
    if result.get("state") != state:
        raise SignInFailed("the sign-in answer does not belong to this login (state)")
    if "code" not in result:
        raise SignInFailed(f"sign-in refused: {_oauth_error(result)}")
    body = client.prepare_request_body(
        code=result["code"],
        redirect_uri=redirect_uri,
        code_verifier=verifier,
        include_client_id=True,
    )
    status, answer = _post_form(f"{server_url}/oauth/token/", body, context)
    if status != 200:
        raise SignInFailed(f"the server refused the sign-in: {_oauth_error(answer)}")
    return _tokens(LOOPBACK_CLIENT_ID, answer)


@dataclass(frozen=True)
class DeviceCode:
    device_code: str
    user_code: str
    verification_uri: str
    interval: float
    expires_in: float


def start_device_login(server_url: str, context: ssl.SSLContext | None) -> DeviceCode:
    server_url = server_url.rstrip("/")
    body = urllib.parse.urlencode({"client_id": DEVICE_CLIENT_ID, "scope": " ".join(SCOPE)})
    status, answer = _post_form(f"{server_url}/oauth/device-authorization/", body, context)
    if status != 200:
        raise SignInFailed(f"the server refused a device code: {_oauth_error(answer)}")
    try:
        return DeviceCode(
            device_code=str(answer["device_code"]),
            user_code=str(answer["user_code"]),
            verification_uri=str(answer["verification_uri"]),
            interval=max(1.0, float(answer.get("interval", 5))),
            expires_in=float(answer.get("expires_in", 600)),
        )
    except (KeyError, TypeError, ValueError):
        raise SignInFailed("the server's device code answer is malformed") from None


def finish_device_login(
    server_url: str, context: ssl.SSLContext | None, device: DeviceCode
) -> Tokens:
    """Poll until the person approved, refused, or the code expired (RFC 8628 §3.4)."""
    server_url = server_url.rstrip("/")
    client = DeviceClient(DEVICE_CLIENT_ID)
    body = client.prepare_request_body(device_code=device.device_code, include_client_id=True)
    deadline, interval = time.monotonic() + device.expires_in, device.interval
    while time.monotonic() < deadline:
        time.sleep(interval)
        status, answer = _post_form(f"{server_url}/oauth/token/", body, context)
        if status == 200:
            return _tokens(DEVICE_CLIENT_ID, answer)
        error = answer.get("error")
        if error == "slow_down":
            interval += 5
        elif error != "authorization_pending":
            raise SignInFailed(f"sign-in refused: {_oauth_error(answer)}")
    raise SignInFailed("the code expired before anyone approved it")


def renew(server_url: str, context: ssl.SSLContext | None, tokens: Tokens) -> Tokens:
    """A new access token (and refresh token: they rotate) from the refresh token."""
    client = WebApplicationClient(tokens.client_id)
    body = client.prepare_refresh_body(
        refresh_token=tokens.refresh_token, client_id=tokens.client_id, include_client_id=True
    )
    status, answer = _post_form(f"{server_url.rstrip('/')}/oauth/token/", body, context)
    if status in (400, 401):  # the refresh token is spent, expired or revoked
        raise ServerError(401, "sign_in_required", f"sign in again ({_oauth_error(answer)})")
    if status != 200:  # the server is restarting or its database is away: later
        raise CtClientError(f"the server could not renew the token now (HTTP {status})")
    return _tokens(tokens.client_id, answer)


def revoke(server_url: str, context: ssl.SSLContext | None, tokens: Tokens) -> None:
    """Revoke the refresh token (which takes its access tokens with it) and the access
    token; a token the server no longer knows counts as revoked (RFC 7009 §2.2)."""
    pairs = ((tokens.refresh_token, "refresh_token"), (tokens.access_token, "access_token"))
    for token, hint in pairs:
        body = urllib.parse.urlencode(
            {"token": token, "token_type_hint": hint, "client_id": tokens.client_id}
        )
        status, answer = _post_form(f"{server_url.rstrip('/')}/oauth/revoke_token/", body, context)
        if status != 200:
            raise CtClientError(f"the server did not revoke the token: {_oauth_error(answer)}")


class ServerAuth:
    """The ``Authorization`` header for one server, renewed as needed and saved."""

    def __init__(
        self, server_url: str, context: ssl.SSLContext | None, store: TokenStore | None = None
    ) -> None:
        self.server_url = server_url.rstrip("/")
        self.context = context
        self.store = store or TokenStore()
        self._lock = threading.Lock()

    def headers(self) -> dict[str, str]:
        """{} when not signed in to this server (the server may not need it)."""
        with self._lock, self.store.locked():
            tokens = self.store.get(self.server_url)
            if tokens is None:
                return {}
            if not tokens.fresh():
                tokens = renew(self.server_url, self.context, tokens)
                self.store.put(self.server_url, tokens)
            return {"Authorization": f"Bearer {tokens.access_token}"}

    def renew(self) -> None:
        """After the server said ``token_expired`` (clocks disagree): renew now."""
        with self._lock, self.store.locked():
            tokens = self.store.get(self.server_url)
            if tokens is not None:
                self.store.put(self.server_url, renew(self.server_url, self.context, tokens))
