"""The operator portal as a person uses it: Chromium signs in to a real server,
watches the dashboard's figures and charts change while ctclient peers run a real
session, reads the session history, and downloads a client. Screenshots are saved
in test-artifacts/."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable

import pytest
from playwright.async_api import Page, expect

from tests.support.browser import chromium, screenshot
from tests.support.peers import admitted_pair, relay_messages
from tests.support.server import ServerProcess, plain_http_env

StartServer = Callable[..., ServerProcess]
USER, PASSWORD = "operator", "Portal-test-password-9731"


@pytest.fixture
def portal(start_server: StartServer) -> ServerProcess:
    return start_server(
        **plain_http_env(
            CT_DASHBOARD_USER=USER,
            CT_DASHBOARD_PASSWORD=PASSWORD,
            CT_STATUS_INTERVAL="0.5",
            CT_USAGE_INTERVAL="1",
        )
    )


@pytest.fixture
async def page(portal: ServerProcess) -> AsyncIterator[Page]:
    async with chromium() as browser:
        context = await browser.new_context(viewport={"width": 1366, "height": 768})
        context.set_default_timeout(15_000)
        page = await context.new_page()
        failed: list[str] = []
        errors: list[str] = []
        context.on(
            "requestfailed",
            # A download ends its navigation as "aborted": that one is not a failure.
            lambda request: (
                failed.append(f"{request.failure} {request.url}")
                if request.failure != "net::ERR_ABORTED"
                else None
            ),
        )
        context.on(
            "response",
            lambda response: (
                errors.append(f"{response.status} {response.url}")
                if response.status >= 400 or not response.url.startswith(portal.http_url)
                else None
            ),
        )
        yield page
        await context.close()
        # Every request went to this server and succeeded: nothing from a CDN, no
        # missing file (the favicon included).
        assert not failed and not errors


async def sign_in(page: Page, server: ServerProcess) -> None:
    await page.goto(f"{server.http_url}/dashboard/")
    await expect(page).to_have_url(re.compile(r"/dashboard/login/"))
    await page.get_by_label("User name").fill(USER)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


async def chart_reaches(page: Page, chart: str, value: int, dataset: int = 0) -> None:
    """Wait until the last point of one of the dashboard's Chart.js charts is ``value``."""
    await page.wait_for_function(
        "([id, set, value]) => Chart.getChart(id)?.data.datasets[set]?.data.at(-1) === value",
        arg=[chart, dataset, value],
    )


async def test_the_dashboard_follows_a_real_session_live(portal: ServerProcess, page: Page) -> None:
    await sign_in(page, portal)
    await expect(page.locator("#live-state")).to_contain_text("Live: updated")
    await expect(page.locator("#figure-active_sessions")).to_have_text("0")
    await expect(page.locator("#figure-connection_limit")).to_have_text("100000")
    await screenshot(page, "dashboard-idle")
    page_loads = await page.evaluate("performance.getEntriesByType('navigation').length")

    async with admitted_pair(portal.http_url) as (host, guest):
        # The figures change by themselves: the page is not reloaded.
        await expect(page.locator("#figure-active_sessions")).to_have_text("1")
        await expect(page.locator("#figure-users_online")).to_have_text("2")
        await expect(page.locator("#figure-connections")).to_have_text("2")
        navigations = "performance.getEntriesByType('navigation').length"
        assert await page.evaluate(navigations) == page_loads
        await chart_reaches(page, "chart-sessions", 1)
        await chart_reaches(page, "chart-users", 2)

        await relay_messages(host, guest, 300)  # enough for the relay to time some (1 in 64)
        await expect(page.locator("#servers")).to_contain_text("healthy")
        await chart_reaches(page, "chart-peak", 2)
        await page.wait_for_function("Chart.getChart('chart-lag').data.datasets.length === 1")
        await screenshot(page, "dashboard-in-session")

        await host.end()
        await guest.wait_for("closed")
    await expect(page.locator("#figure-active_sessions")).to_have_text("0")
    await expect(page.locator("#figure-users_online")).to_have_text("0")
    await expect(page.locator("#figure-sessions_hosted")).to_have_text("1")

    # The session history: the session, its host and how it ended; its people.
    await page.get_by_role("link", name="Sessions", exact=True).click()
    table = page.locator("#session-table")
    await expect(table).to_contain_text("Ada")
    await expect(table).to_contain_text("host_ended")
    await page.get_by_label("Host name contains").fill("nobody")
    await page.get_by_role("button", name="Filter").click()
    await expect(table).to_contain_text("No session matches.")
    await page.get_by_label("Host name contains").fill("ada")
    await page.get_by_role("button", name="Filter").click()
    await table.get_by_role("link").first.click()
    people = page.locator("#participants")
    await expect(people).to_contain_text("Grace")
    await expect(people).to_contain_text("guest")
    await screenshot(page, "session-detail")


async def test_a_client_download_shows_on_the_dashboard(portal: ServerProcess, page: Page) -> None:
    await sign_in(page, portal)
    await expect(page.locator("#figure-downloads")).to_have_text("0")
    clients = await page.context.new_page()
    await clients.goto(f"{portal.http_url}/clients/")
    async with clients.expect_download() as download_info:
        await clients.get_by_role("link", name=re.compile(r"\.whl$")).click()
    download = await download_info.value
    assert download.suggested_filename.startswith("ctclient-")
    await clients.close()
    # Downloads are counted when they happen; the dashboard shows them at its next
    # refresh (every status interval) without a reload.
    await expect(page.locator("#figure-downloads")).to_have_text("1")
    await expect(page.locator("#downloads")).to_contain_text("python")
    await screenshot(page, "dashboard-downloads")


async def test_the_logs_are_read_searched_and_downloaded(portal: ServerProcess, page: Page) -> None:
    async with admitted_pair(portal.http_url) as (host, _):
        await host.end()

    await sign_in(page, portal)
    await page.get_by_role("link", name="Logs", exact=True).click()
    lines = page.locator("#log-lines")
    await expect(lines).to_contain_text("Clients use CT_SERVER_URL")  # server.log first
    await page.get_by_label("Log").select_option("sessions.log")
    await page.get_by_label("Lines containing").fill("ADMITTED")  # ignoring case
    await page.get_by_role("button", name="Show").click()
    await expect(page.locator("#log-summary")).to_contain_text("1 line containing")
    await expect(lines).to_contain_text('"event":"admitted"')
    await expect(lines).not_to_contain_text('"event":"created"')
    await screenshot(page, "logs-search")

    files = page.locator("#log-files")
    for name, expected in (
        ("sessions.log", '"event":"ended"'),
        ("server.log", "Clients use CT_SERVER_URL"),
        ("usage.log", '"peak_connections"'),
    ):
        async with page.expect_download() as download_info:
            await files.get_by_role("link", name=name, exact=True).click()
        download = await download_info.value
        assert download.suggested_filename == name
        saved = await download.path()
        assert expected in saved.read_text(), name
