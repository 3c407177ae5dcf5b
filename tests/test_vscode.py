"""The VS Code extension in a real VS Code (code-server, Chromium via Playwright),
installed from the .vsix the server offers under /clients/vscode/: hosting with
ctclient and browser guests, joining a ctclient host, typing both ways, cursors,
the host's problems on a guest, and nothing left behind when the session ends."""

from __future__ import annotations

import asyncio
import re
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import BrowserContext, Locator, Page, expect

from tests.support.browser import chromium, screenshot
from tests.support.ctclients import content, ctclient, stop
from tests.support.server import ServerProcess, plain_http_env
from tests.support.vscode import (
    notification,
    open_file_quickly,
    open_workbench,
    pick,
    run_command,
    running_code_server,
)
from tests.support.waiting import eventually

pytestmark = pytest.mark.serial  # two VS Codes and Chromium: heavy for two cores

# A guest's own VS Code checks JSON too: off, so the problems it shows are the host's.
DAN = {"ctserver.displayName": "Dan", "json.validate.enable": False}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path_factory.mktemp("server"), **plain_http_env()) as started:
        yield started


@pytest.fixture(scope="module")
def vsix(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The extension as a user gets it: from the server's /clients/vscode/ page."""
    page = httpx.get(f"{server.http_url}/clients/vscode/").text
    href = re.search(r'href="(/clients/vscode/[^"]+\.vsix)"', page)
    assert href, page
    path = tmp_path_factory.mktemp("download") / href.group(1).rsplit("/", 1)[1]
    path.write_bytes(httpx.get(f"{server.http_url}{href.group(1)}").content)
    return path


async def labels_drawn(page: Page) -> str:
    """The names VS Code draws after others' cursors (decorations' CSS content)."""
    return str(
        await page.evaluate(
            "() => [...document.querySelectorAll('.view-lines span, .view-overlays div')]"
            ".map(el => getComputedStyle(el, '::after').content)"
            ".filter(c => c && c !== 'none' && c !== 'normal').join(' ')"
        )
    )


def lines_of(page: Page) -> Locator:
    """The active editor's text as VS Code draws it."""
    return page.locator(".editor-instance .view-lines")


async def type_at_end_in_vscode(page: Page, text: str) -> None:
    await lines_of(page).click()
    await page.keyboard.press("Control+End")
    await page.keyboard.type(text)


async def start_hosting(page: Page, url: str) -> str:
    """Start a session from the command palette; the join link it shows."""
    await open_workbench(page, url)
    await run_command(page, "ctserver: Start session")
    started = notification(page, "join link is copied")
    await expect(started.first).to_be_visible(timeout=30_000)
    link = re.search(r"http://\S+#\S+", await started.first.inner_text())
    assert link, await started.first.inner_text()
    return link.group(0)


async def join_in_vscode(page: Page, url: str, link: str) -> None:
    await open_workbench(page, url)
    await run_command(page, "ctserver: Join session", answer=link)
    await expect(notification(page, "joined").first).to_be_visible(timeout=30_000)


async def open_shared(page: Page, name: str) -> None:
    """Open a file from the Explorer's "ctserver: shared files" view."""
    await page.get_by_role("treeitem", name=name, exact=True).click()
    await expect(page.locator(".tabs-container .tab", has_text=name)).to_be_visible()


async def admit(host: Page, name: str) -> None:
    """Answer "Admit" to the host's question about ``name``."""
    asking = notification(host, f"{name} asks to join").first
    await expect(asking).to_be_visible(timeout=30_000)
    await asking.get_by_role("button", name="Admit").click()


async def open_in_browser(page: Page, path: str) -> None:
    await page.locator("#file-tree").get_by_role("treeitem", name=path, exact=True).click()
    await expect(page.locator("#editor .cm-content")).to_have_attribute("contenteditable", "true")


@pytest.fixture
async def pages() -> AsyncIterator[Callable[[], Awaitable[Page]]]:
    """Fresh Chromium pages, each in its own profile."""
    async with chromium() as browser:
        contexts: list[BrowserContext] = []

        async def make() -> Page:
            context = await browser.new_context(viewport={"width": 1200, "height": 800})
            context.set_default_timeout(15_000)
            await context.grant_permissions(["clipboard-read", "clipboard-write"])
            contexts.append(context)
            return await context.new_page()

        yield make
        for context in contexts:
            await context.close()


async def test_a_vs_code_host_with_ctclient_browser_and_vs_code_guests(
    server: ServerProcess,
    vsix: Path,
    tmp_path: Path,
    pages: Callable[[], Awaitable[Page]],
) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "notes.md").write_text("start\n")
    (folder / "data.json").write_text('{"a": 1 "b": 2}\n')  # VS Code's JSON support: an error
    (folder / ".gitignore").write_text("secret.txt\n")
    (folder / "secret.txt").write_text("not shared\n")
    dan_home = tmp_path / "dan-home"
    dan_home.mkdir()
    host_settings: dict[str, object] = {"ctserver.displayName": "Ada"}  # she admits each guest
    guest_dir = tmp_path / "bob"
    with (
        running_code_server(tmp_path / "ada", vsix, folder, host_settings) as (
            host_vscode,
            host_url,
        ),
        running_code_server(tmp_path / "dan", vsix, dan_home, DAN) as (
            _,
            dan_url,
        ),
    ):
        assert "ctserver.ctserver-vscode@0.1.0" in host_vscode.installed()
        ada, cleo, dan = await pages(), await pages(), await pages()
        link = await start_hosting(ada, host_url)
        await screenshot(ada, "vscode-host-started")

        bob = ctclient("join", link, str(guest_dir), "--open", "notes.md", "--name", "Bob")
        try:
            await admit(ada, "Bob")
            await eventually(
                lambda: content(guest_dir / "notes.md") == "start\n", timeout=20, what="Bob's copy"
            )
            assert not (guest_dir / "secret.txt").exists()  # .gitignore honoured

            # Ada types; Bob (ctclient) gets it on disk, and writes back.
            await open_file_quickly(ada, "notes.md")
            await expect(lines_of(ada)).to_contain_text("start")
            await type_at_end_in_vscode(ada, "typed by Ada in VS Code\n")
            await eventually(
                lambda: content(guest_dir / "notes.md") == "start\ntyped by Ada in VS Code\n",
                timeout=20,
                what="all of Ada's typing in Bob's file",
            )
            (guest_dir / "notes.md").write_text(
                (content(guest_dir / "notes.md") or "") + "from Bob\n"
            )
            await expect(lines_of(ada)).to_contain_text("from Bob", timeout=20_000)

            # Cleo joins from the browser and types.
            await cleo.goto(link)
            await cleo.locator("#name-input").fill("Cleo")
            await cleo.locator("#join-button").click()
            await admit(ada, "Cleo")
            await open_in_browser(cleo, "notes.md")
            await expect(cleo.locator("#editor .cm-content")).to_contain_text("from Bob")
            await cleo.locator("#editor .cm-content").click()
            await cleo.keyboard.press("Control+End")
            await cleo.keyboard.type("Cleo was here\n")
            await expect(lines_of(ada)).to_contain_text("Cleo was here", timeout=20_000)
            await eventually(
                lambda: "Cleo was here" in (content(guest_dir / "notes.md") or ""),
                timeout=20,
                what="Bob",
            )

            # Dan joins from another VS Code: the shared tree, a live file, the host's problems.
            await open_workbench(dan, dan_url)
            await run_command(dan, "ctserver: Join session", answer=link)
            await admit(ada, "Dan")
            await expect(notification(dan, "joined").first).to_be_visible(timeout=30_000)
            await open_shared(dan, "notes.md")
            await expect(lines_of(dan)).to_contain_text("Cleo was here")
            await type_at_end_in_vscode(dan, "and Dan too\n")
            await expect(lines_of(ada)).to_contain_text("and Dan too", timeout=20_000)
            await expect(cleo.locator("#editor .cm-content")).to_contain_text("and Dan too")
            await eventually(
                lambda: "and Dan too" in (content(guest_dir / "notes.md") or ""),
                timeout=20,
                what="Bob",
            )

            # Everyone's cursor shows, with its name, in the others' editors.
            await eventually_async(lambda: labels_drawn(ada), ["Cleo", "Dan"], "Ada sees cursors")
            await eventually_async(lambda: labels_drawn(dan), ["Ada", "Cleo"], "Dan sees cursors")
            await screenshot(ada, "vscode-host-cursors")
            await screenshot(dan, "vscode-guest-cursors")

            # The status bars and Dan's participants view say who is there.
            await expect(ada.locator(".statusbar")).to_contain_text("ctserver: hosting · 3 others")
            await expect(dan.locator(".statusbar")).to_contain_text("ctserver: joined · 3 others")
            participants = dan.locator(".pane", has_text="ctserver: participants")
            if await participants.get_by_role("treeitem").count() == 0:
                await dan.get_by_role(
                    "button", name=re.compile("ctserver: participants", re.I)
                ).click()
            for who in ("Ada", "Bob", "Cleo"):  # the view shows the first rows
                await expect(
                    participants.get_by_role("treeitem", name=re.compile(re.escape(who)))
                ).to_be_visible()

            # Dan follows Ada: when she opens data.json, so does his VS Code.
            await run_command(dan, "ctserver: Follow")
            await pick(dan, "Ada")
            await open_file_quickly(ada, "data.json")
            await type_at_end_in_vscode(ada, "")  # her cursor in data.json now
            await expect(dan.locator(".tabs-container .tab.active")).to_contain_text(
                "data.json", timeout=20_000
            )
            await screenshot(dan, "vscode-guest-follows")

            # Ada's problems in data.json reach Dan's Problems, marked as hers.
            await ada.keyboard.press("Control+Shift+M")
            await expect(ada.locator(".markers-panel")).to_contain_text("Expected comma")
            await dan.keyboard.press("Control+Shift+M")
            problems = dan.locator(".markers-panel")
            await expect(problems).to_contain_text("Expected comma", timeout=30_000)
            await expect(problems).to_contain_text("Ada's")
            await screenshot(dan, "vscode-guest-problems")

            # Ada makes Dan read-only: his typing is taken back, nobody gets it.
            await run_command(ada, "ctserver: Make read-only / allow editing")
            await pick(ada, "Dan")
            await expect(notification(dan, "made you read-only").first).to_be_visible()
            await open_shared(dan, "notes.md")
            await type_at_end_in_vscode(dan, "Dan may not write this")
            await asyncio.sleep(1)
            await screenshot(dan, "vscode-guest-read-only")
            await expect(lines_of(dan)).not_to_contain_text("Dan may not write this")
            await expect(lines_of(ada)).not_to_contain_text("Dan may not write this")
            assert "Dan may not write this" not in (content(guest_dir / "notes.md") or "")

            # Ada removes Cleo: her page says so.
            await run_command(ada, "ctserver: Remove from session")
            await pick(ada, "Cleo")
            await expect(cleo.locator("body")).to_contain_text(
                "The host took you out of the session"
            )

            # Ada ends the session: nothing of it stays with Dan or Bob.
            await run_command(ada, "ctserver: End session")
            await expect(notification(dan, "session ended").first).to_be_visible(timeout=20_000)
            await expect(dan.locator(".tabs-container .tab")).to_have_count(0)
            await expect(dan.locator(".markers-panel")).not_to_contain_text("Expected comma")
            assert list(dan_home.iterdir()) == []
            await screenshot(dan, "vscode-guest-ended")
            assert await asyncio.to_thread(bob.wait, 20) == 0
            assert not (guest_dir / "notes.md").exists()
        finally:
            stop(bob)


async def eventually_async(
    read: Callable[[], Awaitable[str]], wanted: list[str], what: str, within: float = 20.0
) -> None:
    deadline = time.monotonic() + within
    while True:
        seen = await read()
        if all(word in seen for word in wanted):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: {wanted} not all in {seen!r}")
        await asyncio.sleep(0.2)


async def test_a_ctclient_host_with_a_vs_code_guest(
    server: ServerProcess,
    vsix: Path,
    tmp_path: Path,
    pages: Callable[[], Awaitable[Page]],
) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    (folder / "main.py").write_text("print('hello')\n")
    home = tmp_path / "home"
    home.mkdir()
    hosting = ctclient(
        "host", str(folder), "--server", server.http_url, "--auto-admit", "--name", "Ada"
    )
    try:
        assert hosting.stdout is not None
        link = (await asyncio.to_thread(hosting.stdout.readline)).strip()
        with running_code_server(tmp_path / "dan", vsix, home, DAN) as (
            _,
            url,
        ):
            dan = await pages()
            await join_in_vscode(dan, url, link)
            await open_shared(dan, "main.py")
            await expect(lines_of(dan)).to_contain_text("print('hello')")
            await type_at_end_in_vscode(dan, "print('from VS Code')\n")
            # All of it, the last line feed too: ctclient writes each edit it gets to
            # disk, and a write of Dan's last keystroke would race Ada's edit below.
            await eventually(
                lambda: content(folder / "main.py") == "print('hello')\nprint('from VS Code')\n",
                timeout=20,
                what="Dan's typing in Ada's folder",
            )
            (folder / "main.py").write_text(
                (content(folder / "main.py") or "") + "print('from Ada')\n"
            )
            await expect(lines_of(dan)).to_contain_text("print('from Ada')", timeout=20_000)
            await screenshot(dan, "vscode-guest-of-ctclient")

            # Dan's Undo takes back his own typing only, however often he presses it.
            await lines_of(dan).click()
            for _ in range(6):
                await dan.keyboard.press("Control+z")
                await asyncio.sleep(0.2)
            await eventually(
                lambda: content(folder / "main.py") == "print('hello')\nprint('from Ada')\n",
                timeout=20,
                what="Dan's undo at Ada's, her line kept",
            )

            hosting.send_signal(signal.SIGINT)  # Ada stops hosting: the session ends
            await expect(notification(dan, "session ended").first).to_be_visible(timeout=20_000)
            await expect(dan.locator(".tabs-container .tab")).to_have_count(0)
            assert list(home.iterdir()) == []
            await screenshot(dan, "vscode-guest-of-ctclient-ended")
    finally:
        stop(hosting)
