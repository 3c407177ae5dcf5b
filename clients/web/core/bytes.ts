// Byte helpers the wire needs: base64 in both alphabets, UTF-8, big-endian
// integers. Written here rather than taken from atob/Buffer, which not every
// host has, and so that what counts as valid base64 is exactly what ctclient's
// Python accepts.

export type Bytes = Uint8Array<ArrayBuffer>;

const STANDARD = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
// RFC 4648 §4 with its padding, as Python's b64decode(validate=True) reads it.
const STANDARD_PADDED = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const URL_SAFE_UNPADDED = /^[A-Za-z0-9_-]*$/;

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function encodeWith(alphabet: string, data: Uint8Array, pad: boolean): string {
  let out = "";
  for (let i = 0; i < data.length; i += 3) {
    const a = data[i] ?? 0;
    const b = data[i + 1] ?? 0;
    const c = data[i + 2] ?? 0;
    const left = data.length - i;
    out += alphabet[a >> 2];
    out += alphabet[((a & 3) << 4) | (b >> 4)];
    out += left > 1 ? alphabet[((b & 15) << 2) | (c >> 6)] : pad ? "=" : "";
    out += left > 2 ? alphabet[c & 63] : pad ? "=" : "";
  }
  return out;
}

function decodeWith(alphabet: string, text: string): Bytes {
  const digits = text.replace(/=+$/, "");
  const out = new Uint8Array(Math.floor((digits.length * 6) / 8));
  let bits = 0;
  let value = 0;
  let at = 0;
  for (const char of digits) {
    value = (value << 6) | alphabet.indexOf(char);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[at++] = (value >> bits) & 0xff;
    }
  }
  return out;
}

/** Base64 with the standard alphabet and `=` padding (RFC 4648 §4). */
export function toBase64(data: Uint8Array): string {
  return encodeWith(STANDARD, data, true);
}

/** Standard padded base64 as a string, or null for anything else (other
 *  alphabet, missing padding, whitespace). Unused low bits in the last digit are
 *  ignored, as Python does. */
export function fromBase64(text: unknown): Bytes | null {
  if (typeof text !== "string" || !STANDARD_PADDED.test(text)) return null;
  return decodeWith(STANDARD, text);
}

/** Base64url without padding: how the session key is written in a join link. */
export function toBase64Url(data: Uint8Array): string {
  return encodeWith(URL_SAFE, data, false);
}

/** Unpadded base64url, or null. A length that cannot be base64 is refused. */
export function fromBase64Url(text: string): Bytes | null {
  if (!URL_SAFE_UNPADDED.test(text) || text.length % 4 === 1) return null;
  return decodeWith(URL_SAFE, text);
}

export function utf8(text: string): Bytes {
  return utf8Encoder.encode(text);
}

/** UTF-8 to text; null for bytes that are not UTF-8 (never replacement characters). */
export function fromUtf8(data: Uint8Array): string | null {
  try {
    return utf8Decoder.decode(owned(data));
  } catch {
    return null;
  }
}

/** The same bytes backed by a plain ArrayBuffer (a Node Buffer may be a view of a
 *  shared pool; WebCrypto's typings want an ArrayBuffer). Copies only if needed. */
export function owned(data: Uint8Array): Bytes {
  if (data.buffer instanceof ArrayBuffer) return data as Bytes;
  return new Uint8Array(data);
}

export function concat(...parts: Uint8Array[]): Bytes {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

export function writeUint32(target: Uint8Array, offset: number, value: number): void {
  target[offset] = (value >>> 24) & 0xff;
  target[offset + 1] = (value >>> 16) & 0xff;
  target[offset + 2] = (value >>> 8) & 0xff;
  target[offset + 3] = value & 0xff;
}

export function readUint32(source: Uint8Array, offset: number): number {
  return (
    (((source[offset] ?? 0) << 24) >>> 0) +
    ((source[offset + 1] ?? 0) << 16) +
    ((source[offset + 2] ?? 0) << 8) +
    (source[offset + 3] ?? 0)
  );
}

export function toHex(data: Uint8Array): string {
  return Array.from(data, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
