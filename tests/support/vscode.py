"""A real VS Code for the extension's tests: code-server (installed outside the
repository by scripts/ensure-code-server.sh) on a free loopback port, with its own
profile and extensions folder, driven by Playwright with Debian's Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.async_api import Locator, Page, expect

from tests.support.ports import free_port, wait_for_port
from tests.support.server import REPO

ENSURE = REPO / "scripts" / "ensure-code-server.sh"
# The settings every test profile has: no welcome page, no trust prompt, no
# telemetry, no update checks.
BASE_SETTINGS = {
    "workbench.startupEditor": "none",
    "security.workspace.trust.enabled": False,
    "telemetry.telemetryLevel": "off",
    "update.mode": "none",
    "extensions.autoCheckUpdates": False,
    "workbench.tips.enabled": False,
    "git.enabled": False,
}


def code_server_entry() -> Path:
    """code-server's entry point, installed on first use."""
    out = subprocess.run([str(ENSURE)], check=True, capture_output=True, text=True)
    return Path(out.stdout.strip())


class CodeServer:
    """One VS Code (code-server) with the ctserver extension installed from ``vsix``."""

    def __init__(self, workdir: Path, vsix: Path, settings: dict[str, object]) -> None:
        self.entry = code_server_entry()
        self.workdir = workdir
        self.data = workdir / "user-data"
        self.extensions = workdir / "extensions"
        (self.data / "User").mkdir(parents=True, exist_ok=True)
        (self.data / "User" / "settings.json").write_text(
            json.dumps({**BASE_SETTINGS, **settings}, indent=2)
        )
        self._node(["--install-extension", str(vsix)])
        self.port = free_port()
        self.process: subprocess.Popen[str] | None = None

    def _node(self, args: list[str]) -> str:
        command = [shutil.which("node") or "node", str(self.entry), *self._profile(), *args]
        done = subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)
        return done.stdout

    def _profile(self) -> list[str]:
        return ["--user-data-dir", str(self.data), "--extensions-dir", str(self.extensions)]

    def installed(self) -> str:
        return self._node(["--list-extensions", "--show-versions"])

    def start(self, folder: Path) -> str:
        """Serve VS Code with ``folder`` open; its address."""
        log = (self.workdir / "code-server.log").open("w")
        command = [shutil.which("node") or "node", str(self.entry), *self._profile()]
        command += ["--auth", "none", "--bind-addr", f"127.0.0.1:{self.port}"]
        command += ["--disable-telemetry", "--disable-update-check", "--disable-workspace-trust"]
        command += ["--disable-getting-started-override", str(folder)]
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, text=True)
        wait_for_port(self.port, 60)
        return f"http://127.0.0.1:{self.port}/"

    def log(self) -> str:
        path = self.workdir / "code-server.log"
        return path.read_text() if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextmanager
def running_code_server(
    workdir: Path, vsix: Path, folder: Path, settings: dict[str, object]
) -> Iterator[tuple[CodeServer, str]]:
    server = CodeServer(workdir, vsix, settings)
    url = server.start(folder)
    try:
        yield server, url
    finally:
        server.stop()


async def open_workbench(page: Page, url: str) -> None:
    """Load VS Code and wait until its workbench and our extension are up."""
    await page.goto(url)
    await expect(page.locator(".monaco-workbench")).to_be_visible(timeout=60_000)
    await expect(page.locator(".statusbar")).to_be_visible(timeout=60_000)


async def run_command(page: Page, title: str, answer: str | None = None) -> None:
    """Run a command from the command palette; type ``answer`` in the input box it
    opens. VS Code lists an extension's commands once it has read the extension,
    which a busy machine may take a while to do: the palette is asked again."""
    row = page.locator(".quick-input-list .monaco-list-row").first
    deadline = time.monotonic() + 60
    while True:
        await page.locator(".monaco-workbench").click(position={"x": 600, "y": 5})
        await page.keyboard.press("F1")
        palette = page.locator(".quick-input-widget input")
        await expect(palette).to_be_visible()
        await palette.fill(f">{title}")
        try:
            await expect(row).to_have_attribute(
                "aria-label", re.compile(re.escape(title)), timeout=5_000
            )
            break
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            await page.keyboard.press("Escape")
    await page.keyboard.press("Enter")
    if answer is not None:
        box = page.locator(".quick-input-widget input")
        await expect(box).to_be_visible()
        await box.fill(answer)
        await page.keyboard.press("Enter")


async def pick(page: Page, label: str) -> None:
    """Choose ``label`` in the quick pick that is open (a command's, Quick Open's)."""
    box = page.locator(".quick-input-widget input")
    await expect(box).to_be_visible()
    await box.fill(label)
    first = page.locator(".quick-input-list .monaco-list-row").first
    await expect(first).to_have_attribute("aria-label", re.compile(re.escape(label)))
    await page.keyboard.press("Enter")


def notification(page: Page, pattern: str) -> Locator:
    return page.locator(".notification-toast, .notifications-center").filter(
        has_text=re.compile(pattern)
    )


async def open_file_quickly(page: Page, name: str) -> None:
    """Quick Open (Ctrl+P) a file of the open folder."""
    await page.keyboard.press("Control+p")
    await pick(page, name)
    await expect(page.locator(".tabs-container .tab.active")).to_contain_text(name)
