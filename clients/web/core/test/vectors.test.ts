// The TypeScript core agrees with ctclient on every vector in clients/test-vectors
// (tests/test_web_vectors.py checks ctclient's side).

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import * as Y from "yjs";

import { fromBase64, toBase64, toHex } from "../bytes.js";
import { associatedData, encryptWithNonce, importSessionKey, SessionCipher, DecryptError } from "../crypto.js";
import { decodeDataFrame, encodeDataFrame, BROADCAST, unicast } from "../frames.js";
import { formatJoinLink, LinkError, parseJoinLink, websocketUrl } from "../link.js";
import { decodeAppMessage, encodeAppMessage } from "../messages.js";
import { pathProblem } from "../paths.js";
import { hex, vectors } from "./helpers.js";

const V = vectors();
const MADE_BY_YJS = vectors("yjs-made.json");
const KEY = hex(V.key_hex);

describe("join links", () => {
  for (const vector of V.links) {
    it(`${vector.ok ? "accepts" : "refuses"} ${JSON.stringify(vector.link).slice(0, 70)}`, () => {
      if (!vector.ok) {
        assert.throws(() => parseJoinLink(vector.link), (error: unknown) => {
          assert.ok(error instanceof LinkError);
          assert.equal(error.kind, vector.kind);
          return true;
        });
        return;
      }
      const link = parseJoinLink(vector.link);
      assert.equal(link.serverUrl, vector.server_url);
      assert.equal(link.sessionId, vector.session_id);
      assert.equal(toHex(link.key), vector.key_hex);
      assert.equal(websocketUrl(link), vector.websocket_url);
      assert.equal(formatJoinLink(link), vector.formatted);
    });
  }
});

describe("encryption", () => {
  it("builds the associated data ctclient builds", () => {
    for (const vector of V.aad) assert.equal(toHex(associatedData(vector.session_id, vector.sender)), vector.aad_hex);
  });

  for (const vector of V.encryptions) {
    it(`encrypts as peer ${vector.sender} with a fixed nonce to the same bytes, and decrypts them`, async () => {
      const key = await importSessionKey(KEY);
      const aad = associatedData(V.session_id, vector.sender);
      const payload = await encryptWithNonce(key, aad, hex(vector.nonce_hex), hex(vector.plaintext_hex));
      assert.equal(toHex(payload), vector.payload_hex);
      const cipher = await SessionCipher.create(KEY, V.session_id);
      assert.equal(toHex(await cipher.decrypt(vector.sender, hex(vector.payload_hex))), vector.plaintext_hex);
    });
  }

  for (const vector of V.refused_decryptions) {
    it(`refuses a payload with ${vector.why}`, async () => {
      const cipher = await SessionCipher.create(KEY, vector.session_id);
      await assert.rejects(cipher.decrypt(vector.sender, hex(vector.payload_hex)), DecryptError);
    });
  }
});

describe("data frames", () => {
  const payload = hex(V.frames.payload_hex);
  for (const vector of V.frames.sent) {
    it(`encodes a ${vector.route} to ${vector.to}`, () => {
      const route = vector.route === "broadcast" ? BROADCAST : unicast(vector.to);
      assert.equal(toHex(encodeDataFrame(route, payload)), vector.frame_hex);
    });
  }
  for (const vector of V.frames.received) {
    it(`decodes a frame of kind ${vector.kind} from ${vector.sender}`, () => {
      const decoded = decodeDataFrame(hex(vector.frame_hex));
      assert.ok(decoded.ok);
      assert.equal(decoded.frame.kind, vector.kind === 0 ? "broadcast" : "unicast");
      assert.equal(decoded.frame.sender, vector.sender);
      assert.equal(toHex(decoded.frame.payload), V.frames.payload_hex);
    });
  }
});

describe("application messages", () => {
  for (const vector of V.envelopes.encoded) {
    it(`decodes ctclient's ${vector.type}${vector.byte_exact ? " and encodes it byte for byte" : ""}`, () => {
      const body = hex(vector.body_hex);
      if (vector.byte_exact) assert.equal(toHex(encodeAppMessage(vector.type, vector.fields, body)), vector.bytes_hex);
      const decoded = decodeAppMessage(hex(vector.bytes_hex));
      assert.ok(decoded.ok);
      assert.equal(decoded.message.type, vector.type);
      assert.deepEqual(decoded.message.fields, vector.fields);
      assert.equal(toHex(decoded.message.body), vector.body_hex);
    });
  }

  it("decodes messages other clients write (UTF-8, other member order)", () => {
    for (const vector of V.envelopes.decoded) {
      const decoded = decodeAppMessage(hex(vector.bytes_hex));
      assert.ok(decoded.ok);
      assert.equal(decoded.message.type, vector.type);
      assert.deepEqual(decoded.message.fields, vector.fields);
      assert.equal(toHex(decoded.message.body), vector.body_hex);
    }
  });

  it("refuses the malformed ones ctclient refuses", () => {
    for (const data of V.envelopes.refused_hex) assert.equal(decodeAppMessage(hex(data)).ok, false, data);
  });
});

describe("paths and state vectors", () => {
  it("accepts and refuses exactly the paths ctclient does", () => {
    for (const vector of V.paths) assert.equal(pathProblem(vector.path) === null, vector.valid, JSON.stringify(vector.path));
  });

  it("reads base64 state vectors as ctclient does", () => {
    for (const vector of V.state_vectors_base64) {
      const decoded = fromBase64(vector.sv);
      assert.equal(decoded === null ? null : toHex(decoded), vector.hex, JSON.stringify(vector.sv));
    }
  });
});

function docOf(...updates: string[]): Y.Doc {
  const doc = new Y.Doc();
  for (const update of updates) Y.applyUpdate(doc, fromBase64(update)!);
  return doc;
}

describe("Yjs and pycrdt", () => {
  const yjs = V.yjs;

  it("applies pycrdt's document and gets its text and state vector", () => {
    const doc = docOf(yjs.base.update);
    assert.equal(doc.getText("content").toString(), yjs.base.text);
    assert.equal(toBase64(Y.encodeStateVector(doc)), yjs.base.state_vector);
  });

  it("applies pycrdt's edit on top of it", () => {
    const doc = docOf(yjs.base.update, yjs.edit.update_since_base);
    assert.equal(doc.getText("content").toString(), yjs.edit.text);
    assert.equal(toBase64(Y.encodeStateVector(doc)), yjs.edit.state_vector);
  });

  it("reads pycrdt's sticky indexes as relative positions, and writes the same", () => {
    const doc = docOf(yjs.base.update);
    const text = doc.getText("content");
    for (const vector of yjs.sticky_indexes) {
      const position = Y.decodeRelativePosition(fromBase64(vector.encoded)!);
      assert.equal(Y.createAbsolutePositionFromRelativePosition(position, doc)?.index, vector.index);
      const made = Y.encodeRelativePosition(Y.createRelativePositionFromTypeIndex(text, vector.index));
      assert.equal(toBase64(made), vector.encoded);
    }
  });

  it("still makes the committed Yjs vectors (regenerate them if yjs changed)", () => {
    const doc = docOf(yjs.base.update, MADE_BY_YJS.guest_edit.update_since_base);
    assert.equal(doc.getText("content").toString(), MADE_BY_YJS.guest_edit.text);
    const own = docOf(MADE_BY_YJS.own_document.update);
    assert.equal(own.getText("content").toString(), MADE_BY_YJS.own_document.text);
    assert.equal(toBase64(Y.encodeStateVector(own)), MADE_BY_YJS.own_document.state_vector);
  });
});
