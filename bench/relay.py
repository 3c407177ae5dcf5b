"""Relay benchmark: ctserver beside bare relays, measured in the same run.

    .venv/bin/python bench/relay.py                         # 50 sessions x 5 peers, everything
    .venv/bin/python bench/relay.py --target ctserver reference node
    .venv/bin/python bench/relay.py --sessions 10 --peers 20 --measure throughput
    .venv/bin/python bench/relay.py --measure burst --database postgres
    .venv/bin/python bench/relay.py --sessions 500 --peers 5 --rate 1   # one fixed rate

Targets: ``ctserver``; ``reference``, a bare ``websockets`` broadcast relay on uvloop
(bench/reference_relay.py), the base of the ratios; ``node``, a bare Node.js ``ws``
relay (bench/node/, installed with ``npm ci`` on first use), the one fast enough to
show that the generator is not the limit. Each runs in its own process pinned to
CPU 0 (``--server-cpu``); the load generators (bench/loadgen.py, Sans-I/O websockets
on uvloop) run on CPU 1. Every
peer sends ``--size``-byte frames to the other peers of its session; frames carry
their send time, so receivers measure latency. For each target it prints:

- throughput: the highest per-peer rate whose deliveries all arrive with p99 under
  ``--p99-limit`` ms (a geometric search, then bisection), with p50/p99 and the
  server's CPU, and the same figures at half that rate;
- idle: the server's memory per idle connection (``--idle`` peers, RSS growth);
- burst: ``--burst`` peers connecting at once (at most ``--concurrency`` handshakes
  in flight per generator), each timed from its TCP connect to its admission
  (ctserver: hello, welcome, admitted; the reference: the WebSocket opening);
- storm: the same peers admitted, their server killed and started again, and all of
  them back at once, resuming with their credentials (a reconnect storm).

ctserver runs with a user's defaults (SQLite unless ``--database postgres``; one
process) except the limits one address would hit: the whole load comes from
127.0.0.1, so the per-address limits and the per-peer rate limits are raised. The
ratio of ctserver's figures to the reference's is the headline. The last line
printed is the whole result as JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench.loadgen import HISTOGRAM_STEP  # noqa: E402
from tests.support.balancer import Nginx  # noqa: E402
from tests.support.server import licensed_by_default  # noqa: E402

LOADGEN = REPO / "bench" / "loadgen.py"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {port}")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def pinned(cpu: int | None) -> list[str]:
    """The command prefix that keeps a process on ``cpu`` (none for -1: anywhere)."""
    if cpu is None or cpu < 0 or not shutil.which("taskset"):
        return []
    return ["taskset", "-c", str(cpu)]


# Servers ---------------------------------------------------------------------------


@dataclass
class ServerUnderTest:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    data_dir: Path | None = None
    database: tuple[str, str] | None = None  # (maintenance URL, name) made for this server
    env: dict[str, str] | None = None  # what it was started with, to start it again

    def restart(self) -> None:
        """A crash (SIGKILL) and a start on the same port and data, as after a failure."""
        self.process.kill()
        self.process.wait()
        self.process = subprocess.Popen(
            self.process.args,
            cwd=REPO,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        if self.database is not None:
            drop_database(*self.database)


def fresh_database(maintenance_url: str) -> tuple[str, str]:
    """A new empty PostgreSQL database; returns (url, name)."""
    import psycopg

    name = f"ctbench_{os.getpid()}_{time.monotonic_ns()}"
    with psycopg.connect(maintenance_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return maintenance_url.rsplit("/", 1)[0] + f"/{name}", name


def drop_database(maintenance_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(maintenance_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_ctserver(
    *,
    cpu: int | None = None,
    open_sessions: int = 1000,
    env: dict[str, str] | None = None,
    server: str = "uvicorn",
    postgres_url: str | None = None,
    verbose: bool = False,
) -> ServerUnderTest:
    """ctserver with a user's defaults (SQLite; PostgreSQL in a database made for it
    with ``postgres_url``), except the limits one address hits: the benchmarks' whole
    load comes from 127.0.0.1."""
    port, data_dir = free_port(), Path(tempfile.mkdtemp(prefix="ctbench-"))
    variables = {k: v for k, v in os.environ.items() if not k.startswith("CT_")}
    variables.update(licensed_by_default({}))  # a licensed deployment: the trial allows 5
    variables.update(
        CT_DATA_DIR=str(data_dir),
        CT_HTTP_PORT=str(port),
        CT_HTTPS_PORT=str(free_port()),
        CT_BIND_ADDRESS="127.0.0.1",
        CT_SERVER_URL=f"http://127.0.0.1:{port}",
        CT_MAX_OPEN_SESSIONS=str(open_sessions),
        # Raised, as docs/benchmarks.md says: every peer of the load is one address.
        CT_PEER_RATE_FRAMES="1000000",
        CT_PEER_RATE_BYTES="1000000000",
        CT_MAX_CONNECTIONS="1000000",
        CT_MAX_CONNECTIONS_PER_ADDRESS="999999",
        CT_MAX_SOCKETS_PER_ADDRESS="1000000",
        CT_MAX_OPEN_SESSIONS_PER_ADDRESS="1000000",
        CT_SESSION_CREATE_RATE="1000000",
        CT_KNOCK_RATE="1000000",
        CT_MAX_LOBBY_PER_ADDRESS="10000",
        CT_LOG_LEVEL="WARNING",
    )
    variables.update(env or {})
    database = None
    if postgres_url is not None and "CT_DATABASE_URL" not in variables:
        variables["CT_DATABASE_URL"], name = fresh_database(postgres_url)
        database = (postgres_url, name)
    python = sys.executable
    subprocess.run(
        [python, "manage.py", "migrate", "--noinput", "-v0"], cwd=REPO, env=variables, check=True
    )
    command = [python, "manage.py", "serve"]  # uvicorn, as deployed
    if server == "daphne":  # the same ASGI application under daphne, HTTP only
        command = [python, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                   "ctserver.asgi:application"]  # fmt: skip
    process = subprocess.Popen(
        [*pinned(cpu), *command],
        cwd=REPO,
        env=variables,
        stdout=subprocess.DEVNULL,
        stderr=None if verbose else subprocess.DEVNULL,
    )
    wait_for_port(port)
    return ServerUnderTest("ctserver", port, process, data_dir, database, variables)


def start_reference(args: argparse.Namespace) -> ServerUnderTest:
    port = free_port()
    process = subprocess.Popen(
        [
            *pinned(args.server_cpu),
            sys.executable,
            str(REPO / "bench" / "reference_relay.py"),
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=None if args.verbose else subprocess.DEVNULL,
    )
    wait_for_port(port)
    return ServerUnderTest("reference", port, process, env=dict(os.environ))


NODE_RELAY = REPO / "bench" / "node"


def start_node_reference(args: argparse.Namespace) -> ServerUnderTest:
    if not (NODE_RELAY / "node_modules" / "ws").is_dir():  # the pinned `ws`, once
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=NODE_RELAY, check=True
        )
    port = free_port()
    process = subprocess.Popen(
        [*pinned(args.server_cpu), "node", str(NODE_RELAY / "reference_relay.mjs"), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=None if args.verbose else subprocess.DEVNULL,
    )
    wait_for_port(port)
    return ServerUnderTest("node", port, process, env=dict(os.environ))


class Deployment:
    """The servers of one target: one process, or two sharing Redis and PostgreSQL."""

    def __init__(self, target: str, args: argparse.Namespace) -> None:
        self.target, self.args = target, args
        self.servers: list[ServerUnderTest] = []
        self.database: str | None = None
        self.balancer: Nginx | None = None  # --balanced: nginx in front, as deploy/nginx

    def __enter__(self) -> Deployment:
        args = self.args
        if self.target == "reference":
            self.servers = [start_reference(args)]
        elif self.target == "node":
            self.servers = [start_node_reference(args)]
        else:
            options: dict[str, Any] = {
                "cpu": args.server_cpu,
                "open_sessions": max(1000, 2 * args.sessions, args.idle, args.burst),
                "server": args.server,
                "verbose": args.verbose,
            }
            if args.balanced:
                shared = self._shared_env()
                count = args.balanced
                self.servers = [start_ctserver(**options, env=shared) for _ in range(count)]
                workdir = Path(tempfile.mkdtemp(prefix="ctbench-nginx-"))
                ports = [s.port for s in self.servers]
                self.balancer = Nginx(workdir, ports, prefix=pinned(args.server_cpu))
            elif not args.split:
                postgres = args.postgres_url if args.database == "postgres" else None
                self.servers = [start_ctserver(**options, postgres_url=postgres)]
            else:
                shared = self._shared_env()
                self.servers = [start_ctserver(**options, env=shared) for _ in range(2)]
        return self

    def _shared_env(self) -> dict[str, str]:
        """What several servers share: a fresh PostgreSQL database, Redis, one key."""
        url, self.database = fresh_database(self.args.postgres_url)
        return {
            "CT_DATABASE_URL": url,
            "CT_REDIS_URL": self.args.redis_url,
            "CT_SECRET_KEY": "bench-" + "s" * 50,
        }

    def __exit__(self, *_: object) -> None:
        if self.balancer is not None:
            self.balancer.stop()
        for server in self.servers:
            server.stop()
        if self.database is not None:
            drop_database(self.args.postgres_url, self.database)

    def pids(self) -> list[int]:
        pids = [s.process.pid for s in self.servers]
        return pids + (self.balancer.pids() if self.balancer is not None else [])

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids())

    def rss_kib(self) -> int:
        return sum(rss_kib(pid) for pid in self.pids())

    def entry_ports(self) -> list[int]:
        """Where clients connect: the balancer (it routes a session's peers, which
        send ctstickiness, to one server), else each server."""
        if self.balancer is not None:
            return [self.balancer.port]
        return [s.port for s in self.servers]

    def wait_quiet(self, timeout: float = 15.0) -> None:
        """Until the servers are idle: a failed step leaves a backlog to work off."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            before = self.cpu_seconds()
            time.sleep(0.5)
            if self.cpu_seconds() - before < 0.5 * 0.15:
                return

    def sessions(self, count: int, peers: int) -> list[dict[str, Any]]:
        """Sessions with auto-admit, and where each of their peers connects: with
        two servers, the peers alternate between them (the host on the first), so
        frames cross through Redis as in a rehashed deployment."""
        made = []
        for i in range(count):
            session: dict[str, Any]
            if self.target != "ctserver":  # a bare relay: rooms are paths
                session = {"session_id": f"room{i}", "host_secret": ""}
            else:
                session = create_session(self.entry_ports()[0])
            sid = session["session_id"]
            session["endpoints"] = [
                ("127.0.0.1", port, f"ws://127.0.0.1:{port}/ws/v1/sessions/{sid}")
                for port in self.entry_ports()[: min(peers, len(self.servers))]
            ]
            made.append(session)
        return made


def create_session(port: int, auto_admit: bool = True) -> dict[str, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/sessions",
        data=json.dumps({"auto_admit": auto_admit}).encode(),
        headers={"Content-Type": "application/json", "ctstickiness": "bench"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        body = dict(json.load(response))
    made: dict[str, Any] = {"session_id": body["session_id"], "host_secret": body["host_secret"]}
    return made


# Generators ------------------------------------------------------------------------


class Generators:
    """``count`` bench/loadgen.py processes on the client CPU, whole sessions each."""

    def __init__(
        self, target: str, sessions: list[dict[str, Any]], args: argparse.Namespace
    ) -> None:
        count = max(1, min(args.generators, len(sessions)))
        self.processes = []
        for g in range(count):
            spec = {
                "kind": target,
                "sessions": sessions[g::count],
                "peers": args.peers,
                "size": args.size,
            }
            self.processes.append(
                subprocess.Popen(
                    [*pinned(args.client_cpu), sys.executable, str(LOADGEN)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
            )
            stdin = self.processes[-1].stdin
            assert stdin is not None
            stdin.write(json.dumps(spec) + "\n")
            stdin.flush()

    def ask(self, command: dict[str, Any]) -> list[dict[str, Any]]:
        for process in self.processes:
            assert process.stdin is not None
            process.stdin.write(json.dumps(command) + "\n")
            process.stdin.flush()
        answers = []
        for process in self.processes:
            assert process.stdout is not None
            line = process.stdout.readline()
            if not line:
                raise RuntimeError(f"a load generator exited ({process.wait()})")
            answers.append(json.loads(line))
        return answers

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(p.pid) for p in self.processes)

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, BrokenPipeError):
            self.ask({"cmd": "close"})
        for process in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


@dataclass
class Connected:
    peers: int
    failed: int
    seconds: float
    admitted_per_s: float
    p50_ms: float
    p99_ms: float


def connect(generators: Generators, concurrency: int, resume: bool = False) -> Connected:
    answers = generators.ask({"cmd": "connect", "concurrency": concurrency, "resume": resume})
    times = sorted(t for a in answers for t in a["admit_seconds"])
    failed = sum(a["failed"] for a in answers)
    if failed:
        print(f"  {failed} peers failed to connect, e.g. {answers[0]['failures']}", flush=True)
    seconds = max(a["ended"] for a in answers) - min(a["began"] for a in answers)
    return Connected(
        peers=len(times),
        failed=failed,
        seconds=round(seconds, 3),
        admitted_per_s=round(len(times) / seconds),
        p50_ms=round(quantile(times, 0.50) * 1000, 1),
        p99_ms=round(quantile(times, 0.99) * 1000, 1),
    )


def quantile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


# Throughput ------------------------------------------------------------------------


@dataclass
class Step:
    rate: float  # frames per second per peer
    delivered_per_s: int
    p50_ms: float
    p99_ms: float
    loss: float
    lost_connections: int
    server_cpu_pct: float
    generator_cpu_pct: float
    generator_behind_s: float  # the worst the generators fell behind their schedule

    def passed(self, p99_limit: float) -> bool:
        return self.p99_ms < p99_limit and self.loss == 0 and self.lost_connections == 0


def histogram_quantile(histogram: dict[int, int], q: float) -> float:
    total = sum(histogram.values())
    seen = 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= q * total:
            return (bucket + 1) * HISTOGRAM_STEP * 1000
    return float("nan")


def step(
    deployment: Deployment, generators: Generators, rate: float, args: argparse.Namespace
) -> Step:
    start_at = time.perf_counter() + 0.3
    measure_from = start_at + args.warmup
    command = {
        "cmd": "run",
        "rate": rate,
        "start_at": start_at,
        "warmup": args.warmup,
        "duration": args.duration,
        "drain": args.drain,
    }
    for process in generators.processes:
        assert process.stdin is not None
        process.stdin.write(json.dumps(command) + "\n")
        process.stdin.flush()
    time.sleep(max(0.0, measure_from - time.perf_counter()))
    server_before, generators_before = deployment.cpu_seconds(), generators.cpu_seconds()
    time.sleep(args.duration)
    server_cpu = deployment.cpu_seconds() - server_before
    generator_cpu = generators.cpu_seconds() - generators_before
    answers = []
    for process in generators.processes:
        assert process.stdout is not None
        answers.append(json.loads(process.stdout.readline()))
    histogram: dict[int, int] = {}
    for answer in answers:
        for bucket, n in answer["histogram"].items():
            histogram[int(bucket)] = histogram.get(int(bucket), 0) + n
    sent = sum(a["sent"] for a in answers)
    received = sum(a["received"] for a in answers)
    expected = sent * (args.peers - 1)
    return Step(
        rate=round(rate, 2),
        delivered_per_s=round(received / args.duration),
        p50_ms=round(histogram_quantile(histogram, 0.50), 2),
        p99_ms=round(histogram_quantile(histogram, 0.99), 2),
        loss=round(1 - received / expected, 5) if expected else 1.0,
        lost_connections=sum(a["lost"] for a in answers),
        server_cpu_pct=round(100 * server_cpu / args.duration, 1),
        generator_cpu_pct=round(100 * generator_cpu / args.duration, 1),
        generator_behind_s=max(a["worst_lag_s"] for a in answers),
    )


def show(label: str, s: Step) -> None:
    print(
        f"  {label:>9} {s.rate:8.1f}/s/peer  {s.delivered_per_s:>8} deliveries/s  "
        f"p50 {s.p50_ms:7.2f} ms  p99 {s.p99_ms:8.2f} ms  loss {s.loss:.4f}  "
        f"server CPU {s.server_cpu_pct:5.1f} %  generator CPU {s.generator_cpu_pct:5.1f} %"
        + (f"  generator behind {s.generator_behind_s} s" if s.generator_behind_s else ""),
        flush=True,
    )


class Load:
    """Connected peers on a deployment; rebuilt when a failed step lost some."""

    def __init__(self, deployment: Deployment, args: argparse.Namespace) -> None:
        self.deployment, self.args = deployment, args
        self.generators: Generators | None = None

    def ready(self) -> Generators:
        if self.generators is None:
            sessions = self.deployment.sessions(self.args.sessions, self.args.peers)
            self.generators = Generators(self.deployment.target, sessions, self.args)
            connected = connect(self.generators, self.args.concurrency)
            if connected.failed:
                raise RuntimeError("peers could not connect")
        return self.generators

    def step(self, rate: float) -> Step:
        result = step(self.deployment, self.ready(), rate, self.args)
        self.deployment.wait_quiet()
        if result.lost_connections:
            self.close()  # the next step starts from fresh sessions
        return result

    def close(self) -> None:
        if self.generators is not None:
            self.generators.close()
            self.generators = None


def search(load: Load, args: argparse.Namespace) -> dict[str, Any]:
    """The highest rate that passes: up by ``--growth`` until a step fails, then
    bisect between the last pass and the first failure ``--bisections`` times."""
    deliveries_per_frame = args.sessions * args.peers * (args.peers - 1)
    rate = args.start_deliveries / deliveries_per_frame
    best: Step | None = None
    failed_at: float | None = None
    while failed_at is None:
        result = load.step(rate)
        show("pass" if result.passed(args.p99_limit) else "fail", result)
        if result.passed(args.p99_limit):
            best, rate = result, rate * args.growth
        else:
            failed_at = rate
        if result.generator_behind_s > 0.1:
            print("  the generators fell behind: the figures above measure them", flush=True)
            break
    low = best.rate if best is not None else 0.0
    high = failed_at or rate
    for _ in range(args.bisections if best is not None else 0):
        rate = (low + high) / 2
        result = load.step(rate)
        show("pass" if result.passed(args.p99_limit) else "fail", result)
        if result.passed(args.p99_limit):
            best, low = result, rate
        else:
            high = rate
    half = None
    if best is not None:
        half = load.step(best.rate / 2)
        show("half rate", half)
    return {
        "sustained": asdict(best) if best else None,
        "half_rate": asdict(half) if half else None,
    }


def throughput(target: str, args: argparse.Namespace) -> dict[str, Any]:
    with Deployment(target, args) as deployment:
        load = Load(deployment, args)
        try:
            if args.rate:
                result = load.step(args.rate)
                show("fixed", result)
                return {"fixed": asdict(result)}
            return search(load, args)
        finally:
            load.close()


# Idle memory and the admission burst -----------------------------------------------


def idle(target: str, args: argparse.Namespace) -> dict[str, Any]:
    """RSS growth per connection: the sessions are made first, so only the
    connections (and what the server keeps per peer) are counted."""
    with Deployment(target, args) as deployment:
        warm = Generators(target, deployment.sessions(1, args.peers), args)
        connect(warm, args.concurrency)  # imports and caches a first connection fills
        sessions = deployment.sessions(args.idle // args.peers, args.peers)
        generators = Generators(target, sessions, args)
        time.sleep(args.drain)
        before = deployment.rss_kib()
        connected = connect(generators, args.concurrency)
        time.sleep(args.drain)
        after = deployment.rss_kib()
        generators.close()
        warm.close()
    per_connection = (after - before) / max(1, connected.peers)
    print(
        f"  idle: {connected.peers} connections, {per_connection:.1f} KiB each "
        f"(RSS {before / 1024:.0f} -> {after / 1024:.0f} MiB)",
        flush=True,
    )
    return {
        "idle_connections": connected.peers,
        "rss_before_mib": round(before / 1024, 1),
        "rss_after_mib": round(after / 1024, 1),
        "kib_per_connection": round(per_connection, 1),
    }


def _admitted(deployment: Deployment, generators: Generators, args: argparse.Namespace,
              label: str, resume: bool = False) -> dict[str, Any]:  # fmt: skip
    """Every peer connected (or back, with ``resume``) at once, timed, with the
    servers' CPU over that time; printed under ``label``."""
    cpu_before = deployment.cpu_seconds()
    connected = connect(generators, args.concurrency, resume=resume)
    cpu = deployment.cpu_seconds() - cpu_before
    result = {**asdict(connected), "server_cpu_pct": round(100 * cpu / connected.seconds, 1)}
    print(
        f"  {label}: {connected.peers} peers admitted in {connected.seconds} s = "
        f"{connected.admitted_per_s}/s (each: p50 {connected.p50_ms} ms, "
        f"p99 {connected.p99_ms} ms), server CPU {result['server_cpu_pct']} %",
        flush=True,
    )
    return result


def burst(target: str, args: argparse.Namespace) -> dict[str, Any]:
    with Deployment(target, args) as deployment:
        sessions = deployment.sessions(args.burst // args.peers, args.peers)
        generators = Generators(target, sessions, args)
        time.sleep(1)  # the generators' own start-up is not part of the burst
        result = _admitted(deployment, generators, args, "burst")
        generators.close()
    return result


def storm(target: str, args: argparse.Namespace) -> dict[str, Any]:
    """``--burst`` admitted peers, their server killed (SIGKILL) and started again,
    then every peer back at once with the credentials of its last welcome: the
    reconnect storm after a failure. Timed from the restarted server's first
    accepted connection to the last peer admitted again."""
    if args.split or args.balanced:
        raise SystemExit("--measure storm runs on one server")
    with Deployment(target, args) as deployment:
        sessions = deployment.sessions(args.burst // args.peers, args.peers)
        generators = Generators(target, sessions, args)
        connect(generators, args.concurrency)
        time.sleep(args.drain)  # the last admissions are saved
        deployment.servers[0].restart()
        result = _admitted(deployment, generators, args, "storm after a crash", resume=True)
        generators.close()
    return result


# ------------------------------------------------------------------------------------


def ratios(ours: dict[str, Any], reference: dict[str, Any]) -> dict[str, float]:
    found: dict[str, float] = {}
    for key, path in (
        ("throughput", ("throughput", "sustained", "delivered_per_s")),
        ("fixed_rate", ("throughput", "fixed", "delivered_per_s")),
        ("memory_per_idle_connection", ("idle", "kib_per_connection")),
        ("admitted_per_s", ("burst", "admitted_per_s")),
        ("storm_admitted_per_s", ("storm", "admitted_per_s")),
    ):
        a: Any = ours
        b: Any = reference
        for part in path:
            a = a.get(part) if isinstance(a, dict) else None
            b = b.get(part) if isinstance(b, dict) else None
        if a and b:
            found[key] = round(a / b, 3)
    return found


MEASURES = {"throughput": throughput, "idle": idle, "burst": burst, "storm": storm}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--target",
        nargs="+",
        choices=["ctserver", "reference", "node"],
        default=["ctserver", "reference"],
        help="reference: bare websockets relay (the ratios' base); node: bare Node.js ws relay",
    )
    parser.add_argument("--measure", nargs="+", choices=list(MEASURES), default=list(MEASURES))
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--peers", type=int, default=5, help="peers per session")
    parser.add_argument("--size", type=int, default=256, help="frame size in bytes")
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="one step at this rate per peer instead of the search",
    )
    parser.add_argument(
        "--start-deliveries",
        type=float,
        default=10000,
        help="deliveries per second of the search's first step",
    )
    parser.add_argument("--growth", type=float, default=1.5)
    parser.add_argument("--bisections", type=int, default=3)
    parser.add_argument("--p99-limit", type=float, default=100.0, help="ms")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds a step")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--drain", type=float, default=1.0, help="seconds for stragglers")
    parser.add_argument("--idle", type=int, default=5000, help="idle connections to open")
    parser.add_argument("--burst", type=int, default=5000, help="peers connecting at once")
    parser.add_argument(
        "--concurrency", type=int, default=500, help="handshakes in flight per generator"
    )
    parser.add_argument("--generators", type=int, default=1, help="load generator processes")
    parser.add_argument(
        "--server",
        choices=["uvicorn", "daphne"],
        default="uvicorn",
        help="the ASGI server ctserver runs under",
    )
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--split",
        action="store_true",
        help="two ctservers sharing PostgreSQL and Redis, each session split",
    )
    parser.add_argument(
        "--balanced",
        type=int,
        default=0,
        metavar="N",
        help="N ctservers sharing PostgreSQL and Redis behind nginx (deploy/nginx's routing)",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument(
        "--postgres-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="a maintenance database; databases are made and dropped there",
    )
    parser.add_argument("--server-cpu", type=int, default=0, help="-1: not pinned")
    parser.add_argument("--client-cpu", type=int, default=1, help="-1: not pinned")
    parser.add_argument("--verbose", action="store_true", help="show the servers' errors")
    args = parser.parse_args()
    # Many connections need many descriptors: take the hard limit (children inherit it).
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if args.client_cpu >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.client_cpu})
    targets = args.target
    results: dict[str, Any] = {"scenario": {k: v for k, v in vars(args).items()}}
    for target in targets:
        print(f"{target}:", flush=True)
        results[target] = {m: MEASURES[m](target, args) for m in args.measure}
    if "ctserver" in targets and "reference" in targets:
        results["ratio"] = ratios(results["ctserver"], results["reference"])
        print("ctserver / reference:", results["ratio"], flush=True)
    print(json.dumps(results), flush=True)


if __name__ == "__main__":
    main()
