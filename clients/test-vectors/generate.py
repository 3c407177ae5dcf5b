"""Write vectors.json: what ctclient (the reference client) says about join links,
encryption, data-frame headers, application messages, paths and Yjs documents.

The TypeScript core (clients/web/core/test/vectors.test.ts) must agree with every
vector, and tests/test_web_vectors.py checks that ctclient still does. Regenerate
with ``.venv/bin/python clients/test-vectors/generate.py`` from the repository
root, then ``npm run vectors:yjs`` in clients/web (yjs-made.json builds on this
file's Yjs document). The output is deterministic: regenerating without a change
in ctclient or pycrdt changes nothing.

ctclient's SessionCipher draws its nonce itself, so the fixed-nonce encryptions
are made here with the same AES-GCM primitive and ctclient's associated data;
the Python test checks that ctclient decrypts each one.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from ctclient.crypto import SessionCipher
from ctclient.errors import BadLink
from ctclient.files import BadPath, check_path
from ctclient.links import JoinLink, encode_key
from ctclient.messages import AppMessage
from ctclient.peer import HEADER
from ctclient.sharing import BadMessage, _unb64
from pycrdt import Doc, Text

HERE = Path(__file__).resolve().parent
KEY = bytes(range(1, 33))
SESSION = "x3Jb0pQ1sW9mZk2Lr7yTvA"
KEY_TEXT = encode_key(KEY)
OTHER_SESSION = "AAAAAAAAAAAAAAAAAAAAAA"
PYCRDT_CLIENT = 7


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# (link, the TypeScript LinkError kind when ctclient refuses it)
LINKS: list[tuple[str, str | None]] = [
    (f"https://ct.example.com/join/{SESSION}#{KEY_TEXT}", None),
    (f"http://127.0.0.1:8000/join/{SESSION}/#{KEY_TEXT}", None),
    (f"  https://ct.example.com:8443/join/{SESSION}?from=mail#{KEY_TEXT}\n", None),
    # The last character's unused low bits are ignored: the same key.
    (f"https://ct.example.com/join/{SESSION}#{KEY_TEXT[:-1]}{chr(ord(KEY_TEXT[-1]) + 1)}", None),
    (f"https://ct.example.com/join/{SESSION}", "missing_key"),
    (f"https://ct.example.com/join/{SESSION}#", "missing_key"),
    (f"https://ct.example.com/join/{SESSION}#{KEY_TEXT[:-1]}", "malformed_key"),
    (f"https://ct.example.com/join/{SESSION}#{KEY_TEXT}A", "malformed_key"),
    (f"https://ct.example.com/join/{SESSION}#{KEY_TEXT[:-2]}+/", "malformed_key"),
    (f"https://user@ct.example.com/join/{SESSION}#{KEY_TEXT}", "credentials_in_link"),
    (f"https://a:b@ct.example.com/join/{SESSION}#{KEY_TEXT}", "credentials_in_link"),
    (f"ftp://ct.example.com/join/{SESSION}#{KEY_TEXT}", "not_a_link"),
    (f"https://ct.example.com:99999/join/{SESSION}#{KEY_TEXT}", "not_a_link"),
    (f"https://ct.example.com/session/{SESSION}#{KEY_TEXT}", "not_a_link"),
    (f"https://ct.example.com/join/{SESSION[:15]}#{KEY_TEXT}", "not_a_link"),
    (f"https://ct.example.com/join/{SESSION}{SESSION[:11]}#{KEY_TEXT}", "not_a_link"),
    (f"https://ct.example.com/join/{SESSION[:-1]}.#{KEY_TEXT}", "not_a_link"),
    (f"https://ct.example.com/join/{SESSION}/extra#{KEY_TEXT}", "not_a_link"),
    ("not a link at all", "not_a_link"),
]


def links() -> list[dict[str, Any]]:
    vectors = []
    for text, kind in LINKS:
        try:
            link = JoinLink.parse(text)
        except BadLink as exc:
            assert kind is not None, text
            vectors.append({"link": text, "ok": False, "kind": kind, "ctclient_message": str(exc)})
            continue
        assert kind is None, text
        vectors.append(
            {
                "link": text,
                "ok": True,
                "server_url": link.server_url,
                "session_id": link.session_id,
                "key_hex": link.key.hex(),
                "websocket_url": link.websocket_url,
                "formatted": str(link),
            }
        )
    return vectors


def aad() -> list[dict[str, Any]]:
    cipher = SessionCipher(KEY, SESSION)
    return [
        {"session_id": SESSION, "sender": sender, "aad_hex": cipher._aad(sender).hex()}
        for sender in (1, 2, 258, 2**32 - 1)
    ]


def encryptions() -> list[dict[str, Any]]:
    cipher = SessionCipher(KEY, SESSION)
    cases = [
        (1, AppMessage("message", {"text": "hello"}).encode()),
        (2, b""),
        (2**32 - 1, bytes(range(256)) * 2),
    ]
    vectors = []
    for number, (sender, plaintext) in enumerate(cases):
        nonce = bytes([0xA0 + number] * 12)
        payload = nonce + AESGCM(KEY).encrypt(nonce, plaintext, cipher._aad(sender))
        assert cipher.decrypt(sender, payload) == plaintext
        vectors.append(
            {
                "sender": sender,
                "nonce_hex": nonce.hex(),
                "plaintext_hex": plaintext.hex(),
                "payload_hex": payload.hex(),
            }
        )
    return vectors


def refused_decryptions(good: dict[str, Any]) -> list[dict[str, Any]]:
    """Payloads that must not decrypt, each with the sender and session it is tried as."""
    payload = bytes.fromhex(good["payload_hex"])
    tampered = bytearray(payload)
    tampered[20] ^= 1
    return [
        {"why": "another sender", "session_id": SESSION, "sender": 2, "payload_hex": payload.hex()},
        {
            "why": "another session",
            "session_id": OTHER_SESSION,
            "sender": 1,
            "payload_hex": payload.hex(),
        },
        {"why": "a flipped bit", "session_id": SESSION, "sender": 1, "payload_hex": tampered.hex()},
        {"why": "a cut tag", "session_id": SESSION, "sender": 1, "payload_hex": payload[:-1].hex()},
        {"why": "too short", "session_id": SESSION, "sender": 1, "payload_hex": payload[:27].hex()},
    ]


def frames(payload: bytes) -> dict[str, Any]:
    sent = [
        {"route": "broadcast", "to": 0, "frame_hex": (HEADER.pack(1, 0, 0) + payload).hex()},
        {"route": "unicast", "to": 1, "frame_hex": (HEADER.pack(1, 1, 1) + payload).hex()},
        {
            "route": "unicast",
            "to": 2**32 - 1,
            "frame_hex": (HEADER.pack(1, 1, 2**32 - 1) + payload).hex(),
        },
    ]
    received = [
        {
            "frame_hex": (HEADER.pack(1, kind, sender) + payload).hex(),
            "kind": kind,
            "sender": sender,
        }
        for kind, sender in ((0, 1), (1, 3), (0, 2**32 - 1))
    ]
    return {"payload_hex": payload.hex(), "sent": sent, "received": received}


MESSAGES = [
    AppMessage("hello_app", {"client": "ctclient"}),
    AppMessage("open", {"path": "src/main.py"}, b"\x00"),
    AppMessage("doc_update", {"path": "docs/a b.txt"}, bytes(range(10))),
    AppMessage("doc_sync", {"path": "x", "sv": "AQcS"}, b"\x00\x00"),
    AppMessage("tree", {"entries": [["a.txt", 3, "text"]], "share": "all", "keep_files": False}),
    AppMessage("message", {"text": "caf\u00e9 \u2713 \U0001d11e"}),
]


def envelopes() -> dict[str, Any]:
    encoded = []
    for message in MESSAGES:
        data = message.encode()
        encoded.append(
            {
                "type": message.type,
                "fields": message.fields,
                "body_hex": message.body.hex(),
                "bytes_hex": data.hex(),
                # ctclient writes non-ASCII as \\u escapes, JavaScript as UTF-8:
                # both are the same JSON, so only ASCII headers compare byte for byte.
                "byte_exact": json.dumps(message.fields, ensure_ascii=False).isascii(),
            }
        )
    # Headers as other clients write them (UTF-8, other member order): the same message.
    header = (
        '{"type":"message","text":"caf\u00e9 \u2713 \U0001d11e","extra":[1,{"a":null}]}'.encode()
    )
    decoded: list[dict[str, Any]] = [
        {
            "bytes_hex": (len(header).to_bytes(4, "big") + header + b"body").hex(),
            "type": "message",
            "fields": {"text": "caf\u00e9 \u2713 \U0001d11e", "extra": [1, {"a": None}]},
            "body_hex": b"body".hex(),
        }
    ]
    for vector in decoded:
        parsed = AppMessage.decode(bytes.fromhex(vector["bytes_hex"]), 1)
        assert (parsed.type, parsed.fields) == (vector["type"], vector["fields"])
    refused = [
        b"\x00\x00\x00".hex(),
        (b"\x00\x00\x00\x02" + b"[]").hex(),
        (b"\x00\x00\x00\x02" + b"{}").hex(),
        (b"\x00\x00\x00\x0a" + b'{"type":1}').hex(),
        (b"\x00\x00\x00\x04" + b"{typ").hex(),
        (b"\x00\x00\x00\x04" + b'"ab"').hex(),
    ]
    for refused_hex in refused:
        try:
            AppMessage.decode(bytes.fromhex(refused_hex), 1)
        except ValueError:
            continue
        raise AssertionError(f"ctclient accepts {refused_hex}")
    return {"encoded": encoded, "decoded": decoded, "refused_hex": refused}


PATHS = [
    "a.txt",
    "src/main.py",
    "dir/sub/file with spaces.md",
    "caf\u00e9/\u2713.txt",
    ".gitignore",
    ".github/workflows/ci.yml",
    "git/x",
    "a.git/b",
    "..a/b",
    "a..",
    "",
    "/etc/passwd",
    "../up",
    "a/../b",
    "a/./b",
    "./a",
    "a//b",
    "a/",
    "a\\b",
    "a\x00b",
    ".git",
    ".git/hooks/pre-commit",
    "sub/.GIT/config",
    "sub/.Git. /config",
    ".git ",
    ".ctclient/status.json",
    "x/.CtClient../y",
    "a" * 4096,
    "a" * 4097,
]


def paths() -> list[dict[str, Any]]:
    vectors = []
    for path in PATHS:
        try:
            check_path(path)
            valid = True
        except BadPath:
            valid = False
        vectors.append({"path": path, "valid": valid})
    return vectors


STATE_VECTORS = [
    "",
    "AA==",
    "AQcS",
    "QQ==",
    "QR==",
    "QUJD",
    "QQ",
    "QQ=",
    "A===",
    "QUJD\n",
    "QU-_",
    "QQ==QQ==",
]


def base64_state_vectors() -> list[dict[str, Any]]:
    vectors = []
    for text in STATE_VECTORS:
        try:
            decoded: str | None = _unb64(text).hex()
        except BadMessage:
            decoded = None
        vectors.append({"sv": text, "hex": decoded})
    return vectors


def yjs() -> dict[str, Any]:
    """A document made by pycrdt (Yjs's Rust port, as ctclient uses it): a full update,
    an edit on top of it, the state vectors, and sticky indexes (relative positions)."""
    doc: Doc[Text] = Doc(client_id=PYCRDT_CLIENT)
    text = doc.get("content", type=Text)
    text.insert(0, "Hello, w\u00f6rld \u2713 \U0001d11e\nsecond line\n")
    base_update, base_state, base_text = doc.get_update(), doc.get_state(), str(text)
    sticky = [(index, text.sticky_index(index).encode()) for index in (0, 5, 12)]
    del text[0:5]  # positions in UTF-8 bytes for pycrdt; the start is ASCII
    text.insert(0, "Howdy")
    text.insert(len(str(text).encode()), "third line\n")
    return {
        "client_id": PYCRDT_CLIENT,
        "base": {"text": base_text, "update": b64(base_update), "state_vector": b64(base_state)},
        "edit": {
            "text": str(text),
            "update_since_base": b64(doc.get_update(base_state)),
            "state_vector": b64(doc.get_state()),
        },
        # Positions in the base document (indexes count UTF-16 units, as Yjs does;
        # these lie in the ASCII start, where every count agrees).
        "sticky_indexes": [{"index": index, "encoded": b64(data)} for index, data in sticky],
    }


def vectors() -> dict[str, Any]:
    encrypted = encryptions()
    return {
        "comment": "Made by clients/test-vectors/generate.py with ctclient; do not edit by hand.",
        "key_hex": KEY.hex(),
        "session_id": SESSION,
        "links": links(),
        "aad": aad(),
        "encryptions": encrypted,
        "refused_decryptions": refused_decryptions(encrypted[0]),
        "frames": frames(bytes.fromhex(encrypted[0]["payload_hex"])),
        "envelopes": envelopes(),
        "paths": paths(),
        "state_vectors_base64": base64_state_vectors(),
        "yjs": yjs(),
    }


def main() -> None:
    text = json.dumps(vectors(), indent=1, ensure_ascii=False) + "\n"
    (HERE / "vectors.json").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
