"""A real OpenID provider for the single sign-on tests: the npm package
``oidc-provider`` (OpenID certified), run by node on loopback from tests/oidc/.

Its packages are installed with ``npm ci`` on first use (npm's cache outside the
repository); several test processes share one install, under a file lock.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page, expect

from tests.support.ports import free_port, wait_for_port
from tests.support.server import ServerProcess, plain_http_env

PROVIDER_DIR = Path(__file__).resolve().parents[1] / "oidc"
CLIENT_ID = "ctserver"
CLIENT_SECRET = "ctserver-test-client-secret-0123456789"
ADMIN_GROUP = "ct-admins"
ACCOUNTS: dict[str, dict[str, Any]] = {
    "ada": {"email": "ada@example.com", "name": "Ada Lovelace", "groups": [ADMIN_GROUP]},
    "grace": {"email": "grace@example.com", "name": "Grace Hopper", "groups": ["developers"]},
}


def _install() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: the SSO tests need Node.js 20 or newer and npm")
    with open(PROVIDER_DIR / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
            return
        cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--prefer-offline"],
            cwd=PROVIDER_DIR,
            env={**os.environ, "npm_config_cache": str(cache / "ctserver-tests" / "npm")},
            check=True,
            capture_output=True,
        )


@dataclass
class OidcProvider:
    """One provider process; ``stop()`` and ``start()`` again to model an outage."""

    server_url: str  # the ctserver it serves (its redirect URIs)
    port: int = field(default_factory=free_port)
    extra_clients: list[dict[str, Any]] = field(default_factory=list)
    _process: subprocess.Popen[bytes] | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def clients(self) -> list[dict[str, Any]]:
        ours = {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uris": [f"{self.server_url}/sso/authorization-code/callback"],
            "post_logout_redirect_uris": [f"{self.server_url}/sso/logout"],
            "grant_types": ["authorization_code", "refresh_token"],
        }
        return [ours, *self.extra_clients]

    def start(self) -> OidcProvider:
        _install()
        env = {
            **os.environ,
            "OIDC_PORT": str(self.port),
            "OIDC_CLIENTS": json.dumps(self.clients()),
            "OIDC_ACCOUNTS": json.dumps(ACCOUNTS),
        }
        self._process = subprocess.Popen(
            ["node", "provider.mjs"],
            cwd=PROVIDER_DIR,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, 30)
        return self

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(10)
            self._process = None

    def server_env(self, **extra: str) -> dict[str, str]:
        """What a ctserver needs to use this provider."""
        return {
            "CT_SSO_SYSTEM_BASE_URL": self.issuer,
            "CT_SSO_CLIENT_ID": CLIENT_ID,
            "CT_SSO_CLIENT_SECRET": CLIENT_SECRET,
            "CT_SSO_ADMIN_GROUP": ADMIN_GROUP,
            "CT_SSO_SCOPES": "openid email profile groups",
            "CT_SSO_TIMEOUT": "3",
            **extra,
        }


@contextmanager
def running_provider(server_url: str, **options: Any) -> Iterator[OidcProvider]:
    provider = OidcProvider(server_url, **options).start()
    try:
        yield provider
    finally:
        provider.stop()


async def provider_sign_in(page: Page, account: str) -> None:
    """oidc-provider's development sign-in page: an account of ACCOUNTS, any password."""
    await page.locator("input[name=login]").fill(account)
    await page.locator("input[name=password]").fill("any password")
    await page.get_by_role("button", name="Sign-in").click()


class Login:
    """``ctclient login`` in its own process, as a person runs it."""

    def __init__(self, server_url: str, config_home: Path, *options: str) -> None:
        # No display and no BROWSER: as on a server, no web browser can be opened.
        env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "BROWSER")}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ctclient.cli", "login", "--server", server_url, *options],
            env={**env, "XDG_CONFIG_HOME": str(config_home)},
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []

    async def line(self, pattern: str) -> re.Match[str]:
        assert self.process.stderr is not None
        while True:
            line = await asyncio.wait_for(asyncio.to_thread(self.process.stderr.readline), 20)
            assert line, f"ctclient ended before printing {pattern!r}: {self.lines}"
            self.lines.append(line)
            if found := re.search(pattern, line):
                return found

    async def finish(self) -> int:
        return await asyncio.to_thread(self.process.wait, 30)


async def ctclient_login(
    server_url: str, browser: BrowserContext, account: str, config_home: Path
) -> Path:
    """``ctclient login`` completed in the browser as ``account``: its tokens file."""
    login = Login(server_url, config_home, "--no-browser")
    address = (await login.line(r"(http://\S+/oauth/authorize/\S+)")).group(1)
    page = await browser.new_page()
    await page.goto(address)
    await provider_sign_in(page, account)
    await page.get_by_role("button", name="Allow").click()
    await expect(page.get_by_text("Signed in: you can close this page")).to_be_visible()
    assert await login.finish() == 0, login.lines
    await page.close()
    return config_home / "ctclient" / "tokens.json"


@contextmanager
def sso_server(start_server: Callable[..., ServerProcess], **env: str) -> Iterator[ServerProcess]:
    """A ctserver signing in through a provider of its own (``env`` added to the
    provider's CT_SSO_* variables); both stop at the end."""
    port = free_port()
    with running_provider(f"http://127.0.0.1:{port}") as provider:
        yield start_server(**plain_http_env(CT_HTTP_PORT=str(port), **provider.server_env(**env)))
