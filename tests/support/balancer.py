"""A real nginx (Debian's package) in front of several ctservers, on loopback, with
the routing of deploy/nginx/ (its maps and proxy settings are included as they are;
only the list of servers is this test's)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.ports import free_port, wait_for_port
from tests.support.server import REPO

NGINX_FILES = REPO / "deploy" / "nginx"


class Nginx:
    def __init__(self, workdir: Path, server_ports: list[int]) -> None:
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(binary).exists():
            pytest.fail("nginx is not installed: install the Debian package 'nginx-light'")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        workdir.mkdir(parents=True, exist_ok=True)
        servers = "\n".join(f"        server 127.0.0.1:{port};" for port in server_ports)
        # The upstream's hash line is deploy/nginx/ctserver.conf's (checked there).
        conf = f"""
pid {workdir}/nginx.pid;
error_log {workdir}/error.log warn;
worker_processes 1;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    include {NGINX_FILES}/ctserver-maps.conf;
    upstream ctserver {{
        hash $ct_route consistent;
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
        self.conf = workdir / "nginx.conf"
        self.conf.write_text(conf)
        self._process = subprocess.Popen(
            [binary, "-p", str(workdir), "-c", str(self.conf), "-g", "daemon off; user root;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, 15)

    def stop(self) -> None:
        self._process.terminate()
        self._process.wait(10)
