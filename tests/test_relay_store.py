"""Durable session state: what survives a restart, and sessions nobody serves."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from relay import store
from relay.limits import RelayLimits
from relay.models import Participant, Session
from relay.protocol import Command, Hello
from relay.room import secret_digest

pytestmark = pytest.mark.django_db

LIMITS = RelayLimits(idle_timeout=600)


class Link:
    closing = False

    def __init__(self) -> None:
        self.texts: list[dict[str, Any]] = []

    def deliver(self, frame: bytes) -> None: ...

    def post(self, text: str) -> None:
        self.texts.append(json.loads(text))

    def close(self, code: Any) -> None: ...


def test_a_rebuilt_room_keeps_admitted_peers_and_the_lobby() -> None:
    created = store.create_session(False, "Ada", max_open=10)
    room = store.load_room(created.session_id, LIMITS, now=1000.0)
    assert room is not None
    host = room.join_host(Hello("host", "Ada", created.host_secret, None, None, ""), Link(), "h", 1)
    for peer_id, name in ((2, "Bob"), (3, "Eve")):
        room.join_guest(
            Hello("guest", name, None, None, None, ""), peer_id, f"s{peer_id}", Link(), 2
        )
    room.command(host, Command("admit", peer=2), 3)
    room.command(host, Command("set_read_only", peer=2, flag=True), 4)
    store.flush(room)

    rebuilt = store.load_room(created.session_id, LIMITS, now=5000.0)
    assert rebuilt is not None
    assert sorted(rebuilt.peers) == [1, 2, 3]
    bob = rebuilt.peers[2]
    assert (bob.name, bob.state, bob.read_only, bob.link) == ("Bob", "admitted", True, None)
    assert bob.away_since == 5000.0 and bob.secret_hash == secret_digest("s2")
    assert rebuilt.peers[3].state == "lobby"

    # A guest whose admission was lost with its server resumes into the lobby,
    # and the host is asked again.
    host_link, eve_link = Link(), Link()
    rebuilt.join_host(
        Hello("host", "Ada", created.host_secret, None, None, ""), host_link, "h2", 5001
    )
    rebuilt.resume(Hello("guest", "Eve", None, 3, "s3", ""), eve_link, "s3b", 5002)
    assert eve_link.texts[0]["state"] == "lobby" and eve_link.texts[0]["resumed"] is True
    assert host_link.texts[-1]["type"] == "join_request"


def test_sessions_no_server_touches_are_ended_as_idle() -> None:
    stale = store.create_session(False, "Ada", max_open=10)
    fresh = store.create_session(False, "Bob", max_open=10)
    Session.objects.filter(session_id=stale.session_id).update(
        last_activity=timezone.now() - timedelta(seconds=700)
    )
    assert store.end_abandoned_sessions(LIMITS) == 1
    assert Session.objects.get(session_id=stale.session_id).end_reason == "idle"
    assert Session.objects.get(session_id=fresh.session_id).ended is None
    assert not store.session_is_open(stale.session_id)
    log = (settings.DATA.logs / "sessions.log").read_text().splitlines()
    assert {"event": "ended", "reason": "idle"}.items() <= json.loads(log[-1]).items()


def test_open_session_cap() -> None:
    store.create_session(False, "Ada", max_open=1)
    with pytest.raises(store.TooManySessions):
        store.create_session(False, "Bob", max_open=1)


def test_peer_ids_are_allocated_in_order() -> None:
    created = store.create_session(False, "Ada", max_open=10)
    assert [store.allocate_peer_id(created.session_id) for _ in range(3)] == [2, 3, 4]
    assert Participant.objects.count() == 0
