from __future__ import annotations

import json
from typing import Any

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
        self.texts: list[dict[str, Any]] = []
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


def with_guest(
    room: Room, peer_id: int = 2, admit: bool = True, address: str = "", now: float = 2.0
) -> tuple[Peer, FakeLink]:
    link = FakeLink()
    guest = room.join_guest(hello(), peer_id, f"secret-{peer_id}", link, now, address)
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
    assert bob_link.texts[-1]["peer"]["read_only"] is True


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


def test_a_lost_welcome_does_not_lock_a_guest_out(room: Room) -> None:
    """The welcome carrying a new secret can be lost with its connection: the secret
    the guest last used still resumes it, once; older ones never do."""
    with_host(room)
    bob, bob_link = with_guest(room)  # its secret: "secret-2"
    room.link_lost(bob, bob_link, 10.0)
    lost = FakeLink()
    room.resume(hello(peer_id=2, secret="secret-2"), lost, "never-received", 11.0)
    room.link_lost(bob, lost, 11.5)  # before the client read that welcome
    again = FakeLink()
    assert room.resume(hello(peer_id=2, secret="secret-2"), again, "third", 12.0) is bob
    room.link_lost(bob, again, 12.5)
    # It got "third" this time and uses it: from then on "secret-2" is too old.
    room.resume(hello(peer_id=2, secret="third"), FakeLink(), "fourth", 13.0)
    for stale in ("secret-2", "never-received"):
        with pytest.raises(ProtocolError) as refused:
            room.resume(hello(peer_id=2, secret=stale), FakeLink(), "x", 14.0)
        assert refused.value.close == CloseCode.NOT_AUTHENTICATED
    for accepted in ("third", "fourth"):  # the proven one and the newest
        assert room.resuming(hello(peer_id=2, secret=accepted)) is bob


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


# -- abuse resistance (docs/security.md) ---------------------------------------------------


def unicast(target: int) -> bytes:
    return HEADER.pack(1, 1, target) + bytes(28)


def test_a_read_only_guest_may_send_only_to_the_host(room: Room) -> None:
    host, host_link = with_host(room)
    ro, _ = with_guest(room, 2)
    _, other_link = with_guest(room, 3)
    room.command(host, Command("set_read_only", peer=2, flag=True), 4.0)
    for kind, target, frame in ((0, 0, FRAME), (1, 3, unicast(3))):
        with pytest.raises(ProtocolError) as refused:
            room.relay(ro, kind, target, frame, 5.0)
        assert refused.value.code == "read_only" and refused.value.close is None
    assert other_link.frames == []
    room.relay(ro, 1, 1, unicast(1), 5.0)
    assert len(host_link.frames) == 1
    room.command(host, Command("set_read_only", peer=2, flag=False), 6.0)
    room.relay(ro, 0, 0, FRAME, 7.0)
    assert len(other_link.frames) == 1


def test_a_guest_nobody_admits_is_closed_after_the_lobby_timeout(room: Room) -> None:
    room.limits = RelayLimits(lobby_timeout=30, no_guest_timeout=1000, idle_timeout=1000)
    _, host_link = with_host(room)
    _, link = with_guest(room, admit=False, now=2.0)
    room.sweep(31.0)
    assert link.closed is None
    room.sweep(32.0)
    assert link.closed == CloseCode.LOBBY_TIMEOUT
    assert link.texts[-1]["type"] == "error" and link.texts[-1]["code"] == "lobby_timeout"
    assert 2 not in room.peers and host_link.types()[-1] == "left"
    assert ("left", {"peer": 2, "name": "Bob", "reason": "lobby_timeout"}) in room.pending.audit


def test_a_session_whose_host_never_comes_ends(room: Room) -> None:
    room.limits = RelayLimits(host_timeout=60)
    _, guest_link = with_guest(room, admit=False)
    room.sweep(59.0)
    assert room.ended_reason is None
    room.sweep(60.0)
    assert room.ended_reason == "host_never_joined" and guest_link.closed == CloseCode.SESSION_ENDED


def test_lobby_places_per_address(room: Room) -> None:
    room.limits = RelayLimits(max_lobby=10, max_lobby_per_address=2)
    with_host(room)
    with_guest(room, 2, admit=False, address="10.0.0.9")
    with_guest(room, 3, admit=False, address="10.0.0.9")
    with pytest.raises(ProtocolError) as refused:
        with_guest(room, 4, admit=False, address="10.0.0.9")
    assert refused.value.close == CloseCode.TOO_MANY_CONNECTIONS
    with_guest(room, 5, admit=False, address="10.0.0.7")  # another address still knocks


def test_a_denied_address_backs_off_longer_each_time(room: Room) -> None:
    room.limits = RelayLimits(deny_backoff=10)
    host, _ = with_host(room)
    with_guest(room, 2, admit=False, address="10.0.0.9", now=100.0)
    room.command(host, Command("deny", peer=2), 100.0)
    refusal = room.guest_refusal("10.0.0.9", 105.0)
    assert refusal is not None and refusal.close == CloseCode.RETRY_LATER
    assert "try again in 5 s" in refusal.message
    with pytest.raises(ProtocolError):
        with_guest(room, 3, admit=False, address="10.0.0.9", now=105.0)
    assert room.guest_refusal("10.0.0.7", 105.0) is None
    assert room.guest_refusal("10.0.0.9", 110.0) is None
    with_guest(room, 4, admit=False, address="10.0.0.9", now=110.0)
    room.command(host, Command("deny", peer=4), 110.0)
    assert room.guest_refusal("10.0.0.9", 129.0) is not None  # 20 s the second time
    assert room.guest_refusal("10.0.0.9", 130.0) is None


def test_a_removed_guests_address_needs_the_host_even_with_auto_admit(room: Room) -> None:
    room.auto_admit = True
    host, host_link = with_host(room)
    guest, guest_link = with_guest(room, 2, admit=False, address="10.0.0.9")
    assert guest.state == "admitted"
    room.command(host, Command("remove", peer=2), 4.0)
    assert guest_link.closed == CloseCode.REMOVED
    again, _ = with_guest(room, 3, admit=False, address="10.0.0.9")
    assert again.state == "lobby" and host_link.types()[-1] == "join_request"
    room.command(host, Command("set_auto_admit", flag=True), 5.0)
    assert again.state == "lobby"  # turning auto-admit on again does not let it in
    room.command(host, Command("admit", peer=3), 6.0)
    assert again.state == "admitted"
    other, _ = with_guest(room, 4, admit=False, address="10.0.0.7")
    assert other.state == "admitted"


def test_knocking_and_leaving_in_a_loop_is_limited_per_address(room: Room) -> None:
    room.limits = RelayLimits(knock_rate=3, max_lobby=10)
    _, host_link = with_host(room)
    for number in range(3):
        room.knock("10.0.0.9", 10.0 + number)
        guest, link = with_guest(room, 2 + number, admit=False, address="10.0.0.9")
        room.link_lost(guest, link, 10.5 + number)  # gone from the lobby at once
    with pytest.raises(ProtocolError) as refused:
        room.knock("10.0.0.9", 13.0)
    assert refused.value.close == CloseCode.RETRY_LATER and "try again in" in refused.value.message
    room.knock("10.0.0.7", 13.0)  # another address knocks freely
    room.knock("10.0.0.9", 33.0)  # a knock comes back every 60/3 s
    assert host_link.types().count("join_request") == 3


def test_the_host_is_asked_once_per_host_connection(room: Room) -> None:
    host, host_link = with_host(room)
    with_guest(room, admit=False, address="10.0.0.9")
    for attempt in range(5):  # the guest reconnects again and again
        room.resume(hello(peer_id=2, secret="secret-2"), FakeLink(), "secret-2", 3.0 + attempt)
    assert host_link.types().count("join_request") == 1
    room.link_lost(host, host_link, 10.0)
    back = FakeLink()
    room.join_host(hello("host", "Ada"), back, "hs2", 11.0)
    assert back.types().count("join_request") == 1  # asked again on its new connection
    assert back.texts[-1]["peer"]["peer_id"] == 2


def test_a_host_that_arrives_late_hears_of_every_waiting_guest(room: Room) -> None:
    with_guest(room, 2, admit=False)
    with_guest(room, 3, admit=False)
    _, host_link = with_host(room)
    requests = [t["peer"]["peer_id"] for t in host_link.texts if t["type"] == "join_request"]
    assert requests == [2, 3]


def test_guests_admitted_before_the_host_came_hear_it_arrive(room: Room) -> None:
    room.auto_admit = True
    guest, guest_link = with_guest(room, admit=False)
    assert guest.state == "admitted"
    _, host_link = with_host(room)
    arrival = guest_link.texts[-1]
    assert (arrival["type"], arrival["event"]) == ("presence", "host_joined")
    assert arrival["peer"]["state"] == "admitted" and arrival["peer"]["role"] == "host"
    welcome = host_link.texts[0]
    assert sorted(p["peer_id"] for p in welcome["peers"]) == [1, 2]  # the host learns of it


def test_presence_events_describe_the_peer_as_it_was(room: Room) -> None:
    host, host_link = with_host(room)
    with_guest(room, 2)
    _, other_link = with_guest(room, 3)
    room.command(host, Command("remove", peer=2), 5.0)
    removed = other_link.texts[-1]
    assert (removed["event"], removed["peer"]["state"]) == ("removed", "admitted")
    room.link_lost(host, host_link, 6.0)
    room.join_host(hello("host", "Ada"), FakeLink(), "hs2", 7.0)
    back = other_link.texts[-1]
    assert (back["event"], back["peer"]["state"]) == ("host_back", "admitted")


def test_a_unicast_to_oneself_is_refused_with_its_own_code(room: Room) -> None:
    with_host(room)
    guest, _ = with_guest(room, 2)
    with pytest.raises(ProtocolError) as refused:
        room.relay(guest, 1, 2, HEADER.pack(1, 1, 2) + bytes(28), 5.0)
    assert (refused.value.code, refused.value.close) == ("bad_target", None)
