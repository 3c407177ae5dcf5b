// The guest's side of folder sharing (docs/protocol.md §10.1), against a fake
// peer and a host document made with Yjs.

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import * as Y from "yjs";

import { fromBase64, toBase64 } from "../bytes.js";
import { GuestFiles, type FilesEvents } from "../files.js";
import { PathError } from "../paths.js";
import { FakePeer, peerObject } from "./helpers.js";

const TREE = {
  entries: [["README.md", 5, "text"], ["src/main.ts", 10, "text"], ["logo.png", 900, "binary"]],
  share: "on-demand",
  keep_files: false,
};

/** The host's copy of a file. */
function hostDoc(text: string): Y.Doc {
  const doc = new Y.Doc();
  doc.getText("content").insert(0, text);
  return doc;
}

/** What the host answers to an `open` with state vector `state`. */
function docSync(peer: FakePeer, host: Y.Doc, path: string, state: Uint8Array): void {
  const update = Y.encodeStateAsUpdate(host, state.length > 0 ? state : undefined);
  peer.deliver(1, "doc_sync", { path, sv: toBase64(Y.encodeStateVector(host)) }, update);
}

function record(files: GuestFiles): { name: keyof FilesEvents; event: any }[] {
  const events: { name: keyof FilesEvents; event: any }[] = [];
  for (const name of ["tree", "synced", "refused", "opens", "unsent", "ignored"] as const) {
    files.on(name, (event) => events.push({ name, event }));
  }
  return events;
}

async function flushed(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
}

function setup(): { peer: FakePeer; files: GuestFiles; events: ReturnType<typeof record> } {
  const peer = new FakePeer();
  peer.setPeer(peerObject(1));
  peer.setPeer(peerObject(2));
  const files = new GuestFiles(peer);
  const events = record(files);
  return { peer, files, events };
}

describe("joining", () => {
  it("says hello_app to the host once admitted", async () => {
    const peer = new FakePeer();
    peer.status = "lobby";
    const files = new GuestFiles(peer);
    assert.equal(peer.sent.length, 0);
    peer.status = "admitted";
    peer.emit("admitted", { peers: [] });
    await flushed();
    assert.deepEqual(peer.take(), [
      { message: { type: "hello_app", fields: { client: "ctserver-web/0.1", features: ["awareness"] }, body: new Uint8Array(0) }, to: 1 },
    ]);
    files.dispose();
  });

  it("keeps the tree, leaving out the entries §10.1 refuses", async () => {
    const { peer, files, events } = setup();
    peer.deliver(1, "tree", {
      ...TREE,
      entries: [...TREE.entries, [".git/config", 1, "text"], ["../x", 1, "text"], ["a", -1, "text"], ["b", 1, "dir"], "c"],
      share: "all",
      keep_files: true,
    });
    await flushed();
    assert.deepEqual([...files.entries.keys()], ["README.md", "src/main.ts", "logo.png"]);
    assert.equal(files.share, "all");
    assert.equal(files.keepFiles, true);
    assert.equal(events.filter((entry) => entry.name === "ignored").length, 5);
  });

  it("takes the tree, doc_sync, opens and refused from the host only", async () => {
    const { peer, files, events } = setup();
    peer.deliver(3, "tree", TREE);
    peer.deliver(3, "doc_sync", { path: "README.md", sv: "" }, Y.encodeStateAsUpdate(hostDoc("evil")));
    peer.deliver(3, "opens", { opens: {} });
    peer.deliver(3, "refused", { path: "README.md", reason: "read_only" });
    await flushed();
    assert.equal(files.treeReceived, false);
    assert.equal(files.doc("README.md"), undefined);
    assert.deepEqual(events.map((entry) => entry.name), ["ignored", "ignored", "ignored", "ignored"]);
  });
});

describe("opening and editing", () => {
  it("opens a file with an empty state vector, and is brought level by doc_sync", async () => {
    const { peer, files, events } = setup();
    peer.deliver(1, "tree", TREE);
    peer.take();
    const doc = files.open("README.md");
    await flushed();
    const [open] = peer.take();
    assert.deepEqual(open, { message: { type: "open", fields: { path: "README.md" }, body: new Uint8Array(0) }, to: 1 });
    const host = hostDoc("hello");
    docSync(peer, host, "README.md", open!.message.body);
    await flushed();
    assert.equal(doc.getText("content").toString(), "hello");
    assert.ok(files.isSynced("README.md"));
    assert.equal(events.at(-1)?.name, "synced");
    assert.deepEqual(peer.take(), [], "nothing the host lacks");
  });

  it("refuses paths §10.1 refuses, and files not shared as text", () => {
    const { peer, files } = setup();
    peer.deliver(1, "tree", TREE);
    for (const path of ["../etc/passwd", "/abs", "a//b", "sub/.GIT/hooks", "a\\b", ""]) {
      assert.throws(() => files.open(path), PathError, path);
    }
    assert.throws(() => files.open("logo.png"), /not shared as text \(binary\)/);
    assert.throws(() => files.open("missing.txt"), /not in the tree/);
  });

  it("sends local edits as doc_update, which the host can apply", async () => {
    const { peer, files } = setup();
    const host = hostDoc("hello");
    peer.deliver(1, "tree", TREE);
    const doc = files.open("README.md");
    docSync(peer, host, "README.md", new Uint8Array(0));
    await flushed();
    peer.take();
    doc.getText("content").insert(5, ", world");
    await flushed();
    const [update] = peer.take();
    assert.equal(update?.message.type, "doc_update");
    assert.equal(update?.to, undefined, "broadcast");
    assert.deepEqual(update?.message.fields, { path: "README.md" });
    Y.applyUpdate(host, update!.message.body);
    assert.equal(host.getText("content").toString(), "hello, world");
  });

  it("applies others' edits to open files only, and never a read-only peer's", async () => {
    const { peer, files, events } = setup();
    peer.setPeer(peerObject(3, { read_only: true }));
    const host = hostDoc("abc");
    peer.deliver(1, "tree", TREE);
    const doc = files.open("README.md");
    docSync(peer, host, "README.md", new Uint8Array(0));
    const before = Y.encodeStateVector(host);
    host.getText("content").insert(3, "d");
    const edit = Y.encodeStateAsUpdate(host, before);
    peer.deliver(3, "doc_update", { path: "README.md" }, edit);
    peer.deliver(4, "doc_update", { path: "src/main.ts" }, edit);
    await flushed();
    assert.equal(doc.getText("content").toString(), "abc");
    assert.equal(events.at(-1)?.event.problem, "an edit from a read-only peer");
    peer.deliver(4, "doc_update", { path: "README.md" }, edit);
    await flushed();
    assert.equal(doc.getText("content").toString(), "abcd");
  });

  it("ignores doc_sync with an sv that is not standard padded base64, changing nothing", async () => {
    const { peer, files, events } = setup();
    peer.deliver(1, "tree", TREE);
    const doc = files.open("README.md");
    const host = hostDoc("x");
    const update = Y.encodeStateAsUpdate(host);
    const sv = toBase64(Y.encodeStateVector(host));
    // The state vector's length depends on Yjs's random client id: its base64 may
    // need no padding, and then the wrongly padded form is one "=" too many.
    const badlyPadded = sv.endsWith("=") ? sv.replace(/=+$/, "") : `${sv}=`;
    for (const bad of [badlyPadded, sv.replace(/\+/g, "-") + "-_", 5, null]) {
      peer.deliver(1, "doc_sync", { path: "README.md", sv: bad }, update);
    }
    peer.deliver(1, "doc_sync", { path: "../README.md", sv }, update);
    await flushed();
    assert.equal(doc.getText("content").toString(), "");
    assert.ok(events.length >= 4 && events.every((entry) => entry.name === "ignored" || entry.name === "tree"));
    assert.equal(fromBase64(sv) !== null, true);
  });

  it("survives updates that are not Yjs updates", async () => {
    const { peer, files, events } = setup();
    peer.deliver(1, "tree", TREE);
    const doc = files.open("README.md");
    docSync(peer, hostDoc("safe"), "README.md", new Uint8Array(0));
    for (const garbage of [new Uint8Array([255, 255, 255, 255, 255]), new Uint8Array([1, 1, 200, 1, 0, 4])]) {
      peer.deliver(4, "doc_update", { path: "README.md" }, garbage);
    }
    await flushed();
    assert.equal(doc.getText("content").toString(), "safe");
    assert.ok(events.filter((entry) => entry.name === "ignored").length <= 2);
  });

  it("opens files the host sends unasked (share: all)", async () => {
    const { peer, files, events } = setup();
    peer.deliver(1, "tree", { ...TREE, share: "all" });
    docSync(peer, hostDoc("auto"), "src/main.ts", new Uint8Array(0));
    await flushed();
    assert.equal(files.doc("src/main.ts")?.getText("content").toString(), "auto");
    assert.deepEqual(files.openPaths, ["src/main.ts"]);
    assert.equal(events.at(-1)?.name, "synced");
  });

  it("closes open files the host no longer shares", async () => {
    const { peer, files, events } = setup();
    peer.deliver(1, "tree", TREE);
    files.open("README.md");
    peer.deliver(1, "tree", { ...TREE, entries: TREE.entries.slice(1) });
    await flushed();
    assert.deepEqual(files.openPaths, []);
    assert.deepEqual(events.find((entry) => entry.name === "tree" && entry.event.gone.length)?.event.gone, ["README.md"]);
  });
});

describe("coming back", () => {
  for (const [name, emit] of [
    ["a resume", (peer: FakePeer) => peer.emit("resumed", { peers: [] })],
    ["the host's return", (peer: FakePeer) => peer.emit("host_back", { peer: { peerId: 1, name: "H", role: "host", state: "admitted", readOnly: false, verified: null, email: "" } })],
  ] as const) {
    it(`after ${name}, says hello_app and re-opens every open file with its state vector`, async () => {
      const { peer, files } = setup();
      const host = hostDoc("shared text");
      peer.deliver(1, "tree", TREE);
      files.open("src/main.ts");
      files.open("README.md");
      docSync(peer, host, "README.md", new Uint8Array(0));
      await flushed();
      peer.take();
      emit(peer);
      await flushed();
      const sent = peer.take();
      assert.deepEqual(sent.map((entry) => [entry.message.type, entry.message.fields.path, entry.to]), [
        ["hello_app", undefined, 1],
        ["open", "README.md", 1],
        ["open", "src/main.ts", 1],
      ]);
      assert.deepEqual(sent[1]?.message.body, Y.encodeStateVector(files.doc("README.md")!));
      assert.equal(sent[2]?.message.body.length, 0);
    });
  }

  it("sends what the host lacks after doc_sync: edits made while disconnected", async () => {
    const { peer, files } = setup();
    const host = hostDoc("base");
    peer.deliver(1, "tree", TREE);
    const doc = files.open("README.md");
    docSync(peer, host, "README.md", new Uint8Array(0));
    await flushed();
    peer.connected = false;
    doc.getText("content").insert(0, "offline ");
    host.getText("content").insert(4, " host");
    peer.connected = true;
    peer.take();
    peer.emit("resumed", { peers: [] });
    await flushed();
    const reopen = peer.take().find((entry) => entry.message.type === "open")!;
    docSync(peer, host, "README.md", reopen.message.body);
    await flushed();
    const [missing] = peer.take();
    assert.equal(missing?.message.type, "doc_update");
    Y.applyUpdate(host, missing!.message.body);
    assert.equal(host.getText("content").toString(), doc.getText("content").toString());
    assert.equal(doc.getText("content").toString(), "offline base host");
  });
});

describe("read-only and host notices", () => {
  it("does not send a read-only guest's edits, and says so", async () => {
    const { peer, files, events } = setup();
    peer.deliver(1, "tree", TREE);
    const doc = files.open("README.md");
    docSync(peer, hostDoc("ro"), "README.md", new Uint8Array(0));
    await flushed();
    peer.take();
    peer.readOnly = true;
    doc.getText("content").insert(0, "x");
    await flushed();
    assert.deepEqual(peer.take(), []);
    assert.equal(events.at(-1)?.name, "unsent");
  });

  it("reports refusals and who has which file open", async () => {
    const { peer, files, events } = setup();
    peer.deliver(1, "refused", { path: "README.md", reason: "read_only" });
    peer.deliver(1, "opens", { opens: { "2": ["README.md", "../bad"], "3": [] } });
    peer.deliver(1, "opens", { opens: JSON.parse('{"__proto__": ["x"]}') });
    peer.deliver(1, "opens", { opens: ["x"] });
    await flushed();
    assert.deepEqual(events.map((entry) => entry.name), ["refused", "opens", "ignored", "ignored"]);
    assert.deepEqual([...files.opens], [[2, ["README.md"]], [3, []]]);
    assert.equal(({} as Record<string, unknown>).x, undefined);
  });
});
