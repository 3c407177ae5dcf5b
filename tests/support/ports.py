from __future__ import annotations

import itertools
import os
import random
import socket
import time

# Ports are handed out below the kernel's ephemeral range (32768-60999 here), so an
# outgoing connection can never take a port between the moment a test picks it and
# the moment its server binds it; and each xdist worker gets its own block, so two
# workers never pick the same one. A random start keeps two runs on one machine apart.
_FIRST_PORT = 20000
_BLOCK = 2500


def _worker_block() -> range:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    index = int(worker[2:]) + 1 if worker.startswith("gw") else 0
    start = _FIRST_PORT + (index % 5) * _BLOCK
    return range(start, start + _BLOCK)


def _candidates() -> itertools.cycle[int]:
    block = list(_worker_block())
    offset = random.randrange(len(block))
    return itertools.cycle(block[offset:] + block[:offset])


_next_candidate = _candidates()


def _bindable(port: int) -> bool:
    for family, host in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        try:
            with socket.socket(family) as probe:
                probe.bind((host, port))
        except OSError as error:
            if family == socket.AF_INET6 and error.errno == 97:  # no IPv6 on this host
                continue
            return False
    return True


def free_port() -> int:
    """A TCP port nothing listens on, that no other worker or outgoing socket will take."""
    for _ in range(_BLOCK):
        port = next(_next_candidate)
        if _bindable(port):
            return port
    raise RuntimeError("no free port left in this worker's block")


def wait_for_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {timeout} s")
