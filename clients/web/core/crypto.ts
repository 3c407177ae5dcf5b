// AES-256-GCM as docs/protocol.md §6 says: a fresh random 12-byte nonce per
// message, a 16-byte tag, and associated data that binds each ciphertext to the
// session and to its sender. Through WebCrypto, so the key stays non-extractable.

import { concat, owned, utf8, writeUint32, type Bytes } from "./bytes.js";
import { KEY_BYTES } from "./link.js";

export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
/** The shortest payload there is: a nonce and a tag around an empty plaintext. */
export const MIN_PAYLOAD_BYTES = NONCE_BYTES + TAG_BYTES;

type Subtle = typeof crypto.subtle;
export type SessionKey = Awaited<ReturnType<Subtle["importKey"]>>;

/** A payload that does not decrypt: the wrong key (check the link), or tampering. */
export class DecryptError extends Error {
  override readonly name = "DecryptError";
}

function subtle(): Subtle {
  const found = (globalThis as { crypto?: { subtle?: Subtle } }).crypto?.subtle;
  if (found === undefined) {
    // Browsers hide WebCrypto from pages that are not served over HTTPS (or localhost).
    throw new Error("WebCrypto is not available here (a page must be served over https)");
  }
  return found;
}

/** "ctserver/v1" 0x00 session_id 0x00 sender (uint32 big-endian). */
export function associatedData(sessionId: string, sender: number): Bytes {
  const peer = new Uint8Array(4);
  writeUint32(peer, 0, sender);
  return concat(utf8("ctserver/v1\u0000"), utf8(sessionId), new Uint8Array([0]), peer);
}

export async function importSessionKey(raw: Uint8Array): Promise<SessionKey> {
  if (raw.length !== KEY_BYTES) throw new Error("a session key has 32 bytes");
  return subtle().importKey("raw", owned(raw), { name: "AES-GCM" }, false, ["encrypt", "decrypt"]);
}

/** nonce || ciphertext || tag, with the nonce given: for tests and vectors only,
 *  as a nonce must never be used twice with one key. */
export async function encryptWithNonce(
  key: SessionKey,
  aad: Bytes,
  nonce: Uint8Array,
  plaintext: Uint8Array,
): Promise<Bytes> {
  if (nonce.length !== NONCE_BYTES) throw new Error("a nonce has 12 bytes");
  const iv = owned(nonce);
  const sealed = await subtle().encrypt(
    { name: "AES-GCM", iv, additionalData: aad, tagLength: 8 * TAG_BYTES },
    key,
    owned(plaintext),
  );
  return concat(iv, new Uint8Array(sealed));
}

export class SessionCipher {
  private constructor(
    private readonly key: SessionKey,
    private readonly sessionId: string,
  ) {}

  static async create(key: Uint8Array, sessionId: string): Promise<SessionCipher> {
    return new SessionCipher(await importSessionKey(key), sessionId);
  }

  /** Encrypts as `sender` (this peer's own id). */
  async encrypt(sender: number, plaintext: Uint8Array): Promise<Bytes> {
    const nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
    return encryptWithNonce(this.key, associatedData(this.sessionId, sender), nonce, plaintext);
  }

  /** Decrypts a payload the server stamped as coming from `sender`; throws
   *  DecryptError when it does not decrypt (the frame must then be dropped). */
  async decrypt(sender: number, payload: Uint8Array): Promise<Bytes> {
    if (payload.length < MIN_PAYLOAD_BYTES) throw new DecryptError("payload too short");
    const data = owned(payload);
    try {
      const plain = await subtle().decrypt(
        {
          name: "AES-GCM",
          iv: data.slice(0, NONCE_BYTES),
          additionalData: associatedData(this.sessionId, sender),
          tagLength: 8 * TAG_BYTES,
        },
        this.key,
        data.subarray(NONCE_BYTES),
      );
      return new Uint8Array(plain);
    } catch {
      throw new DecryptError(`a frame from peer ${sender} does not decrypt`);
    }
  }
}
