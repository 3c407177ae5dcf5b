// Remote cursors (docs/protocol.md §10.2): what is sent, how often, and what
// receivers accept.

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import * as Y from "yjs";

import { toBase64 } from "../bytes.js";
import { Awareness, parseAwareness, resolveCursor, type AwarenessEvents } from "../awareness.js";
import { FakeClock, FakePeer } from "./helpers.js";

function setup(): { peer: FakePeer; clock: FakeClock; doc: Y.Doc; awareness: Awareness; changes: AwarenessEvents["change"][]; ignored: string[] } {
  const peer = new FakePeer();
  const clock = new FakeClock();
  clock.time = 1000;
  const doc = new Y.Doc();
  doc.getText("content").insert(0, "hello world");
  const awareness = new Awareness(peer, (path) => (path === "a.txt" ? doc : undefined), { name: "Ada", colour: "#ff8800", clock });
  const changes: AwarenessEvents["change"][] = [];
  const ignored: string[] = [];
  awareness.on("change", (change) => changes.push(change));
  awareness.on("ignored", ({ problem }) => ignored.push(problem));
  return { peer, clock, doc, awareness, changes, ignored };
}

/** Fields of a valid awareness message pointing into `doc`. */
function fields(doc: Y.Doc, anchor: number, head: number): Record<string, unknown> {
  const text = doc.getText("content");
  const encode = (index: number): string => toBase64(Y.encodeRelativePosition(Y.createRelativePositionFromTypeIndex(text, index)));
  return { path: "a.txt", anchor: encode(anchor), head: encode(head), name: "Bob", colour: "#00AAFF" };
}

describe("sending awareness", () => {
  it("sends the cursor as relative positions, to everyone", () => {
    const { peer, doc, awareness } = setup();
    awareness.setCursor({ path: "a.txt", anchor: 0, head: 5 });
    const [sent] = peer.take();
    assert.equal(sent?.to, undefined);
    assert.equal(sent?.message.type, "awareness");
    const parsed = parseAwareness(sent!.message.fields);
    assert.ok(parsed.ok);
    assert.deepEqual(resolveCursor(parsed.state, doc), { anchor: 0, head: 5 });
    assert.deepEqual({ name: parsed.state.name, colour: parsed.state.colour }, { name: "Ada", colour: "#ff8800" });
  });

  it("sends at most one message per 100 ms, the latest state last", () => {
    const { peer, clock, awareness } = setup();
    awareness.setCursor({ path: "a.txt", anchor: 1, head: 1 });
    awareness.setCursor({ path: "a.txt", anchor: 2, head: 2 });
    awareness.setCursor({ path: "a.txt", anchor: 3, head: 3 });
    assert.equal(peer.sent.length, 1);
    clock.advance(99);
    assert.equal(peer.sent.length, 1);
    clock.advance(1);
    assert.equal(peer.sent.length, 2);
    const last = parseAwareness(peer.sent[1]!.message.fields);
    assert.ok(last.ok && last.state.head !== null);
    clock.advance(1000);
    assert.equal(peer.sent.length, 2, "nothing new to say");
  });

  it("clears the cursor with path null", () => {
    const { peer, awareness } = setup();
    awareness.setCursor(null);
    assert.deepEqual(peer.take()[0]?.message.fields, { path: null, name: "Ada", colour: "#ff8800" });
  });

  it("sends to the host alone while read-only", () => {
    const { peer, awareness } = setup();
    peer.readOnly = true;
    awareness.setCursor({ path: "a.txt", anchor: 0, head: 0 });
    assert.equal(peer.take()[0]?.to, 1);
  });

  it("sends its cursor again when a peer arrives or comes back", () => {
    const { peer, clock, awareness } = setup();
    awareness.setCursor({ path: "a.txt", anchor: 0, head: 0 });
    peer.take();
    clock.advance(500);
    peer.emit("peer_joined", { peer: { peerId: 3, name: "C", role: "guest", state: "admitted", readOnly: false, verified: null, email: "" } });
    assert.equal(peer.take().length, 1);
    clock.advance(500);
    peer.emit("resumed", { peers: [] });
    assert.equal(peer.take().length, 1);
  });

  it("refuses a cursor in a file that is not open, and a bad colour", () => {
    const { awareness, peer } = setup();
    assert.throws(() => awareness.setCursor({ path: "b.txt", anchor: 0, head: 0 }), RangeError);
    assert.throws(() => awareness.setCursor({ path: "../a.txt", anchor: 0, head: 0 }), RangeError);
    assert.throws(() => new Awareness(peer, () => undefined, { name: "A", colour: "red" }), RangeError);
  });
});

describe("receiving awareness", () => {
  it("keeps each peer's cursor, which follows concurrent edits", () => {
    const { peer, doc, awareness, changes } = setup();
    peer.deliver(3, "awareness", fields(doc, 6, 11));
    assert.equal(changes.length, 1);
    const cursor = awareness.remote.get(3)!;
    assert.deepEqual(resolveCursor(cursor, doc), { anchor: 6, head: 11 });
    doc.getText("content").insert(0, ">> ");
    assert.deepEqual(resolveCursor(cursor, doc), { anchor: 9, head: 14 });
    assert.equal(cursor.name, "Bob");
  });

  it("ignores malformed messages whole, keeping the previous state", () => {
    const { peer, doc, awareness, changes, ignored } = setup();
    peer.deliver(3, "awareness", fields(doc, 1, 1));
    const good = fields(doc, 2, 2);
    const bad = [
      { ...good, path: "../x" }, { ...good, path: ".git/config" }, { ...good, path: 5 },
      { ...good, colour: "red" }, { ...good, colour: "#12345" }, { ...good, name: "" }, { ...good, name: "a\u001b[2Jb" },
      { ...good, anchor: "not base64!" }, { ...good, head: undefined }, { ...good, anchor: "//8=" },
      { ...good, anchor: "A".repeat(2000) }, { ...good, anchor: "" },
    ];
    for (const fieldsOfBad of bad) peer.deliver(3, "awareness", fieldsOfBad);
    assert.equal(ignored.length, bad.length);
    assert.equal(changes.length, 1);
    assert.deepEqual(resolveCursor(awareness.remote.get(3)!, doc), { anchor: 1, head: 1 });
  });

  it("forgets a peer's cursor when it clears it or leaves", () => {
    const { peer, doc, awareness, changes } = setup();
    peer.deliver(3, "awareness", fields(doc, 1, 1));
    peer.deliver(3, "awareness", { path: null, name: "Bob", colour: "#000000" });
    assert.equal(changes.at(-1)?.cursor, null);
    peer.deliver(4, "awareness", fields(doc, 1, 1));
    peer.emit("peer_left", { peer: { peerId: 4, name: "D", role: "guest", state: "admitted", readOnly: false, verified: null, email: "" }, how: "left" });
    assert.deepEqual(changes.at(-1), { peerId: 4, cursor: null });
    assert.equal(awareness.remote.has(4), false);
  });

  it("cannot resolve a position in an update that has not arrived", () => {
    const { peer, awareness } = setup();
    const elsewhere = new Y.Doc();
    elsewhere.getText("content").insert(0, "other");
    peer.deliver(3, "awareness", fields(elsewhere, 2, 2));
    const mine = new Y.Doc();
    assert.equal(resolveCursor(awareness.remote.get(3)!, mine), null);
  });
});
