"""ctclient agrees with the vectors the TypeScript client is tested against
(clients/test-vectors/, checked on the other side by clients/web/core/test/).

ctclient's SessionCipher draws each nonce itself, so a fixed-nonce encryption
cannot be reproduced through it: it must decrypt each vector, and its own
encryptions must round-trip.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
from ctclient.crypto import SessionCipher
from ctclient.errors import BadLink, DecryptError
from ctclient.files import BadPath, check_path
from ctclient.links import JoinLink
from ctclient.messages import AppMessage
from ctclient.peer import HEADER
from ctclient.sharing import BadMessage, _unb64
from pycrdt import Doc, StickyIndex, Text

VECTORS = Path(__file__).resolve().parents[1] / "clients" / "test-vectors"


def load(name: str) -> dict[str, Any]:
    return dict(json.loads((VECTORS / name).read_text(encoding="utf-8")))


V = load("vectors.json")
Y = load("yjs-made.json")
KEY = bytes.fromhex(V["key_hex"])
SESSION = V["session_id"]


def unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


@pytest.mark.parametrize("vector", V["links"], ids=lambda v: v["link"][:60])
def test_join_links_parse_as_the_vectors_say(vector: dict[str, Any]) -> None:
    if not vector["ok"]:
        with pytest.raises(BadLink, match=re.escape(vector["ctclient_message"])):
            JoinLink.parse(vector["link"])
        return
    link = JoinLink.parse(vector["link"])
    assert link.server_url == vector["server_url"]
    assert link.session_id == vector["session_id"]
    assert link.key.hex() == vector["key_hex"]
    assert link.websocket_url == vector["websocket_url"]
    assert str(link) == vector["formatted"]


def test_associated_data_binds_session_and_sender() -> None:
    for vector in V["aad"]:
        cipher = SessionCipher(KEY, vector["session_id"])
        assert cipher._aad(vector["sender"]).hex() == vector["aad_hex"]


@pytest.mark.parametrize("vector", V["encryptions"], ids=lambda v: str(v["sender"]))
def test_ctclient_decrypts_each_fixed_nonce_encryption(vector: dict[str, Any]) -> None:
    cipher = SessionCipher(KEY, SESSION)
    payload = bytes.fromhex(vector["payload_hex"])
    assert payload[:12].hex() == vector["nonce_hex"]
    assert cipher.decrypt(vector["sender"], payload).hex() == vector["plaintext_hex"]


@pytest.mark.parametrize("vector", V["encryptions"], ids=lambda v: str(v["sender"]))
def test_ctclient_encryptions_round_trip_with_a_fresh_nonce(vector: dict[str, Any]) -> None:
    cipher = SessionCipher(KEY, SESSION)
    plaintext = bytes.fromhex(vector["plaintext_hex"])
    payload = cipher.encrypt(vector["sender"], plaintext)
    assert len(payload) == len(plaintext) + 28
    assert payload[:12].hex() != vector["nonce_hex"]
    assert cipher.decrypt(vector["sender"], payload) == plaintext


@pytest.mark.parametrize("vector", V["refused_decryptions"], ids=lambda v: v["why"])
def test_payloads_that_must_not_decrypt_do_not(vector: dict[str, Any]) -> None:
    cipher = SessionCipher(KEY, vector["session_id"])
    with pytest.raises(DecryptError):
        cipher.decrypt(vector["sender"], bytes.fromhex(vector["payload_hex"]))


def test_data_frame_headers_match() -> None:
    frames = V["frames"]
    payload = bytes.fromhex(frames["payload_hex"])
    for vector in frames["sent"]:
        kind = 0 if vector["route"] == "broadcast" else 1
        assert (HEADER.pack(1, kind, vector["to"]) + payload).hex() == vector["frame_hex"]
    for vector in frames["received"]:
        frame = bytes.fromhex(vector["frame_hex"])
        assert HEADER.unpack_from(frame) == (1, vector["kind"], vector["sender"])
        assert frame[HEADER.size :] == payload


@pytest.mark.parametrize("vector", V["envelopes"]["encoded"], ids=lambda v: v["type"])
def test_application_messages_encode_and_decode(vector: dict[str, Any]) -> None:
    message = AppMessage(vector["type"], vector["fields"], bytes.fromhex(vector["body_hex"]))
    assert message.encode().hex() == vector["bytes_hex"]
    decoded = AppMessage.decode(bytes.fromhex(vector["bytes_hex"]), 3)
    assert (decoded.type, decoded.fields, decoded.body) == (
        message.type,
        message.fields,
        message.body,
    )


def test_application_messages_written_by_other_clients_decode() -> None:
    for vector in V["envelopes"]["decoded"]:
        decoded = AppMessage.decode(bytes.fromhex(vector["bytes_hex"]), 3)
        assert (decoded.type, decoded.fields) == (vector["type"], vector["fields"])
        assert decoded.body.hex() == vector["body_hex"]


def test_malformed_application_messages_are_refused() -> None:
    for data in V["envelopes"]["refused_hex"]:
        with pytest.raises(ValueError):
            AppMessage.decode(bytes.fromhex(data), 3)


def test_paths_are_refused_exactly_as_the_vectors_say() -> None:
    for vector in V["paths"]:
        try:
            check_path(vector["path"])
            valid = True
        except BadPath:
            valid = False
        assert valid == vector["valid"], vector["path"]


def test_state_vectors_in_base64_are_read_as_the_vectors_say() -> None:
    for vector in V["state_vectors_base64"]:
        try:
            decoded: str | None = _unb64(vector["sv"]).hex()
        except BadMessage:
            decoded = None
        assert decoded == vector["hex"], vector["sv"]


def text_of(*updates: str) -> str:
    doc: Doc[Text] = Doc()
    text = doc.get("content", type=Text)
    for update in updates:
        doc.apply_update(unb64(update))
    return str(text)


def test_the_pycrdt_document_is_what_the_vectors_say() -> None:
    yjs = V["yjs"]
    assert text_of(yjs["base"]["update"]) == yjs["base"]["text"]
    assert text_of(yjs["base"]["update"], yjs["edit"]["update_since_base"]) == yjs["edit"]["text"]


def test_pycrdt_applies_a_guest_edit_made_by_yjs() -> None:
    base = V["yjs"]["base"]["update"]
    assert text_of(base, Y["guest_edit"]["update_since_base"]) == Y["guest_edit"]["text"]


def test_pycrdt_applies_a_document_made_by_yjs() -> None:
    doc: Doc[Text] = Doc()
    text = doc.get("content", type=Text)
    doc.apply_update(unb64(Y["own_document"]["update"]))
    assert str(text) == Y["own_document"]["text"]
    assert doc.get_state() == unb64(Y["own_document"]["state_vector"])


def test_relative_positions_read_the_same_in_pycrdt_and_yjs() -> None:
    doc: Doc[Text] = Doc()
    text = doc.get("content", type=Text)
    doc.apply_update(unb64(V["yjs"]["base"]["update"]))
    for vector in V["yjs"]["sticky_indexes"]:
        assert text.sticky_index(vector["index"]).encode() == unb64(vector["encoded"])
    # Made in the guest's copy, after its edit: read in the same state.
    doc.apply_update(unb64(Y["guest_edit"]["update_since_base"]))
    made_by_yjs = Y["relative_position"]
    sticky = StickyIndex.decode(unb64(made_by_yjs["encoded"]), text)
    assert sticky.get_index() == made_by_yjs["index"]
