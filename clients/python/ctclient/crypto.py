"""AES-256-GCM as docs/protocol.md §6 specifies: random nonce, AAD binds session and sender."""

from __future__ import annotations

import os
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ctclient.errors import DecryptError
from ctclient.links import KEY_BYTES

NONCE_BYTES = 12
AAD_PREFIX = b"ctserver/v1\x00"


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=8 * KEY_BYTES)


class SessionCipher:
    def __init__(self, key: bytes, session_id: str) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError("a session key has 32 bytes")
        self._aead = AESGCM(key)
        self._aad_base = AAD_PREFIX + session_id.encode("ascii") + b"\x00"

    def _aad(self, sender: int) -> bytes:
        return self._aad_base + struct.pack(">I", sender)

    def encrypt(self, sender: int, plaintext: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, self._aad(sender))

    def decrypt(self, sender: int, payload: bytes) -> bytes:
        if len(payload) < NONCE_BYTES + 16:
            raise DecryptError("payload too short")
        try:
            return self._aead.decrypt(
                payload[:NONCE_BYTES], payload[NONCE_BYTES:], self._aad(sender)
            )
        except InvalidTag:
            raise DecryptError(f"a frame from peer {sender} does not decrypt") from None
