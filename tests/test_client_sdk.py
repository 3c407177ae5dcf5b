"""The SDK's pure parts: join links, encryption as docs/protocol.md §6 says, messages."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from ctclient import AppMessage, BadLink, DecryptError, JoinLink
from ctclient.crypto import SessionCipher, new_key
from hypothesis import given
from hypothesis import strategies as st

SESSION = "x3Jb0pQ1sW9mZk2Lr7yTvA"


def test_join_link_round_trip_keeps_the_key_in_the_fragment() -> None:
    link = JoinLink("https://ct.example.com:1443", SESSION, new_key())
    text = str(link)
    assert text.startswith(f"https://ct.example.com:1443/join/{SESSION}#")
    assert JoinLink.parse(text) == link
    assert link.websocket_url == f"wss://ct.example.com:1443/ws/v1/sessions/{SESSION}"
    assert JoinLink("http://h:1080", SESSION, link.key).websocket_url.startswith("ws://h:1080/")


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        (f"ct.example.com/join/{SESSION}#k", "starts with https://"),
        ("https://ct.example.com/session/x#k", "looks like"),
        (f"https://ct.example.com/join/{SESSION}", "no key"),
        (f"https://ct.example.com/join/{SESSION}#short", "43 base64url"),
    ],
)
def test_bad_links_say_what_is_wrong(text: str, complaint: str) -> None:
    with pytest.raises(BadLink, match=complaint):
        JoinLink.parse(text)


def test_ciphertext_follows_the_protocol_layout() -> None:
    key = new_key()
    payload = SessionCipher(key, SESSION).encrypt(7, b"plain")
    nonce, sealed = payload[:12], payload[12:]
    aad = b"ctserver/v1\x00" + SESSION.encode() + b"\x00" + (7).to_bytes(4, "big")
    assert AESGCM(key).decrypt(nonce, sealed, aad) == b"plain"  # an independent decryption
    assert len(payload) == 12 + len(b"plain") + 16


def test_nonces_are_fresh() -> None:
    cipher = SessionCipher(new_key(), SESSION)
    assert len({cipher.encrypt(1, b"same")[:12] for _ in range(100)}) == 100


def test_a_frame_presented_as_another_senders_does_not_decrypt() -> None:
    cipher = SessionCipher(new_key(), SESSION)
    payload = cipher.encrypt(2, b"from peer 2")
    with pytest.raises(DecryptError):
        cipher.decrypt(3, payload)


def test_other_sessions_and_tampering_are_refused() -> None:
    key = new_key()
    payload = SessionCipher(key, SESSION).encrypt(2, b"data")
    with pytest.raises(DecryptError):
        SessionCipher(key, "another-session-id-0000").decrypt(2, payload)
    tampered = payload[:-1] + bytes([payload[-1] ^ 1])
    with pytest.raises(DecryptError):
        SessionCipher(key, SESSION).decrypt(2, tampered)
    with pytest.raises(DecryptError):
        SessionCipher(os.urandom(32), SESSION).decrypt(2, payload)


@given(
    st.text(min_size=1, max_size=20),
    st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=20), max_size=5),
    st.binary(max_size=200),
)
def test_app_messages_round_trip(kind: str, fields: dict[str, object], body: bytes) -> None:
    fields.pop("type", None)
    message = AppMessage(kind, fields, body)
    decoded = AppMessage.decode(message.encode(), sender=4)
    assert (decoded.type, decoded.fields, decoded.body, decoded.sender) == (kind, fields, body, 4)
