from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.testing import ApplicationCommunicator

from ctserver.config import load_config
from ctserver.health import with_health_endpoints
from tests.support.ports import free_port


async def nothing_to_receive() -> dict[str, Any]:
    raise AssertionError("the wrapper must not read the request")


async def nothing_to_send(message: dict[str, Any]) -> None:
    raise AssertionError("the wrapper must not answer a path it passes on")


async def _not_django(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("health paths must not reach Django")


async def _get(path: str, method: str = "GET") -> tuple[int, bytes]:
    scope = {"type": "http", "method": method, "path": path, "headers": []}
    app = ApplicationCommunicator(with_health_endpoints(_not_django), scope)
    await app.send_input({"type": "http.request", "body": b""})
    start = await app.receive_output(5)
    body = await app.receive_output(5)
    return start["status"], body["body"]


@pytest.mark.django_db(transaction=True)
async def test_liveness_and_readiness_answer_json() -> None:
    status, body = await _get("/ct-health/")
    assert status == 200 and json.loads(body)["status"] == "ok"
    status, body = await _get("/ct-health/ready/")
    assert status == 200 and json.loads(body)["checks"] == {"database": "ok"}


async def test_head_has_no_body_and_other_methods_are_refused() -> None:
    assert await _get("/ct-health/", "HEAD") == (200, b"")
    status, _ = await _get("/ct-health/", "POST")
    assert status == 405


@pytest.mark.django_db(transaction=True)
async def test_unreachable_redis_makes_readiness_fail(settings: Any) -> None:
    settings.CONFIG = load_config(
        {"CT_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0", "CT_HEALTH_TIMEOUT": "1"}
    )
    status, body = await _get("/ct-health/ready/")
    assert status == 503
    report = json.loads(body)
    assert report["status"] == "unavailable" and report["checks"]["redis"].startswith("error:")


async def test_other_paths_go_to_django() -> None:
    reached = []

    async def django(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope["path"])

    scope = {"type": "http", "method": "GET", "path": "/dashboard/", "headers": []}
    await with_health_endpoints(django)(scope, nothing_to_receive, nothing_to_send)
    assert reached == ["/dashboard/"]
