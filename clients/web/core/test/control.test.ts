// Control frames (docs/protocol.md §5) and the text rules of §3.

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { checkText, closeName, commandFrame, helloFrame, parseControl, parsePeer, CLOSE_CODES } from "../control.js";
import { peerObject, welcome } from "./helpers.js";

function parsed(value: unknown): ReturnType<typeof parseControl> {
  return parseControl(typeof value === "string" ? value : JSON.stringify(value));
}

describe("what the client sends", () => {
  it("writes hello with the members §5.1 names", () => {
    assert.deepEqual(JSON.parse(helloFrame({ role: "guest", name: "Ada", client: "x" })), {
      type: "hello", role: "guest", name: "Ada", client: "x",
    });
    assert.deepEqual(
      JSON.parse(helloFrame({ role: "host", name: "H", hostSecret: "s", resume: { peerId: 1, peerSecret: "p" } })),
      { type: "hello", role: "host", name: "H", host_secret: "s", resume: { peer_id: 1, peer_secret: "p" } },
    );
  });

  it("writes the host commands and leave", () => {
    assert.deepEqual(JSON.parse(commandFrame({ type: "deny", peer: 3 })), { type: "deny", peer: 3 });
    assert.deepEqual(JSON.parse(commandFrame({ type: "set_auto_admit", autoAdmit: true })), {
      type: "set_auto_admit", auto_admit: true,
    });
    assert.deepEqual(JSON.parse(commandFrame({ type: "end" })), { type: "end" });
    assert.deepEqual(JSON.parse(commandFrame({ type: "leave" })), { type: "leave" });
  });

  it("checks names as the server does: trimmed, 1-64 characters, no Cc, Cf, Zl, Zp", () => {
    assert.deepEqual(checkText("  Ada Lovelace \u3000", "name"), { ok: true, text: "Ada Lovelace" });
    assert.deepEqual(checkText("\u{1f600}".repeat(64), "name"), { ok: true, text: "\u{1f600}".repeat(64) });
    assert.equal(checkText("x".repeat(65), "name").ok, false);
    assert.equal(checkText("", "name").ok, false);
    assert.equal(checkText("", "client", false).ok, true);
    for (const bad of ["a\u0000b", "a\u001bb", "a\u202eb", "a\u200bb", "a\u2028b", "a\ud800b", "\ufeffa"]) {
      assert.equal(checkText(bad, "name").ok, false, JSON.stringify(bad));
    }
  });

  it("names every close code of §8", () => {
    assert.equal(closeName(4017), "license_full");
    assert.equal(closeName(1012), "service_restart");
    assert.equal(closeName(4999), null);
    assert.equal(closeName(Number("toString")), null);
    assert.equal(Object.keys(CLOSE_CODES).length, 24);
  });
});

describe("what the server sends", () => {
  it("reads a welcome", () => {
    const result = parsed(welcome({ state: "admitted", peers: [peerObject(1), peerObject(2, { read_only: true })] }));
    assert.equal(result.kind, "frame");
    assert.deepEqual(result.kind === "frame" && result.frame, {
      type: "welcome",
      peerId: 2,
      peerSecret: "secret-2",
      role: "guest",
      state: "admitted",
      resumed: false,
      session: { sessionId: "x3Jb0pQ1sW9mZk2Lr7yTvA", autoAdmit: false, hostPresent: true },
      peers: [
        { peerId: 1, name: "Host", role: "host", state: "admitted", readOnly: false, verified: null, email: "" },
        { peerId: 2, name: "Guest 2", role: "guest", state: "admitted", readOnly: true, verified: null, email: "" },
      ],
    });
  });

  it("reads a peer's single sign-on identity, and refuses one of the wrong shape (§5.2)", () => {
    const verified = parsePeer(peerObject(3, { verified: true, email: "ada@example.com" }));
    assert.equal(verified?.verified, true);
    assert.equal(verified?.email, "ada@example.com");
    assert.equal(parsePeer(peerObject(4, { verified: false, email: "" }))?.verified, false);
    assert.equal(parsePeer(peerObject(5, { verified: "yes" })), null);
    assert.equal(parsePeer(peerObject(6, { email: 7 })), null);
  });

  it("reads the other frames of §5.2, ignoring members it does not know", () => {
    const frames = [
      { type: "admitted", peers: [peerObject(1)], extra: 1 },
      { type: "join_request", peer: peerObject(3, { state: "lobby" }) },
      { type: "presence", event: "host_away", peer: peerObject(1, { state: "away" }) },
      { type: "error", code: "unknown_peer", message: "no peer 9", ref: "admit" },
      { type: "error", code: "x", message: "y" },
      { type: "ended", reason: "idle" },
    ];
    for (const frame of frames) assert.equal(parsed(frame).kind, "frame", JSON.stringify(frame));
  });

  it("ignores types and presence events it does not know (§11)", () => {
    assert.equal(parsed({ type: "future" }).kind, "ignored");
    assert.equal(parsed({ type: "presence", event: "future", peer: peerObject(1) }).kind, "ignored");
  });

  it("finds every malformed frame, never throwing", () => {
    const bad: unknown[] = [
      "", "{", "null", "[]", "42", '"welcome"', "{}", { type: 1 }, { type: null },
      '{"type":"welcome","__proto__":{"peer_id":2}}',
      welcome({ peer_id: 0 }), welcome({ peer_id: 2 ** 32 }), welcome({ peer_id: 1.5 }), welcome({ peer_id: "2" }),
      welcome({ peer_secret: 5 }), welcome({ peer_secret: "has space" }), welcome({ peer_secret: "x".repeat(129) }),
      welcome({ role: "admin" }), welcome({ state: "away" }), welcome({ resumed: "no" }), welcome({ session: null }),
      welcome({ session: { session_id: "s", auto_admit: 1, host_present: true } }), welcome({ peers: {} }),
      welcome({ peers: [null] }), welcome({ peers: [peerObject(1, { read_only: "no" })] }),
      welcome({ peers: [peerObject(1, { role: "owner" })] }), welcome({ peers: [peerObject(1, { name: 3 })] }),
      { type: "admitted" }, { type: "join_request", peer: [] }, { type: "presence", event: 3, peer: peerObject(1) },
      { type: "presence", event: "left" }, { type: "error", code: "x" }, { type: "error", code: "x", message: "y", ref: 1 },
      { type: "ended", reason: null }, "x".repeat(2 * 1024 * 1024), "[".repeat(100_000) + "]".repeat(100_000),
    ];
    for (const frame of bad) {
      assert.equal(parsed(frame).kind, "malformed", JSON.stringify(frame).slice(0, 100));
    }
    assert.equal(parseControl(new Uint8Array(3)).kind, "malformed");
  });

  it("never reads a member from Object.prototype", () => {
    const inherited = '{"type":"error","message":"m","code":"c","__proto__":{"ref":5}}';
    const result = parseControl(inherited);
    assert.equal(result.kind, "frame");
    assert.equal(result.kind === "frame" && result.frame.type === "error" && result.frame.ref, null);
    assert.equal(parsed({ type: "constructor" }).kind, "ignored");
    assert.equal(parsed({ type: "hasOwnProperty" }).kind, "ignored");
  });
});
