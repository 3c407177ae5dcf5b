"""A real nginx (Debian's package) in front of several ctservers, on loopback, with
the routing of deploy/nginx/ (its maps and proxy settings are included as they are,
its upstream's hashing and server parameters copied; only the list of servers is
this test's)."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.licenses import TEST_SETTINGS, environment, signed
from tests.support.ports import free_port, wait_for_port
from tests.support.server import REPO, ServerProcess

NGINX_FILES = REPO / "deploy" / "nginx"


def deployed_upstream() -> tuple[str, str]:
    """deploy/nginx/ctserver.conf's upstream: its hash line, and the parameters of
    its servers (how long a failed one is skipped), which the tests must share."""
    conf = (NGINX_FILES / "ctserver.conf").read_text()
    hashing = re.search(r"^\s*(hash [^;]+;)", conf, re.MULTILINE)
    server = re.search(r"^\s*server ctserver-1:\d+ ([^;]*);", conf, re.MULTILINE)
    assert hashing and server, "deploy/nginx/ctserver.conf has no hash or server line"
    return hashing.group(1), server.group(1)


class Nginx:
    def __init__(
        self, workdir: Path, server_ports: list[int], prefix: list[str] | None = None
    ) -> None:
        """``prefix``: put before the command (bench/relay.py pins nginx to a CPU)."""
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(binary).exists():
            pytest.fail("nginx is not installed: install the Debian package 'nginx-light'")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        workdir.mkdir(parents=True, exist_ok=True)
        hashing, parameters = deployed_upstream()
        servers = "\n".join(
            f"        server 127.0.0.1:{port} {parameters};" for port in server_ports
        )
        conf = f"""
pid {workdir}/nginx.pid;
error_log {workdir}/error.log warn;
worker_processes 1;
worker_rlimit_nofile 65536;
events {{ worker_connections 30000; }}
http {{
    access_log off;
    include {NGINX_FILES}/ctserver-maps.conf;
    upstream ctserver {{
        {hashing}
{servers}
    }}
    server {{
        listen 127.0.0.1:{self.port};
        location / {{
            proxy_pass http://ctserver;
            include {NGINX_FILES}/ctserver-proxy.conf;
        }}
    }}
}}
"""
        self.error_log = workdir / "error.log"
        self.conf = workdir / "nginx.conf"
        self.conf.write_text(conf)
        options = ["-p", str(workdir), "-c", str(self.conf), "-g", "daemon off; user root;"]
        self._process = subprocess.Popen(
            [*(prefix or []), binary, *options],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, 15)

    def pids(self) -> list[int]:
        """The master and its workers."""
        master = self._process.pid
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        return [master, *(int(pid) for pid in children)]

    def stop(self) -> None:
        self._process.terminate()
        self._process.wait(10)


@dataclass
class Cluster:
    nginx: Nginx
    servers: list[ServerProcess]

    @property
    def url(self) -> str:
        return self.nginx.url

    def ids(self) -> set[str]:
        return {self.id_of(server) for server in self.servers}

    @staticmethod
    def id_of(server: ServerProcess) -> str:
        return (server.data_dir / "server_id").read_text().strip()

    def by_id(self, server_id: str) -> ServerProcess:
        return next(s for s in self.servers if self.id_of(s) == server_id)


@contextmanager
def running_cluster(
    start_server: Callable[..., ServerProcess],
    tmp_path: Path,
    redis_url: str,
    postgres_url: str,
    *,
    servers: int = 3,
    places: int = 100,
    user: str = "operator",
    password: str = "Balancer-test-password-6310",
    env: dict[str, str] | None = None,
) -> Iterator[Cluster]:
    """Servers sharing Redis and PostgreSQL behind nginx, which clients use
    (CT_SERVER_URL), licensed for ``places`` connections."""
    ports = [free_port() for _ in range(servers)]
    nginx = Nginx(tmp_path / "nginx", ports)
    shared = {
        "CT_DATABASE_URL": postgres_url,
        "CT_REDIS_URL": redis_url,
        "CT_SECRET_KEY": "balancer-test-" + "k" * 50,
        "CT_SERVER_URL": nginx.url,
        "CT_DASHBOARD_USER": user,
        "CT_DASHBOARD_PASSWORD": password,
        "CT_STATUS_INTERVAL": "0.5",
        "DJANGO_SETTINGS_MODULE": TEST_SETTINGS,
        **environment(signed("balancer test", max_connections=places)),
        **(env or {}),
    }
    started = [
        start_server(tmp_path / f"server-{n}", CT_HTTP_PORT=str(port), **shared)
        for n, port in enumerate(ports)
    ]
    try:
        yield Cluster(nginx, started)
    finally:
        nginx.stop()
