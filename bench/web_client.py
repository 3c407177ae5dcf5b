"""The browser client's weight and speed: what a guest downloads, and how long
from opening the join link to typing in the first file.

    .venv/bin/python bench/web_client.py --runs 5

A ctserver (embedded default) and ``ctclient host --auto-admit`` sharing a small
folder; headless Debian Chromium (Playwright) opens the join link in a fresh
context each run (a cold cache: every byte is downloaded), enters a name, and
opens README.md. Timed from the navigation's start (the browser's own clock):
the page's first script run (DOMContentLoaded), the workspace shown (admitted,
tree received), and README.md editable with its text. The reference, in the same
run and browser: the portal's sign-in page, a plain server-rendered page of the
same server. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.relay import start_ctserver
from tests.support.browser import chromium

REPO = Path(__file__).resolve().parent.parent
BUNDLE = REPO / "static" / "web"

# Resource sizes as the browser saw them, and the navigation's milestones.
MEASURE = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const resources = performance.getEntriesByType('resource');
  const bytes = [nav, ...resources].reduce((sum, e) => sum + (e.transferSize || 0), 0);
  return {bytes, requests: resources.length + 1, dom_ms: nav.domContentLoadedEventEnd};
}"""


def bundle_sizes() -> dict[str, int]:
    sizes = {}
    for name in ("app.js", "app.css"):
        data = (BUNDLE / name).read_bytes()
        sizes[name] = len(data)
        sizes[name + ".gz"] = len(gzip.compress(data, 9))
    return sizes


async def one_run(browser: Any, link: str, login_url: str) -> dict[str, float]:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    await page.goto(login_url)
    reference = await page.evaluate(MEASURE)
    await page.goto(link)
    await page.locator("#name-input").fill("Bench")
    await page.locator("#join-button").click()
    await page.locator("#workspace").wait_for()
    workspace_ms = await page.evaluate("performance.now()")
    await page.locator("#file-tree").get_by_role("treeitem", name="README.md").click()
    await page.wait_for_function(
        """() => {
          const c = document.querySelector('#editor .cm-content');
          return c && c.getAttribute('contenteditable') === 'true'
            && c.textContent.includes('benchmark');
        }"""
    )
    editable_ms = await page.evaluate("performance.now()")
    loaded = await page.evaluate(MEASURE)
    await context.close()
    return {
        "bytes": loaded["bytes"],
        "requests": loaded["requests"],
        "dom_ms": loaded["dom_ms"],
        "workspace_ms": workspace_ms,
        "editable_ms": editable_ms,
        "reference_bytes": reference["bytes"],
        "reference_dom_ms": reference["dom_ms"],
    }


async def main(runs: int) -> dict[str, Any]:
    server = start_ctserver()
    folder = Path(tempfile.mkdtemp(prefix="ctbench-web-"))
    (folder / "README.md").write_text("# benchmark\n" + "line of text\n" * 200)
    host = subprocess.Popen(
        [
            *(sys.executable, "-m", "ctclient.cli", "host", str(folder), "--auto-admit"),
            *("--server", f"http://127.0.0.1:{server.port}", "--name", "Host"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert host.stdout is not None
        link = host.stdout.readline().strip()
        results = []
        async with chromium() as browser:
            for _ in range(runs):
                results.append(
                    await one_run(browser, link, f"http://127.0.0.1:{server.port}/dashboard/login/")
                )
    finally:
        host.terminate()
        host.wait(20)
        server.stop()

    def median(key: str) -> float:
        return round(statistics.median(r[key] for r in results), 1)

    return {
        "runs": runs,
        "bundle": bundle_sizes(),
        "web_client": {
            "transferred_bytes": median("bytes"),
            "requests": median("requests"),
            "dom_content_loaded_ms": median("dom_ms"),
            "workspace_shown_ms": median("workspace_ms"),
            "first_file_editable_ms": median("editable_ms"),
            "first_file_editable_ms_each": [round(r["editable_ms"], 1) for r in results],
        },
        "reference_sign_in_page": {
            "transferred_bytes": median("reference_bytes"),
            "dom_content_loaded_ms": median("reference_dom_ms"),
        },
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    print(json.dumps(asyncio.run(main(parser.parse_args().runs))))
