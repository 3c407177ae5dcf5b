"""StatsD (CT_METRICS_STATSD_*): the six figures reach a real StatsD daemon, over UDP
and TCP, from the publisher alone and from a real server running a session; a TCP
daemon that restarts gets the figures again."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from ctserver.config import StatsdTarget
from dashboard.statsd import StatsdPublisher
from tests.support.figures import sample_figures
from tests.support.peers import admitted_pair
from tests.support.server import ServerProcess, plain_http_env
from tests.support.statsd import StatsdDaemon
from tests.support.waiting import eventually, until

StartServer = Callable[..., ServerProcess]
NAMES = {
    "users_online",
    "sessions_active",
    "connections_active",
    "lag_average_ms",
    "sessions_hosted_total",
    "downloads_total",
}


@pytest.fixture
def statsd_daemon(tmp_path: Path) -> Iterator[StatsdDaemon]:
    daemon = StatsdDaemon(tmp_path).start()
    yield daemon
    daemon.stop()


def _target(daemon: StatsdDaemon, protocol: str, prefix: str = "ctserver") -> StatsdTarget:
    port = daemon.tcp_port if protocol == "tcp" else daemon.udp_port
    return StatsdTarget("127.0.0.1", port, protocol, prefix, interval=1.0)


@pytest.mark.parametrize("protocol", ["udp", "tcp"])
def test_the_publisher_sends_the_six_figures_as_gauges(
    statsd_daemon: StatsdDaemon, protocol: str
) -> None:
    publisher = StatsdPublisher(_target(statsd_daemon, protocol, prefix="ct.prod"))
    publisher.publish(sample_figures())
    until(lambda: len(statsd_daemon.gauges_under("ct.prod")) == 6, what="six gauges")
    assert statsd_daemon.gauges_under("ct.prod") == {
        "users_online": 3,
        "sessions_active": 2,
        "connections_active": 5,
        "lag_average_ms": 2.5,
        "sessions_hosted_total": 40,
        "downloads_total": 7,
    }
    publisher.publish(sample_figures(users_online=0, active_sessions=0))  # gauges go down too
    until(
        lambda: statsd_daemon.gauges_under("ct.prod")["sessions_active"] == 0,
        what="the next values",
    )
    assert statsd_daemon.gauges_under("ct.prod")["users_online"] == 0


def test_tcp_fails_while_the_daemon_is_down_and_works_once_it_is_back(
    statsd_daemon: StatsdDaemon,
) -> None:
    publisher = StatsdPublisher(_target(statsd_daemon, "tcp"))
    publisher.publish(sample_figures())
    until(lambda: statsd_daemon.gauges_under("ctserver"), what="the first batch")
    statsd_daemon.stop()
    with pytest.raises(ConnectionRefusedError):
        publisher.publish(sample_figures())
    statsd_daemon.start()  # the same ports, nothing received yet
    assert statsd_daemon.gauges_under("ctserver") == {}
    publisher.publish(sample_figures(users_online=9))
    until(lambda: statsd_daemon.gauges_under("ctserver"), what="a batch after the restart")
    assert statsd_daemon.gauges_under("ctserver")["users_online"] == 9


def _statsd_env(daemon: StatsdDaemon, protocol: str) -> dict[str, str]:
    return plain_http_env(
        CT_METRICS_STATSD_HOST="127.0.0.1",
        CT_METRICS_STATSD_PORT=str(daemon.tcp_port if protocol == "tcp" else daemon.udp_port),
        CT_METRICS_STATSD_PROTOCOL=protocol,
        CT_METRICS_STATSD_PREFIX="ctserver.e2e",
        CT_METRICS_STATSD_INTERVAL="1",
        CT_STATUS_INTERVAL="0.5",
    )


def _download_a_client(server: ServerProcess) -> None:
    index = httpx.get(f"{server.http_url}/clients/")
    link = re.search(r'href="(/clients/python/[^"]+\.whl)"', index.text)
    assert link is not None, index.text
    assert httpx.get(server.http_url + link[1]).status_code == 200


@pytest.mark.parametrize("protocol", ["udp", "tcp"])
async def test_a_server_reports_a_live_session_to_statsd(
    start_server: StartServer, statsd_daemon: StatsdDaemon, protocol: str
) -> None:
    server = start_server(**_statsd_env(statsd_daemon, protocol))

    def gauges() -> dict[str, float]:
        return statsd_daemon.gauges_under("ctserver.e2e")

    await eventually(lambda: set(gauges()) == NAMES, timeout=10, what="the six gauges")
    assert gauges()["sessions_active"] == 0 and gauges()["downloads_total"] == 0
    _download_a_client(server)
    async with admitted_pair(server.http_url) as (host, _):
        live = {
            "users_online": 2,
            "sessions_active": 1,
            "connections_active": 2,
            "sessions_hosted_total": 1,
            "downloads_total": 1,
        }
        await eventually(
            lambda: {name: gauges()[name] for name in live} == live,
            timeout=10,
            what=f"the session's figures in StatsD, last seen {gauges()}",
        )
        assert gauges()["lag_average_ms"] >= 0
        await host.end()
    await eventually(
        lambda: gauges()["sessions_active"] == 0 and gauges()["connections_active"] == 0,
        timeout=10,
        what="the session gone from StatsD",
    )
    assert gauges()["sessions_hosted_total"] == 1  # a total: it stays


async def test_a_server_sends_again_once_a_tcp_daemon_restarts(
    start_server: StartServer, statsd_daemon: StatsdDaemon
) -> None:
    server = start_server(**_statsd_env(statsd_daemon, "tcp"))
    await eventually(
        lambda: statsd_daemon.gauges_under("ctserver.e2e"), timeout=10, what="the first batch"
    )
    statsd_daemon.stop()
    await eventually(
        lambda: "Sending StatsD metrics failed" in server.output,
        timeout=10,
        what="the failure in the log",
    )
    statsd_daemon.start()
    await eventually(
        lambda: set(statsd_daemon.gauges_under("ctserver.e2e")) == NAMES,
        timeout=10,
        what="the gauges sent to the restarted daemon",
    )
    await eventually(
        lambda: "Sending StatsD metrics works again" in server.output,
        timeout=10,
        what="the recovery in the log",
    )
    assert server.output.count("Sending StatsD metrics failed") == 1  # once, not per try
