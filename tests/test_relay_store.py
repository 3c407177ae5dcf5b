"""Durable session state: what survives a restart, and sessions nobody serves."""

from __future__ import annotations

import json
import logging
import time
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.db import OperationalError, connection, connections
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
    created = store.create_session(False, "Ada", "127.0.0.1", LIMITS)
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


def test_a_rebuilt_room_accepts_the_secret_a_lost_welcome_replaced() -> None:
    """A server rotates a guest's secret and saves it, but its welcome never
    arrives (its server lost the connection, or the bus): the room rebuilt
    elsewhere still resumes the guest with the secret it holds."""
    created = store.create_session(True, "Ada", "127.0.0.1", LIMITS)
    room = store.load_room(created.session_id, LIMITS, now=1000.0)
    assert room is not None
    room.join_host(Hello("host", "Ada", created.host_secret, None, None, ""), Link(), "h", 1)
    room.join_guest(Hello("guest", "Bob", None, None, None, ""), 2, "held", Link(), 2)
    room.resume(Hello("guest", "Bob", None, 2, "held", ""), Link(), "lost", 3)
    store.flush(room)

    rebuilt = store.load_room(created.session_id, LIMITS, now=5000.0)
    assert rebuilt is not None
    link = Link()
    rebuilt.resume(Hello("guest", "Bob", None, 2, "held", ""), link, "next", 5001)
    assert link.texts[0]["type"] == "welcome" and link.texts[0]["resumed"] is True


def test_sessions_no_server_touches_are_ended_as_idle() -> None:
    stale = store.create_session(False, "Ada", "127.0.0.1", LIMITS)
    fresh = store.create_session(False, "Bob", "127.0.0.1", LIMITS)
    Session.objects.filter(session_id=stale.session_id).update(
        last_activity=timezone.now() - timedelta(seconds=700)
    )
    assert store.end_unserved_sessions(LIMITS) == 1
    assert Session.objects.get(session_id=stale.session_id).end_reason == "idle"
    assert Session.objects.get(session_id=fresh.session_id).ended is None
    assert not store.session_is_open(stale.session_id)
    # Its own lines: test workers running beside this one write to the same log.
    log = (settings.DATA.logs / "sessions.log").read_text().splitlines()
    mine = [entry for entry in map(json.loads, log) if entry["session"] == stale.session_id]
    assert {"event": "ended", "reason": "idle"}.items() <= mine[-1].items()


def test_open_session_cap() -> None:
    one = RelayLimits(max_open_sessions=1)
    store.create_session(False, "Ada", "127.0.0.2", one)
    with pytest.raises(store.TooManySessions):
        store.create_session(False, "Bob", "127.0.0.3", one)


def test_peer_ids_are_allocated_in_order() -> None:
    created = store.create_session(False, "Ada", "127.0.0.1", LIMITS)
    assert store.allocate_peer_ids([created.session_id] * 3) == [2, 3, 4]
    assert Participant.objects.count() == 0


# -- failed writes lose nothing else (issue 7) -------------------------------------------


def _hosted_room_with_guest(guest_name: str) -> tuple[store.CreatedSession, Any]:
    created = store.create_session(True, "Ada", "127.0.0.1", LIMITS)
    room = store.load_room(created.session_id, LIMITS, now=1000.0)
    assert room is not None
    room.join_host(Hello("host", "Ada", created.host_secret, None, None, ""), Link(), "h", 1)
    store.flush(room)
    # Built past the protocol's checks, as a bug or a future field might.
    room.join_guest(Hello("guest", guest_name, None, None, None, ""), 2, "s2", Link(), 2)
    return created, room


def test_a_row_that_cannot_be_stored_loses_nothing_else(caplog: pytest.LogCaptureFixture) -> None:
    created, room = _hosted_room_with_guest("\ud800x")
    room.end("host_ended")
    with caplog.at_level(logging.ERROR, logger="ctserver.relay.store"):
        assert store.flush(room) is None  # no exception reaches the connection
    row = Session.objects.get(session_id=created.session_id)
    assert (row.end_reason, row.ended is not None) == ("host_ended", True)
    assert Participant.objects.get(session_id=created.session_id, peer_id=1).state == "left"
    assert not Participant.objects.filter(session_id=created.session_id, peer_id=2).exists()
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(failures) == 1 and "participant 2 could not be saved" in failures[0].getMessage()
    log = [
        json.loads(line) for line in (settings.DATA.logs / "sessions.log").read_text().splitlines()
    ]
    mine = [entry["event"] for entry in log if entry["session"] == created.session_id]
    assert mine[-3:] == ["join_requested", "admitted", "ended"]
    assert not store.session_is_open(created.session_id)


def _events(session_id: str) -> list[str]:
    lines = (settings.DATA.logs / "sessions.log").read_text().splitlines()
    return [e["event"] for e in map(json.loads, lines) if e["session"] == session_id]


def test_an_outage_keeps_every_change_for_the_next_flush() -> None:
    created, room = _hosted_room_with_guest("Bob")
    room.end("host_ended")
    with connection.cursor() as cursor:  # the database refuses every write for a while
        cursor.execute("PRAGMA query_only = ON")
    try:
        with pytest.raises(store.StoreUnavailable):
            store.flush(room)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA query_only = OFF")
    assert store.session_is_open(created.session_id)
    assert room.pending and 2 in room.pending.peers
    assert "ended" not in _events(created.session_id)  # the log says only what is saved
    store.flush(room)
    assert not store.session_is_open(created.session_id)
    assert _events(created.session_id)[-1] == "ended"
    assert Participant.objects.get(session_id=created.session_id, peer_id=2).state == "left"


def test_a_room_whose_session_was_ended_elsewhere_learns_why() -> None:
    created, room = _hosted_room_with_guest("Bob")
    Session.objects.filter(session_id=created.session_id).update(
        ended=timezone.now(), end_reason="host_never_joined"
    )
    room.command(room.peers[1], Command("admit", peer=2), 3)
    assert store.flush(room) == "host_never_joined"


# -- limits on anonymous use ---------------------------------------------------------------


def test_open_sessions_and_creations_are_limited_per_address() -> None:
    limits = RelayLimits(max_open_sessions_per_address=2, session_create_rate=3)
    first = store.create_session(False, "Ada", "10.0.0.9", limits)
    store.create_session(False, "Ada", "10.0.0.9", limits)
    with pytest.raises(store.TooManyFromAddress):
        store.create_session(False, "Ada", "10.0.0.9", limits)
    store.create_session(False, "Bob", "10.0.0.7", limits)  # another address is served
    Session.objects.filter(session_id=first.session_id).update(ended=timezone.now())
    store.create_session(False, "Ada", "10.0.0.9", limits)  # a place is free again
    Session.objects.filter(created_by="10.0.0.9").update(ended=timezone.now())
    with pytest.raises(store.CreatingTooFast) as too_fast:
        store.create_session(False, "Ada", "10.0.0.9", limits)  # 3 in the last minute
    assert 1 <= too_fast.value.retry_after <= 60
    Session.objects.filter(created_by="10.0.0.9").update(
        created=timezone.now() - timedelta(seconds=61)
    )
    store.create_session(False, "Ada", "10.0.0.9", limits)


def test_sessions_whose_host_never_came_end_soon() -> None:
    limits = RelayLimits(host_timeout=300, idle_timeout=5400)
    unused = store.create_session(False, "Ada", "10.0.0.9", limits)
    hosted = store.create_session(False, "Bob", "10.0.0.9", limits)
    young = store.create_session(False, "Eve", "10.0.0.9", limits)
    room = store.load_room(hosted.session_id, limits, now=time.time())
    assert room is not None
    hello = Hello("host", "Bob", hosted.host_secret, None, None, "")
    room.join_host(hello, Link(), "h", time.time())
    store.flush(room)
    Session.objects.exclude(session_id=young.session_id).update(
        created=timezone.now() - timedelta(seconds=301)
    )
    assert store.end_unserved_sessions(limits) == 1
    assert Session.objects.get(session_id=unused.session_id).end_reason == "host_never_joined"
    assert store.session_is_open(hosted.session_id) and store.session_is_open(young.session_id)


def test_a_rebuilt_room_remembers_denied_and_removed_addresses() -> None:
    limits = RelayLimits(deny_backoff=30)
    created = store.create_session(True, "Ada", "127.0.0.1", limits)
    room = store.load_room(created.session_id, limits, now=1000.0)
    assert room is not None
    host = room.join_host(Hello("host", "Ada", created.host_secret, None, None, ""), Link(), "h", 1)
    room.auto_admit = False
    room.join_guest(Hello("guest", "Bob", None, None, None, ""), 2, "s2", Link(), 2, "10.0.0.9")
    room.command(host, Command("deny", peer=2), 3)
    room.auto_admit = True
    room.join_guest(Hello("guest", "Eve", None, None, None, ""), 3, "s3", Link(), 4, "10.0.0.7")
    room.command(host, Command("remove", peer=3), 5)
    store.flush(room)
    rebuilt = store.load_room(created.session_id, limits, now=time.time())
    assert rebuilt is not None
    assert rebuilt.removed_addresses == {"10.0.0.7"}
    assert rebuilt.guest_refusal("10.0.0.9", time.time()) is not None


@pytest.mark.django_db(transaction=True)  # a real commit, which is what fails here
def test_audit_lines_are_written_only_once_the_commit_succeeded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    created, room = _hosted_room_with_guest("Bob")
    room.end("host_ended")
    database = connections["default"]

    def failing_commit() -> None:
        raise OperationalError("disk I/O error during commit")

    with monkeypatch.context() as patch:
        patch.setattr(database, "commit", failing_commit)
        with pytest.raises(store.StoreUnavailable):
            store.flush(room)
    assert "ended" not in _events(created.session_id)
    store.flush(room)
    assert _events(created.session_id)[-1] == "ended"
    assert not store.session_is_open(created.session_id)


# -- grouped writes (relay/batching.py, issue 12) ------------------------------------------


def test_peer_ids_for_several_sessions_in_one_group() -> None:
    ada = store.create_session(False, "Ada", "127.0.0.1", LIMITS).session_id
    bob = store.create_session(False, "Bob", "127.0.0.1", LIMITS).session_id
    Session.objects.filter(session_id=bob).update(next_peer_id=7)
    got = store.allocate_peer_ids([ada, bob, ada, "no-such-session", bob])
    assert got[:3] == [2, 7, 3] and got[4] == 8
    assert isinstance(got[3], LookupError)
    assert store.allocate_peer_ids([ada, bob]) == [4, 9]


def test_a_group_of_rooms_is_saved_together() -> None:
    rooms = []
    for name in ("Ada", "Bob", "Cy"):
        created = store.create_session(True, name, "127.0.0.1", LIMITS)
        room = store.load_room(created.session_id, LIMITS, now=1000.0)
        assert room is not None
        hello = Hello("host", name, created.host_secret, None, None, "")
        room.join_host(hello, Link(), "h", 1)
        room.join_guest(Hello("guest", "Eve", None, None, None, ""), 2, "s2", Link(), 2)
        rooms.append(room)
    ended_elsewhere = rooms[2].session_id
    Session.objects.filter(session_id=ended_elsewhere).update(
        ended=timezone.now(), end_reason="idle"
    )
    rooms[1].end("host_ended")
    # A room asked for twice in one group is written once and answered twice.
    assert store.flush_rooms([rooms[0], rooms[1], rooms[0], rooms[2]]) == [None, None, None, "idle"]
    assert not any(room.pending for room in rooms)
    for room in rooms[:2]:
        parts = Participant.objects.filter(session_id=room.session_id).order_by("peer_id")
        states = [(p.peer_id, p.state, p.admitted_at is not None) for p in parts]
        left = "left" if room is rooms[1] else "admitted"
        assert states == [(1, left, True), (2, left, True)]
    assert Session.objects.get(session_id=rooms[1].session_id).end_reason == "host_ended"
    assert _events(rooms[0].session_id) == ["created", "join_requested", "admitted"]
    assert _events(rooms[1].session_id)[-1] == "ended"


def test_admission_time_is_kept_when_the_row_is_written_again() -> None:
    created, room = _hosted_room_with_guest("Bob")
    store.flush_rooms([room])
    first = Participant.objects.get(session_id=created.session_id, peer_id=2).admitted_at
    assert first is not None
    room.command(room.peers[1], Command("set_read_only", peer=2, flag=True), 50)
    store.flush_rooms([room])
    again = Participant.objects.get(session_id=created.session_id, peer_id=2)
    assert again.read_only and again.admitted_at == first
    rebuilt = store.load_room(created.session_id, LIMITS, now=time.time())
    assert rebuilt is not None and rebuilt.peers[2].admitted_at == first.timestamp()


def test_one_bad_row_in_a_group_costs_only_itself(caplog: pytest.LogCaptureFixture) -> None:
    _, bad = _hosted_room_with_guest("\ud800x")
    good_session, good = _hosted_room_with_guest("Bob")
    with caplog.at_level(logging.ERROR, logger="ctserver.relay.store"):
        assert store.flush_rooms([bad, good]) == [None, None]
    assert Participant.objects.filter(session_id=good_session.session_id, peer_id=2).exists()
    assert not Participant.objects.filter(session_id=bad.session_id, peer_id=2).exists()
    failures = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(failures) == 1 and "participant 2 could not be saved" in failures[0]


def test_an_outage_keeps_every_room_of_the_group() -> None:
    _, first = _hosted_room_with_guest("Bob")
    _, second = _hosted_room_with_guest("Eve")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA query_only = ON")
    try:
        answers = store.flush_rooms([first, second])
    finally:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA query_only = OFF")
    assert all(isinstance(a, store.StoreUnavailable) for a in answers)
    assert 2 in first.pending.peers and 2 in second.pending.peers
    assert store.flush_rooms([first, second]) == [None, None]
    for room in (first, second):
        assert Participant.objects.filter(session_id=room.session_id, peer_id=2).exists()


def test_many_rooms_load_in_a_few_queries(django_assert_max_num_queries: Any) -> None:
    limits = RelayLimits(max_open_sessions_per_address=100, session_create_rate=100)
    ids = [store.create_session(True, "Ada", "127.0.0.1", limits).session_id for _ in range(30)]
    with django_assert_max_num_queries(3):  # sessions, participants, served_by
        rooms = store.load_rooms([*ids, "no-such-session"], LIMITS, now=1000.0)
    assert [room.session_id for room in rooms[:30] if room] == ids and rooms[30] is None


@pytest.mark.django_db
def test_a_session_taken_over_from_a_failed_server_is_recorded() -> None:
    limits = RelayLimits(max_open_sessions_per_address=100, session_create_rate=100)
    taken, handed, mine = (
        store.create_session(True, "Ada", "127.0.0.1", limits).session_id for _ in range(3)
    )
    Session.objects.filter(session_id__in=[taken, handed]).update(served_by="dead-server")
    Session.objects.filter(session_id=handed).update(served_by="")  # handed back cleanly
    Session.objects.filter(session_id=mine).update(served_by=store.this_server())
    store.load_rooms([taken, handed, mine], LIMITS, now=1000.0)
    rows = {s.session_id: s for s in Session.objects.filter(session_id__in=[taken, handed, mine])}
    assert {sid: (s.served_by, s.moves) for sid, s in rows.items()} == {
        taken: (store.this_server(), 1),
        handed: (store.this_server(), 0),
        mine: (store.this_server(), 0),
    }
    log = (settings.DATA.logs / "sessions.log").read_text().splitlines()
    lines = [json.loads(line) for line in log]
    moved = [m for m in lines if m["event"] == "moved" and m["session"] in rows]
    assert [(m["session"], m["from"], m["to"]) for m in moved] == [
        (taken, "dead-server", store.this_server())
    ]
    store.hand_back([taken, handed])
    assert set(Session.objects.filter(served_by="").values_list("session_id", flat=True)) >= {
        taken,
        handed,
    }
