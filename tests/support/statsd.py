"""A real StatsD daemon (Etsy's statsd, from npm) on free loopback ports.

``scripts/ensure-test-statsd.sh`` installs it once into ~/.cache/ctserver-tests
(``make test`` runs it first; a test run without make runs it here). The daemon
listens for metrics over UDP and TCP (``servers/tcp``) and forwards them nowhere
(no backend); the tests read what it holds through its management port's
``gauges`` command. A test may stop it and start it again on the same ports.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from tests.support.ports import free_port, wait_for_port
from tests.support.server import REPO

# util.inspect's rendering of the gauges: { 'ctserver.users_online': 1, ... }
GAUGE = re.compile(r"'?([\w.-]+)'?: (-?[\d.]+(?:e[+-]?\d+)?)")


@functools.cache
def daemon_folder() -> Path:
    """The folder holding stats.js, installed at the first call of a run."""
    if shutil.which("node") is None:
        pytest.fail("the StatsD tests need Node.js: install it (Debian: apt-get install nodejs)")
    installed = subprocess.run(
        [str(REPO / "scripts" / "ensure-test-statsd.sh")],
        capture_output=True,
        text=True,
        check=False,
    )
    if installed.returncode != 0:
        pytest.fail(f"could not install the StatsD daemon from npm:\n{installed.stderr}")
    return Path(installed.stdout.strip())


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class StatsdDaemon:
    def __init__(self, workdir: Path) -> None:
        self.udp_port = free_udp_port()
        self.tcp_port = free_port()
        self.management_port = free_port()
        self.config = workdir / "statsd-config.js"
        self.log = workdir / "statsd.log"
        settings = {
            "mgmt_address": "127.0.0.1",
            "mgmt_port": self.management_port,
            "servers": [
                {"server": "./servers/udp", "address": "127.0.0.1", "port": self.udp_port},
                {"server": "./servers/tcp", "address": "127.0.0.1", "port": self.tcp_port},
            ],
            "backends": [],  # keep what arrives, send it nowhere
            "flushInterval": 3_600_000,  # gauges stay as last received
            "automaticConfigReload": False,
        }
        self.config.write_text(json.dumps(settings))  # JSON is a JavaScript object
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> StatsdDaemon:
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                ["node", "stats.js", str(self.config)],
                cwd=daemon_folder(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            # The metric servers start first, the management port last.
            wait_for_port(self.tcp_port, 30)
            wait_for_port(self.management_port, 30)
        except TimeoutError:
            self.stop()
            raise AssertionError(f"statsd did not start:\n{self.log.read_text()}") from None
        return self

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(30)
            self._process = None

    def gauges(self) -> dict[str, float]:
        """Every gauge the daemon holds, by its full name."""
        with socket.create_connection(("127.0.0.1", self.management_port), timeout=5) as link:
            link.sendall(b"gauges\n")
            answer = b""
            while not answer.endswith(b"END\n\n"):
                chunk = link.recv(65536)
                if not chunk:
                    break
                answer += chunk
        return {name: float(value) for name, value in GAUGE.findall(answer.decode())}

    def gauges_under(self, prefix: str) -> dict[str, float]:
        """The gauges named ``<prefix>.<name>``, by name."""
        start = prefix + "."
        return {k.removeprefix(start): v for k, v in self.gauges().items() if k.startswith(start)}
