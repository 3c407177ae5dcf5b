"""What the edge accepts: names and labels, JSON nesting, and escaping for logs."""

from __future__ import annotations

import logging
import sys

import pytest

from ctserver.logs import LineFormatter, WithoutTraceback
from relay.api import ApiError, parse_create
from relay.inputs import MAX_JSON_DEPTH, InputError, clean_text, parse_json, printable
from relay.protocol import CloseCode, ProtocolError, parse_control, parse_hello

HOSTILE_NAMES = [
    "\ud800x",  # a lone surrogate: not storable as UTF-8
    "Mallory\x1b[1A\x1b[2K\x1b]0;pwned\x07",  # terminal escapes (Cc)
    "nul\x00byte",
    "evil\u202etxt.exe",  # bidi override (Cf)
    "zero\u200bwidth",  # Cf
    "line\u2028break",  # Zl
    "para\u2029break",  # Zp
    "two\nlines",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_names_with_unprintable_or_unstorable_characters_are_refused(name: str) -> None:
    with pytest.raises(InputError):
        clean_text(name, "name", 64)


@pytest.mark.parametrize("name", ["Zoë", "李小龙", "O'Brien <dev>", "Ada\u00a0L.", "🙂 Bob"])
def test_ordinary_names_pass_trimmed(name: str) -> None:
    assert clean_text(f"  {name} ", "name", 64) == name


def test_length_and_type_and_emptiness() -> None:
    assert clean_text("", "client", 64, required=False) == ""
    for bad in ("", "   ", "x" * 65, 5, None, ["x"]):
        with pytest.raises(InputError, match="'name' must be a string of 1-64"):
            clean_text(bad, "name", 64)


def test_json_deeper_than_the_bound_is_refused_never_a_recursion_error() -> None:
    assert parse_json("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH) is not None
    for depth in (MAX_JSON_DEPTH + 1, 5000, 200_000):
        with pytest.raises(InputError, match="nested deeper"):
            parse_json("[" * depth + "]" * depth)
        with pytest.raises(InputError, match="nested deeper"):
            parse_json('{"a":' * depth + "1" + "}" * depth)
    with pytest.raises(InputError, match="not valid JSON"):
        parse_json(b"\xff\xfe")


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hello_with_a_hostile_name_or_client_closes_4000(name: str) -> None:
    for field in ("name", "client"):
        frame = {"type": "hello", "role": "guest", "name": "Bob", field: name}
        with pytest.raises(ProtocolError) as refused:
            parse_hello(frame)
        assert refused.value.close == CloseCode.BAD_FRAME and field in refused.value.message


def test_secrets_must_be_the_servers_tokens() -> None:
    for secret in ("\ud800", "a b", "x" * 129, 7, ""):
        with pytest.raises(ProtocolError) as refused:
            parse_hello({"type": "hello", "role": "host", "name": "Ada", "host_secret": secret})
        assert refused.value.close == CloseCode.BAD_FRAME
        resume = {"peer_id": 2, "peer_secret": secret}
        with pytest.raises(ProtocolError):
            parse_hello({"type": "hello", "role": "guest", "name": "Bob", "resume": resume})


def test_deep_control_frame_closes_4000() -> None:
    with pytest.raises(ProtocolError) as refused:
        parse_control('{"type":"hello","x":' + "[" * 3000 + "]" * 3000 + "}", 16384)
    assert refused.value.close == CloseCode.BAD_FRAME


def test_create_request_refuses_hostile_names_and_deep_json_with_400() -> None:
    for body in (b'{"name": "\\ud800x"}', b'{"name": "a\\u001bb"}', b"[" * 3000 + b"]" * 3000):
        with pytest.raises(ApiError) as refused:
            parse_create(body)
        assert (refused.value.status, refused.value.code) == (400, "bad_request")


def test_printable_escapes_only_what_could_do_harm() -> None:
    assert printable("Zoë 李 <b>") == "Zoë 李 <b>"
    assert printable("a\x1b[2J\u202eb\ud800\nc") == "a\\x1b[2J\\u202eb\\ud800\\nc"


def test_log_lines_escape_what_clients_sent_and_security_records_lose_tracebacks() -> None:
    formatter = LineFormatter("%(levelname)s %(message)s")
    record = logging.LogRecord("x", logging.INFO, "f", 1, "user %r from %s", ("a", "\x1b[2J"), None)
    assert formatter.format(record) == "INFO user 'a' from \\x1b[2J"
    forged = logging.LogRecord("x", logging.INFO, "f", 1, "bad\n2026 ctserver INFO ok", (), None)
    assert "\n" not in formatter.format(forged)
    try:
        raise ValueError("Invalid HTTP_HOST header")
    except ValueError:
        info = sys.exc_info()
    security = logging.LogRecord("django.security.DisallowedHost", 40, "f", 1, "m", (), info)
    assert WithoutTraceback().filter(security) and security.exc_info is None
    other = logging.LogRecord("django.request", 40, "f", 1, "m", (), info)
    assert WithoutTraceback().filter(other) and other.exc_info is not None
