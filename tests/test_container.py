"""The container image, built and run here with podman: no registry is reachable,
so its base is a Debian image made on this machine (scripts/ensure-container-
engine.sh). Health, the startup lines, a session through it, a non-root user, a
read-only root filesystem (as deploy/kubernetes runs it), no tests or development
tools inside; its size is printed (docs/deploy.md)."""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest
from ctclient.messages import AppMessage
from ctclient.peer import Peer, create_session

from tests.support.ports import free_port
from tests.support.server import REPO

IMAGE = "localhost/ctserver-test:latest"
BASE = "localhost/debian:bookworm"
CA_BUNDLE = os.environ.get("SSL_CERT_FILE") or "/etc/ssl/certs/ca-certificates.crt"


def engine_env() -> dict[str, str]:
    made = subprocess.run(
        [str(REPO / "scripts" / "ensure-container-engine.sh")],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if made.returncode != 0:
        if os.geteuid() != 0 and "needs" in made.stderr:
            pytest.skip(f"no container engine can start here: {made.stderr.strip()}")
        pytest.fail(f"the container engine could not be set up: {made.stderr[-2000:]}")
    return {**os.environ, "CONTAINERS_CONF": made.stdout.strip()}


def podman(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    done = subprocess.run(
        ["podman", "--runtime", "runc", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"podman {' '.join(args)}: {done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def built() -> dict[str, str]:
    env = engine_env()
    podman(
        env,
        *("build", "--network", "host", "--isolation", "chroot"),
        *("--build-arg", f"BASE_IMAGE={BASE}", "-t", IMAGE),
        # This machine reaches PyPI through a TLS-inspecting proxy: its CA bundle.
        *("--secret", f"id=ca-bundle,src={CA_BUNDLE}", str(REPO)),
        timeout=1200,
    )
    return env


@pytest.fixture
def container(built: dict[str, str]) -> Iterator[tuple[str, str]]:
    http_port, https_port = free_port(), free_port()
    url = f"http://127.0.0.1:{http_port}"
    name = f"ctserver-test-{secrets.token_hex(4)}"
    # As deploy/kubernetes runs it: a read-only root, /tmp and /data writable.
    podman(
        built,
        *("run", "-d", "--rm", "--network", "host", "--name", name),
        *("--read-only", "--tmpfs", "/tmp", "--volume", f"{name}-data:/data"),
        *("-e", f"CT_HTTP_PORT={http_port}", "-e", f"CT_HTTPS_PORT={https_port}"),
        *("-e", f"CT_SERVER_URL={url}", IMAGE),
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{url}/ct-health/ready/", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(podman(built, "logs", name))
            time.sleep(0.5)
        yield name, url
    finally:
        subprocess.run(["podman", "--runtime", "runc", "stop", "-t", "10", name], env=built)
        subprocess.run(["podman", "volume", "rm", "-f", f"{name}-data"], env=built)


async def test_the_image_runs_a_session_unprivileged_and_carries_no_tests(
    built: dict[str, str], container: tuple[str, str]
) -> None:
    name, url = container
    port = url.rsplit(":", 1)[1]
    logs = podman(built, "logs", name)
    assert f"ctserver services now available on port {port} (HTTP)" in logs
    assert "generated password" in logs  # the seeds' dashboard credentials line
    assert podman(built, "exec", name, "id", "-u").strip() == "10001"
    listed = podman(built, "exec", name, "ls", "/app").split()
    assert {"manage.py", "ctserver", "relay"} <= set(listed)
    assert not {"tests", "bench", "scripts", "Makefile", "requirements-dev.txt"} & set(listed)
    for tool in ("pytest", "ruff", "mypy", "playwright"):
        check = f"import importlib.util as u, sys; sys.exit(u.find_spec('{tool}') is not None)"
        python = ["exec", name, "/opt/venv/bin/python", "-c", check]
        absent = subprocess.run(["podman", "--runtime", "runc", *python], env=built)
        assert absent.returncode == 0, f"{tool} is in the image"

    link, secret = await create_session(url, name="Ada", auto_admit=True)
    async with (
        Peer(link, name="Ada", host_secret=secret) as host,
        Peer(link, name="Bob") as guest,
    ):
        await guest.wait_for("admitted")
        await host.send(AppMessage("note", {"text": "through the container"}))
        got = await guest.wait_for("message")
        assert got.message is not None and got.message.fields["text"] == "through the container"

    size = int(podman(built, "image", "inspect", "--format", "{{.Size}}", IMAGE).strip())
    print(f"image size: {size / 2**20:.0f} MiB")
    assert size < 600 * 2**20
