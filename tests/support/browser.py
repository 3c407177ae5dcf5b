"""Debian's Chromium driven by Playwright, as an operator's browser.

Playwright never downloads a browser here: it launches ``/usr/bin/chromium``
(installed by scripts/ensure-test-binaries.sh) with the flags a closed network
needs. Screenshots go to ``test-artifacts/`` at the repository's root (or
``CT_TEST_ARTIFACTS``), kept after the run for people to look at.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

# Playwright's assertions wait 5 s by default. With three test processes, Chromium
# and real servers sharing two cores, a page that goes through a sign-in provider
# can take longer; waiting longer costs nothing when the page is quick.
expect.set_options(timeout=15_000)

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
# Without these, Chromium keeps trying to reach Google's services, which this
# machine's network refuses, many connections at a time.
QUIET_FLAGS = [
    "--no-sandbox",  # the tests may run as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def artifacts_dir() -> Path:
    path = Path(os.environ.get("CT_TEST_ARTIFACTS") or REPO / "test-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    executable = shutil.which("chromium") or CHROMIUM
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=QUIET_FLAGS
        )
        try:
            yield browser
        finally:
            await browser.close()


@asynccontextmanager
async def browser_context() -> AsyncIterator[BrowserContext]:
    """A fresh Chromium profile (no cookies), waiting up to 15 s for each action."""
    async with chromium() as browser:
        context = await browser.new_context(viewport={"width": 1200, "height": 800})
        context.set_default_timeout(15_000)
        try:
            yield context
        finally:
            await context.close()


async def screenshot(page: Page, name: str) -> Path:
    path = artifacts_dir() / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path
