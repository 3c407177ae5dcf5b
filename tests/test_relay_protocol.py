from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relay.api import ApiError, parse_create
from relay.limits import ConnectionBudget, RelayLimits, TokenBucket
from relay.protocol import (
    HEADER,
    MIN_DATA_FRAME,
    CloseCode,
    ProtocolError,
    parse_command,
    parse_control,
    parse_data_header,
    parse_hello,
    stamp_sender,
)

PAYLOAD = bytes(28)


def frame(version: int = 1, kind: int = 0, target: int = 0, payload: bytes = PAYLOAD) -> bytes:
    return HEADER.pack(version, kind, target) + payload


def close_code(call: object) -> CloseCode | None:
    try:
        call()  # type: ignore[operator]
    except ProtocolError as exc:
        return exc.close
    raise AssertionError("no ProtocolError raised")


def test_broadcast_and_unicast_headers_parse() -> None:
    assert parse_data_header(frame(), 1024) == (0, 0)
    assert parse_data_header(frame(kind=1, target=7), 1024) == (1, 7)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (frame(version=2), CloseCode.BAD_FRAME),
        (frame(kind=2), CloseCode.BAD_FRAME),
        (frame(kind=0, target=3), CloseCode.BAD_FRAME),
        (frame(kind=1, target=0), CloseCode.BAD_FRAME),
        (frame()[: MIN_DATA_FRAME - 1], CloseCode.BAD_FRAME),
        (frame(payload=bytes(2000)), CloseCode.FRAME_TOO_LARGE),
    ],
)
def test_bad_data_headers_close_with_their_code(data: bytes, code: CloseCode) -> None:
    assert close_code(lambda: parse_data_header(data, 1024)) == code


@given(st.binary(max_size=200))
def test_any_bytes_either_parse_or_raise_a_protocol_error(data: bytes) -> None:
    try:
        kind, target = parse_data_header(data, 1024)
    except ProtocolError as exc:
        assert exc.close in (CloseCode.BAD_FRAME, CloseCode.FRAME_TOO_LARGE)
    else:
        assert kind in (0, 1) and (target == 0) == (kind == 0)


def test_stamping_replaces_the_target_with_the_sender() -> None:
    stamped = stamp_sender(frame(kind=1, target=9), 1, 4)
    assert HEADER.unpack_from(stamped) == (1, 1, 4)
    assert stamped[HEADER.size :] == PAYLOAD


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("not json", CloseCode.BAD_FRAME),
        ("[1, 2]", CloseCode.BAD_FRAME),
        ('{"type": 3}', CloseCode.BAD_FRAME),
        (json.dumps({"type": "x", "pad": "a" * 100}), CloseCode.FRAME_TOO_LARGE),
    ],
)
def test_bad_control_frames(text: str, code: CloseCode) -> None:
    assert close_code(lambda: parse_control(text, 64)) == code


def test_hello_rules() -> None:
    hello = parse_hello({"type": "hello", "role": "guest", "name": "  Bob "})
    assert (hello.role, hello.name, hello.resume_peer_id) == ("guest", "Bob", None)
    resumed = parse_hello(
        {
            "type": "hello",
            "role": "guest",
            "name": "B",
            "resume": {"peer_id": 3, "peer_secret": "s"},
        }
    )
    assert (resumed.resume_peer_id, resumed.resume_secret) == (3, "s")
    assert close_code(lambda: parse_hello({"type": "admit"})) == CloseCode.PROTOCOL_VIOLATION
    assert close_code(lambda: parse_hello({"type": "hello", "role": "host", "name": "A"})) == (
        CloseCode.NOT_AUTHENTICATED
    )
    assert close_code(lambda: parse_hello({"type": "hello", "role": "x", "name": "A"})) == (
        CloseCode.BAD_FRAME
    )
    assert close_code(lambda: parse_hello({"type": "hello", "role": "guest", "name": ""})) == (
        CloseCode.BAD_FRAME
    )


def test_commands() -> None:
    assert parse_command({"type": "admit", "peer": 2}, is_host=True).peer == 2
    assert parse_command({"type": "leave"}, is_host=False).type == "leave"
    flag = parse_command({"type": "set_read_only", "peer": 2, "read_only": True}, is_host=True)
    assert flag.flag is True
    assert close_code(lambda: parse_command({"type": "admit", "peer": 2}, is_host=False)) == (
        CloseCode.PROTOCOL_VIOLATION
    )
    assert close_code(lambda: parse_command({"type": "dance"}, is_host=True)) == (
        CloseCode.UNKNOWN_TYPE
    )
    assert close_code(lambda: parse_command({"type": "hello"}, is_host=True)) == (
        CloseCode.PROTOCOL_VIOLATION
    )
    # A bad member of a known command is a non-fatal error.
    assert close_code(lambda: parse_command({"type": "admit", "peer": "2"}, is_host=True)) is None


def test_token_bucket_allows_bursts_then_the_rate() -> None:
    bucket = TokenBucket(rate=10, burst=20, now=0.0)
    assert all(bucket.take(1, 0.0) for _ in range(20))
    assert not bucket.take(1, 0.0)
    assert bucket.take(1, 0.1)
    assert not bucket.take(1, 0.1)


def test_connection_budget_limits_frames_and_bytes() -> None:
    limits = RelayLimits(rate_frames=5, rate_bytes=2048, max_frame_bytes=1024)
    budget = ConnectionBudget(limits, 0.0)
    assert budget.allow(4096, 0.0)  # the byte burst is twice the rate
    assert not budget.allow(1, 0.0)


def test_create_request_validation() -> None:
    assert parse_create(b"").name == "Host"
    assert parse_create(b'{"name": "Ada", "auto_admit": true}').auto_admit is True
    for body, code in [
        (b"[]", "bad_request"),
        (b'{"colour": 1}', "bad_request"),
        (b'{"auto_admit": "yes"}', "bad_request"),
        (b"x" * 20000, "too_large"),
    ]:
        with pytest.raises(ApiError) as info:
            parse_create(body)
        assert info.value.code == code
