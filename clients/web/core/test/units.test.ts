// The small modules: bytes, links, encryption, data frames, application messages
// and paths, beyond what the shared vectors cover.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";

import { fromBase64, fromBase64Url, fromUtf8, readUint32, toBase64, toBase64Url, writeUint32 } from "../bytes.js";
import { DecryptError, SessionCipher, importSessionKey } from "../crypto.js";
import { BROADCAST, decodeDataFrame, encodeDataFrame, unicast } from "../frames.js";
import { LinkError, parseJoinLink, websocketUrl } from "../link.js";
import { decodeAppMessage, encodeAppMessage } from "../messages.js";
import { checkPath, PathError } from "../paths.js";
import { describe as words, statusForClose } from "../status.js";
import { KEY, LINK_TEXT, SESSION_ID } from "./helpers.js";

describe("bytes", () => {
  it("writes and reads base64 as Node does, in both alphabets", () => {
    for (let length = 0; length < 40; length++) {
      const data = new Uint8Array(randomBytes(length));
      assert.equal(toBase64(data), Buffer.from(data).toString("base64"));
      assert.equal(toBase64Url(data), Buffer.from(data).toString("base64url"));
      assert.deepEqual(fromBase64(toBase64(data)), data);
      assert.deepEqual(fromBase64Url(toBase64Url(data)), data);
    }
  });

  it("refuses what is not base64 of the expected alphabet", () => {
    for (const bad of ["QQ", "Q===", "QU=D", "QUJD ", "QU-_", 5, null]) assert.equal(fromBase64(bad), null, String(bad));
    for (const bad of ["QUJD=", "QU+/", "Q", "QUJDR"]) assert.equal(fromBase64Url(bad), null, bad);
  });

  it("reads UTF-8 strictly and integers big-endian", () => {
    assert.equal(fromUtf8(new Uint8Array([0xc3, 0xa9])), "\u00e9");
    assert.equal(fromUtf8(new Uint8Array([0xc3])), null);
    assert.equal(fromUtf8(new Uint8Array([0xed, 0xa0, 0x80])), null, "no surrogates");
    const out = new Uint8Array(4);
    writeUint32(out, 0, 0xfffffffe);
    assert.deepEqual(out, new Uint8Array([255, 255, 255, 254]));
    assert.equal(readUint32(out, 0), 0xfffffffe);
  });
});

describe("join links", () => {
  it("turns http into ws and https into wss", () => {
    assert.equal(websocketUrl({ serverUrl: "http://localhost:8000", sessionId: "s" }), "ws://localhost:8000/ws/v1/sessions/s");
    assert.equal(websocketUrl({ serverUrl: "https://h", sessionId: "s" }), "wss://h/ws/v1/sessions/s");
  });

  it("gives a typed kind the UI can say in words", () => {
    const kind = (text: string): string | undefined => {
      try {
        parseJoinLink(text);
      } catch (error) {
        return error instanceof LinkError ? error.kind : "other";
      }
      return undefined;
    };
    assert.equal(kind(LINK_TEXT), undefined);
    assert.equal(kind(LINK_TEXT.split("#")[0]!), "missing_key");
    assert.equal(kind(LINK_TEXT.slice(0, -3)), "malformed_key");
    assert.equal(kind(""), "not_a_link");
  });

  it("writes the server as the URL standard does (lower-case host, no default port)", () => {
    // ctclient keeps the server as typed; both reach the same server.
    const link = parseJoinLink(LINK_TEXT.replace("https://ct.example.com", "HTTPS://CT.Example.com:443"));
    assert.equal(link.serverUrl, "https://ct.example.com");
  });
});

describe("encryption", () => {
  it("keeps the key non-extractable", async () => {
    const key = await importSessionKey(KEY);
    assert.equal(key.extractable, false);
    await assert.rejects(crypto.subtle.exportKey("raw", key as Parameters<typeof crypto.subtle.exportKey>[1]));
  });

  it("round-trips with a fresh nonce each time", async () => {
    const cipher = await SessionCipher.create(KEY, SESSION_ID);
    const plaintext = new Uint8Array([1, 2, 3]);
    const one = await cipher.encrypt(5, plaintext);
    const two = await cipher.encrypt(5, plaintext);
    assert.equal(one.length, 3 + 28);
    assert.notDeepEqual(one.slice(0, 12), two.slice(0, 12));
    assert.deepEqual(await cipher.decrypt(5, one), plaintext);
  });

  it("does not decrypt with another key, and refuses a key of the wrong size", async () => {
    const payload = await (await SessionCipher.create(KEY, SESSION_ID)).encrypt(1, new Uint8Array(4));
    const other = await SessionCipher.create(new Uint8Array(32), SESSION_ID);
    await assert.rejects(other.decrypt(1, payload), DecryptError);
    await assert.rejects(SessionCipher.create(new Uint8Array(16), SESSION_ID), /32 bytes/);
  });
});

describe("data frames", () => {
  it("refuses to encode a route or payload no server accepts", () => {
    const payload = new Uint8Array(28);
    assert.throws(() => encodeDataFrame(unicast(0), payload), RangeError);
    assert.throws(() => encodeDataFrame(unicast(2 ** 32), payload), RangeError);
    assert.throws(() => encodeDataFrame(BROADCAST, new Uint8Array(27)), RangeError);
  });

  it("finds what is wrong with a received header", () => {
    const payload = [...new Uint8Array(28)];
    assert.deepEqual(decodeDataFrame(new Uint8Array([1, 0, 0])), {
      ok: false, ignore: false, problem: "a data frame of 3 bytes, shorter than its header",
    });
    assert.equal((decodeDataFrame(new Uint8Array([9, 0, 0, 0, 0, 1, ...payload])) as { ignore: boolean }).ignore, true);
    assert.equal(decodeDataFrame(new Uint8Array([1, 2, 0, 0, 0, 1, ...payload])).ok, false);
    assert.equal(decodeDataFrame(new Uint8Array([1, 0, 0, 0, 0, 0, ...payload])).ok, false);
  });
});

describe("application messages", () => {
  it("round-trips a header and a body", () => {
    const data = encodeAppMessage("doc_update", { path: "caf\u00e9.txt" }, new Uint8Array([0, 1, 2]));
    const decoded = decodeAppMessage(data);
    assert.deepEqual(decoded, { ok: true, message: { type: "doc_update", fields: { path: "caf\u00e9.txt" }, body: new Uint8Array([0, 1, 2]) } });
  });

  it("refuses a header longer than the message, or not UTF-8", () => {
    // ctclient reads what there is; this client refuses (docs/protocol.md §10 gives n exactly).
    const data = encodeAppMessage("x");
    data[3] = data[3]! + 1;
    assert.equal(decodeAppMessage(data).ok, false);
    assert.equal(decodeAppMessage(new Uint8Array([0, 0, 0, 2, 0xc3, 0x28])).ok, false);
  });

  it("keeps a __proto__ member as data, never as a prototype", () => {
    const header = new TextEncoder().encode('{"type":"t","__proto__":{"polluted":1}}');
    const data = new Uint8Array([0, 0, 0, header.length, ...header]);
    const decoded = decodeAppMessage(data);
    assert.ok(decoded.ok);
    assert.equal((decoded.message.fields as Record<string, unknown>).polluted, undefined);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});

describe("paths and statuses", () => {
  it("throws PathError naming the problem", () => {
    assert.equal(checkPath("a/b.txt"), "a/b.txt");
    assert.throws(() => checkPath("a/../b"), /path leaves the shared folder/);
    assert.throws(() => checkPath(".ctclient/x"), PathError);
    assert.throws(() => checkPath(42), /not a usable path/);
  });

  it("maps close codes to stable statuses, and has words for each", () => {
    assert.equal(statusForClose(4006), "denied");
    assert.equal(statusForClose(1006), "server_unreachable");
    assert.equal(statusForClose(1012), "server_unreachable");
    assert.equal(statusForClose(3999), "closed");
    assert.equal(words("wrong_key"), "cannot decrypt: check the link");
    assert.equal(words("host_away"), "The host's connection dropped; waiting for the host to come back");
  });
});
