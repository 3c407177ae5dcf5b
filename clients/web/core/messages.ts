// Application messages (docs/protocol.md §10): what every ciphertext holds.
//
//   0      uint32 BE n: the JSON header's length
//   4      n bytes of JSON (UTF-8): an object with a string member `type`
//   4 + n  the optional binary body (a CRDT update, a state vector)

import { concat, fromUtf8, readUint32, utf8, writeUint32, type Bytes } from "./bytes.js";

export interface AppMessage {
  readonly type: string;
  /** The header's other members, as the sender wrote them: validate before use. */
  readonly fields: Readonly<Record<string, unknown>>;
  readonly body: Uint8Array;
}

/** A message as received: `sender` is the peer id the server stamped, `broadcast`
 *  whether it was sent to everyone or to this peer alone. */
export interface ReceivedMessage extends AppMessage {
  readonly sender: number;
  readonly broadcast: boolean;
}

export function encodeAppMessage(
  type: string,
  fields: Readonly<Record<string, unknown>> = {},
  body: Uint8Array = new Uint8Array(0),
): Bytes {
  const header = utf8(JSON.stringify({ ...fields, type }));
  const length = new Uint8Array(4);
  writeUint32(length, 0, header.length);
  return concat(length, header, body);
}

export type DecodedMessage =
  | { readonly ok: true; readonly message: AppMessage }
  | { readonly ok: false; readonly problem: string };

/** A decrypted plaintext as a message. Never throws. The header's length must fit
 *  in the plaintext, and the header must be UTF-8 JSON for an object with a
 *  string `type`; the body is whatever follows. */
export function decodeAppMessage(plaintext: Uint8Array): DecodedMessage {
  if (plaintext.length < 4) return { ok: false, problem: "an application message shorter than 4 bytes" };
  const length = readUint32(plaintext, 0);
  if (length > plaintext.length - 4) {
    return { ok: false, problem: "an application message whose header is longer than the message" };
  }
  const text = fromUtf8(plaintext.subarray(4, 4 + length));
  let header: unknown;
  try {
    header = text === null ? null : JSON.parse(text);
  } catch {
    header = null;
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    return { ok: false, problem: "an application message whose header is not a JSON object" };
  }
  const { type, ...fields } = header as Record<string, unknown>;
  if (!Object.hasOwn(header, "type") || typeof type !== "string") {
    return { ok: false, problem: "an application message without a string 'type'" };
  }
  return { ok: true, message: { type, fields, body: plaintext.slice(4 + length) } };
}
