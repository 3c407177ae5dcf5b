"""``make dev``: daphne's runserver, after the same startup steps as ``serve``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

from tests.support.ports import free_port, wait_for_port
from tests.support.server import REPO, server_environment


async def test_runserver_serves_pages_and_the_relay_after_the_startup_steps(
    tmp_path: Path,
) -> None:
    port = free_port()
    env = server_environment(tmp_path / "data", CT_SERVER_URL=f"http://127.0.0.1:{port}")
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=REPO, env=env, check=True)
    server = subprocess.Popen(
        [*manage, "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for_port(port, 60)
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/ct-health/").json()["status"] == "ok"
        session = httpx.post(f"{base}/api/v1/sessions", json={"name": "Ada"}).json()
        url = f"ws://127.0.0.1:{port}/ws/v1/sessions/{session['session_id']}"
        async with connect(url) as host, connect(url) as guest:
            hello = {"type": "hello", "role": "host", "name": "Ada"}
            await host.send(json.dumps({**hello, "host_secret": session["host_secret"]}))
            assert json.loads(await host.recv())["type"] == "welcome"
            await guest.send(json.dumps({"type": "hello", "role": "guest", "name": "Bob"}))
            assert json.loads(await guest.recv())["state"] == "lobby"
            assert json.loads(await host.recv())["type"] == "join_request"
        assert httpx.get(f"{base}/clients/").status_code == 200
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=20)
    # The startup steps of serve: the dashboard account and the client download.
    assert "Dashboard user 'ctuser' has the generated password" in output
    assert "Client download ready: /clients/python/" in output
    assert "Starting ASGI/Daphne" in output
