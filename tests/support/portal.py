"""Signing in to a real server's portal over HTTP, as a browser would."""

from __future__ import annotations

import re

import httpx

from tests.support.server import ServerProcess

LOGIN = "/dashboard/login/"


def signed_in(server: ServerProcess, username: str, password: str) -> httpx.Client:
    """An HTTP client holding a signed-in portal session (its cookies)."""
    client = httpx.Client(base_url=server.http_url, timeout=10)
    form = client.get(LOGIN)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
    assert token, form.text
    data = {"csrfmiddlewaretoken": token[1], "username": username, "password": password}
    answer = client.post(LOGIN, data=data)
    assert answer.status_code == 302, answer.text
    return client


def cookie_header(client: httpx.Client) -> str:
    return "; ".join(f"{name}={value}" for name, value in client.cookies.items())
