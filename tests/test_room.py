from __future__ import annotations

import json

import pytest

from relay.limits import RelayLimits
from relay.protocol import HEADER, CloseCode, Command, Hello, ProtocolError
from relay.room import Peer, Room, secret_digest

LIMITS = RelayLimits(
    max_peers=4, max_lobby=2, reconnect_grace=60, no_guest_timeout=100, empty_timeout=50,
    idle_timeout=300,
)  # fmt: skip
HOST_SECRET = "host-secret"
FRAME = HEADER.pack(1, 0, 0) + bytes(28)


class FakeLink:
    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.texts: list[dict[str, object]] = []
        self.closed: CloseCode | None = None

    def deliver(self, frame: bytes) -> None:
        self.frames.append(frame)

    def post(self, text: str) -> None:
        self.texts.append(json.loads(text))

    def close(self, code: CloseCode) -> None:
        self.closed = code

    def types(self) -> list[object]:
        return [t["type"] if t["type"] != "presence" else t["event"] for t in self.texts]


def hello(role: str = "guest", name: str = "Bob", **extra: object) -> Hello:
    return Hello(
        role=role,
        name=name,
        host_secret=HOST_SECRET if role == "host" else None,
        resume_peer_id=extra.get("peer_id"),  # type: ignore[arg-type]
        resume_secret=extra.get("secret"),  # type: ignore[arg-type]
        client="test",
    )


@pytest.fixture
def room() -> Room:
    return Room("s1", secret_digest(HOST_SECRET), False, LIMITS, created_at=0.0, now=0.0)


def with_host(room: Room) -> tuple[Peer, FakeLink]:
    link = FakeLink()
    return room.join_host(hello("host", "Ada"), link, "hs", 1.0), link


def with_guest(room: Room, peer_id: int = 2, admit: bool = True) -> tuple[Peer, FakeLink]:
    link = FakeLink()
    guest = room.join_guest(hello(), peer_id, f"secret-{peer_id}", link, 2.0)
    if admit:
        room.command(room.peers[1], Command("admit", peer=peer_id), 3.0)
    return guest, link


def test_guest_waits_in_the_lobby_until_admitted(room: Room) -> None:
    host, host_link = with_host(room)
    guest, guest_link = with_guest(room, admit=False)
    assert guest_link.texts[0]["type"] == "welcome" and guest_link.texts[0]["state"] == "lobby"
    assert host_link.types()[-1] == "join_request"
    with pytest.raises(ProtocolError) as refused:
        room.relay(guest, 0, 0, FRAME, 3.0)
    assert refused.value.code == "not_admitted" and refused.value.close is None
    room.relay(host, 0, 0, FRAME, 3.0)
    assert guest_link.frames == []  # a lobby guest receives nothing either
    room.command(host, Command("admit", peer=2), 4.0)
    assert guest_link.types()[-1] == "admitted"
    assert host_link.types()[-1] == "admitted"


def test_broadcast_reaches_other_admitted_peers_stamped_with_the_sender(room: Room) -> None:
    _host, host_link = with_host(room)
    bob, bob_link = with_guest(room, 2)
    _, carol_link = with_guest(room, 3)
    room.relay(bob, 0, 0, FRAME, 5.0)
    assert bob_link.frames == []
    for link in (host_link, carol_link):
        assert len(link.frames) == 1 and HEADER.unpack_from(link.frames[0]) == (1, 0, 2)
    assert room.frames_relayed == 2


def test_unicast_reaches_one_peer_and_unknown_targets_are_refused(room: Room) -> None:
    host, _host_link = with_host(room)
    _, bob_link = with_guest(room, 2)
    _, carol_link = with_guest(room, 3)
    room.relay(host, 1, 3, HEADER.pack(1, 1, 3) + bytes(28), 5.0)
    assert (len(bob_link.frames), len(carol_link.frames)) == (0, 1)
    with pytest.raises(ProtocolError) as refused:
        room.relay(host, 1, 99, HEADER.pack(1, 1, 99) + bytes(28), 5.0)
    assert refused.value.code == "unknown_peer"


def test_deny_and_remove_close_with_their_codes(room: Room) -> None:
    host, host_link = with_host(room)
    _, denied = with_guest(room, 2, admit=False)
    room.command(host, Command("deny", peer=2), 3.0)
    assert denied.closed == CloseCode.DENIED and 2 not in room.peers
    assert host_link.types()[-1] == "denied"
    _, removed = with_guest(room, 3)
    room.command(host, Command("remove", peer=3), 4.0)
    assert removed.closed == CloseCode.REMOVED and 3 not in room.peers


def test_read_only_flag_is_announced(room: Room) -> None:
    host, _host_link = with_host(room)
    _, bob_link = with_guest(room)
    room.command(host, Command("set_read_only", peer=2, flag=True), 4.0)
    assert room.peers[2].read_only
    assert bob_link.texts[-1]["event"] == "read_only"
    assert bob_link.texts[-1]["peer"]["read_only"] is True  # type: ignore[index]


def test_guest_resumes_within_its_grace_with_its_identity(room: Room) -> None:
    with_host(room)
    bob, bob_link = with_guest(room)
    room.link_lost(bob, bob_link, 10.0)
    assert room.peers[2].link is None
    again = FakeLink()
    resumed = room.resume(hello(peer_id=2, secret="secret-2"), again, "new-secret", 20.0)
    assert resumed is bob and bob.state == "admitted"
    assert again.texts[0]["resumed"] is True and again.texts[0]["peer_id"] == 2
    room.sweep(200.0)
    assert 2 in room.peers  # it came back: no expiry


def test_resume_with_wrong_secret_is_refused(room: Room) -> None:
    with_host(room)
    bob, bob_link = with_guest(room)
    room.link_lost(bob, bob_link, 10.0)
    with pytest.raises(ProtocolError) as refused:
        room.resume(hello(peer_id=2, secret="guess"), FakeLink(), "x", 11.0)
    assert refused.value.close == CloseCode.NOT_AUTHENTICATED


def test_a_newer_connection_replaces_the_old_one(room: Room) -> None:
    with_host(room)
    _, old = with_guest(room)
    room.resume(hello(peer_id=2, secret="secret-2"), FakeLink(), "x", 11.0)
    assert old.closed == CloseCode.REPLACED


def test_grace_expiry_makes_a_guest_leave(room: Room) -> None:
    _, host_link = with_host(room)
    bob, bob_link = with_guest(room)
    room.link_lost(bob, bob_link, 10.0)
    assert host_link.types()[-1] == "away"
    room.sweep(71.0)
    assert 2 not in room.peers and host_link.types()[-1] == "left"


def test_host_blip_keeps_the_session_but_a_long_absence_ends_it(room: Room) -> None:
    host, host_link = with_host(room)
    _, bob_link = with_guest(room)
    room.link_lost(host, host_link, 10.0)
    assert bob_link.types()[-1] == "host_away"
    room.join_host(hello("host", "Ada"), FakeLink(), "hs2", 20.0)
    assert bob_link.types()[-1] == "host_back" and room.ended_reason is None
    room.link_lost(host, room.peers[1].link, 30.0)  # type: ignore[arg-type]
    room.sweep(91.0)
    assert room.ended_reason == "host_left" and bob_link.closed == CloseCode.SESSION_ENDED


@pytest.mark.parametrize(
    ("setup", "now", "reason"),
    [("nobody", 101.0, "no_guest_joined"), ("left", 60.0, "last_guest_left")],
)
def test_session_timeouts(room: Room, setup: str, now: float, reason: str) -> None:
    _host, _ = with_host(room)
    if setup == "left":
        bob, _ = with_guest(room)
        room.command(bob, Command("leave"), 5.0)
    room.sweep(now)
    assert room.ended_reason == reason


def test_idle_session_ends(room: Room) -> None:
    _host, _ = with_host(room)
    with_guest(room)
    room.sweep(200.0)
    assert room.ended_reason is None
    room.sweep(304.0)
    assert room.ended_reason == "idle"


def test_lobby_and_session_caps(room: Room) -> None:
    with_host(room)
    with_guest(room, 2, admit=False)
    with_guest(room, 3, admit=False)
    with pytest.raises(ProtocolError) as lobby_full:
        with_guest(room, 4, admit=False)
    assert lobby_full.value.close == CloseCode.SESSION_FULL
    room.command(room.peers[1], Command("admit", peer=2), 3.0)
    with_guest(room, 5, admit=False)
    with pytest.raises(ProtocolError) as full:
        with_guest(room, 6, admit=False)
    assert full.value.close == CloseCode.SESSION_FULL


def test_auto_admit_skips_the_lobby(room: Room) -> None:
    host, _ = with_host(room)
    with_guest(room, 2, admit=False)
    room.command(host, Command("set_auto_admit", flag=True), 3.0)
    assert room.peers[2].state == "admitted"
    _, link = with_guest(room, 3, admit=False)
    assert link.types()[:2] == ["welcome", "admitted"]


def test_wrong_host_secret_is_refused(room: Room) -> None:
    bad = Hello("host", "Eve", "nope", None, None, "")
    with pytest.raises(ProtocolError) as refused:
        room.join_host(bad, FakeLink(), "x", 1.0)
    assert refused.value.close == CloseCode.NOT_AUTHENTICATED


def test_host_ending_closes_everyone_and_records_it(room: Room) -> None:
    host, host_link = with_host(room)
    _, bob_link = with_guest(room)
    room.command(host, Command("end"), 5.0)
    assert bob_link.texts[-1] == {"type": "ended", "reason": "host_ended"}
    assert bob_link.closed == host_link.closed == CloseCode.SESSION_ENDED
    assert ("ended", {"reason": "host_ended"}) in room.pending.audit
