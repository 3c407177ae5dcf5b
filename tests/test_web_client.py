"""The browser client end to end: Debian's Chromium (Playwright) joins sessions
hosted by the Python client on a real server. Screenshots go to test-artifacts/.

Hooks (ids, roles, data attributes) are listed in clients/web/README.md.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from ctclient import AppMessage, JoinLink, Peer, create_session
from ctclient.crypto import new_key
from playwright.async_api import Browser, BrowserContext, Locator, Page, expect

from tests.support.browser import chromium, screenshot
from tests.support.ctclients import content, stop
from tests.support.licenses import TEST_SETTINGS, environment, signed
from tests.support.proxy import TcpProxy
from tests.support.server import ServerProcess, plain_http_env
from tests.support.waiting import eventually
from tests.test_ctclient_cli import start_host

StartServer = Callable[..., ServerProcess]
MARKER = "MARKER-7d41-secret"
SECRET_NAME = "payroll-3a9e.py"
TYPED = "typed-in-chromium-5c2f"


@pytest.fixture
def server(start_server: StartServer) -> ServerProcess:
    return start_server(**plain_http_env())


@pytest.fixture
def host_dir(tmp_path: Path) -> Path:
    root = tmp_path / "host"
    (root / "src").mkdir(parents=True)
    (root / "src" / SECRET_NAME).write_text(f"salary = 1  # {MARKER}\n")
    (root / "README.md").write_text("# shared\n")
    (root / "logo.png").write_bytes(b"\x89PNG\x00\x00")
    return root


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


class Tab:
    """One browser guest: its page, and what went wrong in it."""

    def __init__(self, context: BrowserContext, page: Page) -> None:
        self.context, self.page = context, page
        self.problems: list[str] = []
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        # The product runs air-gapped: nothing may be asked of another host.
        page.on(
            "request",
            lambda request: (
                self.problems.append(f"request to another host: {request.url}")
                if not request.url.startswith(("http://127.0.0.1:", "ws://127.0.0.1:", "data:"))
                else None
            ),
        )
        page.on(
            "console",
            lambda message: (
                self.problems.append(f"console: {message.text}")
                if message.type == "error" and "WebSocket" not in message.text
                else None
            ),
        )

    def assert_clean(self) -> None:
        """No script error, no Content-Security-Policy violation."""
        assert self.problems == []


OpenTab = Callable[[], Awaitable[Tab]]


@pytest.fixture
async def open_tab(browser: Browser) -> AsyncIterator[OpenTab]:
    tabs: list[Tab] = []

    async def make() -> Tab:
        context = await browser.new_context(viewport={"width": 1280, "height": 800})
        context.set_default_timeout(15_000)
        tab = Tab(context, await context.new_page())
        tabs.append(tab)
        return tab

    yield make
    for tab in tabs:
        await tab.context.close()


async def join(tab: Tab, link: str, name: str) -> None:
    await tab.page.goto(link)
    await tab.page.locator("#name-input").fill(name)
    await tab.page.locator("#join-button").click()


async def open_file(page: Page, path: str) -> None:
    tree = page.locator("#file-tree")
    if "/" in path:
        folder = tree.get_by_role("treeitem", name=path.rsplit("/", 1)[0], exact=True)
        if await folder.get_attribute("aria-expanded") == "false":
            await folder.click()
    await tree.get_by_role("treeitem", name=path, exact=True).click()
    await expect(page.locator("#editor .cm-content")).to_have_attribute("contenteditable", "true")


def editor_text(page: Page) -> Locator:
    return page.locator("#editor .cm-content")


async def type_at_end(page: Page, text: str) -> None:
    await page.locator("#editor .cm-content").click()
    await page.keyboard.press("Control+End")
    await page.keyboard.type(text)


async def caret_on_line(page: Page, text: str) -> None:
    """Wait until another peer's caret is drawn on the line holding ``text``."""
    caret = page.locator("#editor .ct-remote-caret").first
    line = page.locator("#editor .cm-line", has_text=text).first
    async with asyncio.timeout(10):
        while True:
            at, row = await caret.bounding_box(), await line.bounding_box()
            if at and row and row["y"] <= at["y"] + at["height"] / 2 <= row["y"] + row["height"]:
                return
            await asyncio.sleep(0.1)


# ---------------------------------------------------------------------------------------


async def test_a_browser_guest_codes_with_a_python_host_and_the_relay_sees_no_code(
    server: ServerProcess, host_dir: Path, open_tab: OpenTab
) -> None:
    proxy = await TcpProxy(server.http_port).start()  # records both directions
    # In a thread: the proxy runs on this event loop while the host starts.
    hosting, link = await asyncio.to_thread(
        start_host, host_dir, f"http://127.0.0.1:{proxy.port}", "--auto-admit"
    )
    try:
        tab: Tab = await open_tab()
        page = tab.page
        await join(tab, link, "Grace")
        await expect(page.locator("#workspace")).to_be_visible()
        await expect(page.locator("#connection-state")).to_have_attribute("data-state", "connected")
        await expect(page.locator("#status-bar")).to_contain_text("encrypted")
        tree = page.locator("#file-tree")
        await expect(tree.get_by_role("treeitem", name="README.md", exact=True)).to_be_visible()
        await expect(tree.get_by_role("treeitem", name="logo.png", exact=True)).to_have_attribute(
            "aria-disabled", "true"
        )
        await expect(page.locator("#participants")).to_contain_text("Ada")

        # The secret file, by name and content, reaches the browser decrypted.
        await open_file(page, f"src/{SECRET_NAME}")
        await expect(editor_text(page)).to_contain_text(MARKER)

        # The guest types: the host's file on disk changes.
        await open_file(page, "README.md")
        await expect(editor_text(page)).to_contain_text("# shared")
        await type_at_end(page, TYPED)
        readme = host_dir / "README.md"
        await eventually(
            lambda: TYPED in (content(readme) or ""), timeout=10, what="the edit on disk"
        )

        # The host edits on disk: the browser shows it.
        readme.write_text("from the host\n" + (content(readme) or ""))
        await expect(editor_text(page)).to_contain_text("from the host")
        await screenshot(page, "web-client-editing")

        # Follow the host: it edits another file on disk, and the view goes there.
        await page.locator("#follow-host").click()
        await expect(page.locator("#follow-host")).to_have_attribute("aria-pressed", "true")
        secret_file = host_dir / "src" / SECRET_NAME
        secret_file.write_text((content(secret_file) or "") + "bonus = 2\n")
        tabs = page.locator("#tabs")
        selected = tabs.get_by_role("tab", name=f"src/{SECRET_NAME}", exact=True)
        await expect(selected).to_have_attribute("aria-selected", "true")
        await expect(editor_text(page)).to_contain_text("bonus = 2")

        # Nothing shared is kept in the browser.
        kept = await page.evaluate(
            """async () => JSON.stringify({
                local: Object.entries(localStorage),
                session: Object.entries(sessionStorage),
                databases: (await indexedDB.databases()).map((d) => d.name),
                caches: await caches.keys(),
            })"""
        )
        for clear in (MARKER, SECRET_NAME, TYPED, "README", link.split("#")[1]):
            assert clear not in kept, f"{clear!r} kept in browser storage: {kept}"
        await page.locator("#leave").click()
        tab.assert_clean()
    finally:
        await asyncio.to_thread(stop, hosting)
        await proxy.close()
    wire = bytes(proxy.received) + bytes(proxy.replied)
    assert b"/ws/v1/sessions/" in wire  # the relay's traffic did cross the proxy
    for clear in (MARKER, SECRET_NAME, TYPED, "from the host", "# shared"):
        assert clear.encode() not in wire, f"{clear!r} crossed the network in clear"


async def test_two_browser_guests_see_each_others_cursors(
    server: ServerProcess, host_dir: Path, open_tab: OpenTab
) -> None:
    hosting, link = start_host(host_dir, server.http_url, "--auto-admit")
    try:
        first: Tab = await open_tab()
        second: Tab = await open_tab()
        await join(first, link, "Grace")
        await join(second, link, "Linus")
        for tab in (first, second):
            await expect(tab.page.locator("#workspace")).to_be_visible()
            await open_file(tab.page, "README.md")
        await type_at_end(first.page, " and more")
        label = second.page.locator("#editor .ct-caret-label")
        await expect(label).to_have_text("Grace")
        await expect(second.page.locator("#editor .ct-remote-caret")).to_have_count(1)
        await expect(editor_text(second.page)).to_contain_text("and more")
        await caret_on_line(second.page, "and more")  # where Grace typed, not where she was
        await type_at_end(second.page, "!")
        await expect(first.page.locator("#editor .ct-caret-label")).to_have_text("Linus")
        await caret_on_line(first.page, "and more!")
        await asyncio.sleep(0.5)  # others' edits move no caret off its character
        await caret_on_line(second.page, "and more!")
        await expect(first.page.locator("#participants")).to_contain_text("Linus")
        await screenshot(second.page, "web-client-cursors")
        first.assert_clean()
        second.assert_clean()
    finally:
        stop(hosting)


async def test_a_read_only_guest_cannot_type(
    server: ServerProcess, host_dir: Path, open_tab: OpenTab
) -> None:
    hosting, link = start_host(host_dir, server.http_url, "--auto-admit", "--read-only-guests")
    try:
        tab: Tab = await open_tab()
        await join(tab, link, "Grace")
        page = tab.page
        await expect(page.locator("#read-only-badge")).to_be_visible()
        tree = page.locator("#file-tree")
        await tree.get_by_role("treeitem", name="README.md", exact=True).click()
        await expect(editor_text(page)).to_contain_text("# shared")
        await expect(page.locator("#editor .cm-content")).to_have_attribute(
            "contenteditable", "false"
        )
        await page.locator("#editor .cm-content").click()
        await page.keyboard.type("not allowed")
        await asyncio.sleep(0.5)
        assert content(host_dir / "README.md") == "# shared\n"
        await expect(editor_text(page)).not_to_contain_text("not allowed")
        await screenshot(page, "web-client-read-only")
        tab.assert_clean()
    finally:
        stop(hosting)


async def test_the_lobby_then_denied(server: ServerProcess, open_tab: OpenTab) -> None:
    link, secret = await create_session(server.http_url, name="Ada")
    async with Peer(link, name="Ada", host_secret=secret) as host:
        tab: Tab = await open_tab()
        await join(tab, str(link), "Mallory")
        await expect(tab.page.locator("#lobby")).to_be_visible()
        await screenshot(tab.page, "web-client-lobby")
        request = await host.wait_for("join_request")
        assert request.data["peer"]["name"] == "Mallory"
        await host.deny(request.data["peer"]["peer_id"])
        state = tab.page.locator("#state-page")
        await expect(state).to_have_attribute("data-state", "denied")
        await screenshot(tab.page, "web-client-denied")
        tab.assert_clean()


async def test_admitted_then_the_session_ends(server: ServerProcess, open_tab: OpenTab) -> None:
    link, secret = await create_session(server.http_url, name="Ada")
    async with Peer(link, name="Ada", host_secret=secret) as host:
        tab: Tab = await open_tab()
        await join(tab, str(link), "Grace")
        request = await host.wait_for("join_request")
        await host.admit(request.data["peer"]["peer_id"])
        await expect(tab.page.locator("#workspace")).to_be_visible()
        hello = await host.wait_for("message")  # the browser's hello_app, decrypted
        assert hello.message is not None and hello.message.type == "hello_app"
        await host.send(AppMessage("tree", {"entries": [], "share": "on-demand"}))
        await host.end()
        await expect(tab.page.locator("#state-page")).to_have_attribute("data-state", "ended")
        await screenshot(tab.page, "web-client-ended")
        tab.assert_clean()


async def test_a_missing_or_wrong_key_says_check_the_link(
    server: ServerProcess, host_dir: Path, open_tab: OpenTab
) -> None:
    hosting, link = start_host(host_dir, server.http_url, "--auto-admit")
    try:
        without_key = link.split("#", 1)[0]
        tab: Tab = await open_tab()
        await tab.page.goto(without_key)
        state = tab.page.locator("#state-page")
        await expect(state).to_have_attribute("data-state", "wrong_key")
        await expect(state).to_contain_text(re.compile("check the link", re.IGNORECASE))

        parsed = JoinLink.parse(link)
        other = JoinLink(parsed.server_url, parsed.session_id, new_key())
        wrong: Tab = await open_tab()
        await join(wrong, str(other), "Grace")
        state = wrong.page.locator("#state-page")
        await expect(state).to_have_attribute("data-state", "wrong_key", timeout=20_000)
        await screenshot(wrong.page, "web-client-wrong-key")
        wrong.assert_clean()
    finally:
        stop(hosting)


async def test_a_session_that_is_not_open(server: ServerProcess, open_tab: OpenTab) -> None:
    tab: Tab = await open_tab()
    response = await tab.page.goto(f"{server.http_url}/join/{'A' * 22}#{'B' * 43}")
    assert response is not None and response.status == 404
    await expect(tab.page.locator("#session-missing")).to_contain_text("not open")


async def test_a_network_cut_with_typing_on_both_sides_converges(
    server: ServerProcess, host_dir: Path, open_tab: OpenTab
) -> None:
    hosting, link = start_host(host_dir, server.http_url, "--auto-admit")
    proxy = await TcpProxy(server.http_port).start()  # only the browser goes through it
    try:
        tab: Tab = await open_tab()
        page = tab.page
        await join(tab, link.replace(f":{server.http_port}/", f":{proxy.port}/"), "Grace")
        await open_file(page, "README.md")
        proxy.freeze()  # the network goes silent
        await type_at_end(page, "\nwhile-offline-browser")
        readme = host_dir / "README.md"
        readme.write_text("while-offline-host\n" + (content(readme) or ""))
        await asyncio.sleep(1)
        assert "while-offline-browser" not in (content(readme) or "")
        proxy.cut()  # then drops
        proxy.thaw()
        await expect(page.locator("#connection-state")).to_have_attribute(
            "data-state", "connected", timeout=20_000
        )
        await eventually(
            lambda: "while-offline-browser" in (content(readme) or ""),
            timeout=15,
            what="the browser's edit on disk",
        )
        await expect(editor_text(page)).to_contain_text("while-offline-host")
        on_disk = content(readme) or ""
        assert on_disk.count("while-offline-browser") == 1
        assert on_disk.count("while-offline-host") == 1
        shown = await page.locator("#editor .cm-content").inner_text()
        assert shown.replace("\n", "") == on_disk.replace("\n", "")
        await screenshot(page, "web-client-after-cut")
    finally:
        await asyncio.to_thread(stop, hosting)
        await proxy.close()


async def test_a_server_gone_is_said_and_retried(
    start_server: StartServer, host_dir: Path, open_tab: OpenTab
) -> None:
    server = start_server(**plain_http_env())
    hosting, link = await asyncio.to_thread(start_host, host_dir, server.http_url, "--auto-admit")
    try:
        tab = await open_tab()
        await join(tab, link, "Grace")
        await open_file(tab.page, "README.md")
        await type_at_end(tab.page, " kept")
        await eventually(lambda: " kept" in (content(host_dir / "README.md") or ""), timeout=10)
        server.stop()
        # It says so, keeps the text, and keeps trying by itself.
        state = tab.page.locator("#connection-state")
        await expect(state).not_to_have_attribute("data-state", "connected")
        await expect(tab.page.locator("#banners [data-kind=reconnecting]")).to_be_visible()
        await expect(editor_text(tab.page)).to_contain_text("kept")
        await screenshot(tab.page, "web-client-server-gone")
    finally:
        await asyncio.to_thread(stop, hosting)


async def _admitted_tab(server: ServerProcess, open_tab: OpenTab) -> tuple[Peer, Tab, int]:
    link, secret = await create_session(server.http_url, name="Ada")
    host = await Peer(link, name="Ada", host_secret=secret).start()
    tab = await open_tab()
    await join(tab, str(link), "Grace")
    request = await host.wait_for("join_request")
    guest = request.data["peer"]["peer_id"]
    await host.admit(guest)
    await expect(tab.page.locator("#workspace")).to_be_visible()
    return host, tab, guest


async def test_removed_by_the_host(server: ServerProcess, open_tab: OpenTab) -> None:
    host, tab, guest = await _admitted_tab(server, open_tab)
    try:
        await host.remove(guest)
        await expect(tab.page.locator("#state-page")).to_have_attribute("data-state", "removed")
        await screenshot(tab.page, "web-client-removed")
        tab.assert_clean()
    finally:
        await host.end()


async def test_the_host_away_is_a_notice_not_an_end(
    server: ServerProcess, open_tab: OpenTab
) -> None:
    host, tab, _ = await _admitted_tab(server, open_tab)
    await host.close()  # its connection drops, without ending or leaving
    await expect(tab.page.locator("#banners [data-kind=host_away]")).to_be_visible()
    await expect(tab.page.locator("#workspace")).to_be_visible()
    await screenshot(tab.page, "web-client-host-away")
    tab.assert_clean()


async def test_no_licensed_place_left(start_server: StartServer, open_tab: OpenTab) -> None:
    one_place = {
        "DJANGO_SETTINGS_MODULE": TEST_SETTINGS,
        **environment(signed("one seat", max_connections=1)),
    }
    server = start_server(**plain_http_env(**one_place))
    link, secret = await create_session(server.http_url, name="Ada", auto_admit=True)
    async with Peer(link, name="Ada", host_secret=secret):  # takes the only place
        tab = await open_tab()
        await join(tab, str(link), "Grace")
        state = tab.page.locator("#state-page")
        await expect(state).to_have_attribute("data-state", "license_full")
        await screenshot(tab.page, "web-client-license-full")
        tab.assert_clean()
