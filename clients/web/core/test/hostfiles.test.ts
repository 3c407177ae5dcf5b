// The host's side of folder sharing (docs/protocol.md §10.1): against a fake peer,
// and with real GuestFiles through a fake relay.

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import * as Y from "yjs";

import { fromBase64 } from "../bytes.js";
import { GuestFiles } from "../files.js";
import type { TreeEntry } from "../files.js";
import { HostFiles, type HostFilesEvents, type HostFilesOptions } from "../hostfiles.js";
import { PathError } from "../paths.js";
import { FakePeer, FakeRelay, peerInfo, peerObject, welcomeFrame } from "./helpers.js";

const ENTRIES: TreeEntry[] = [
  { path: "README.md", size: 5, kind: "text" },
  { path: "src/main.ts", size: 12, kind: "text" },
  { path: "logo.png", size: 900, kind: "binary" },
  { path: "big.log", size: 9_000_000, kind: "too_large" },
];
const FILES: Record<string, string> = { "README.md": "hello", "src/main.ts": "let x = 1;\n" };

type Recorded = { name: keyof HostFilesEvents; event: any }[];

function record(files: HostFiles): Recorded {
  const events: Recorded = [];
  for (const name of ["opened", "closed", "synced", "opens", "hello", "refusedEdit", "ignored", "unsent"] as const) {
    files.on(name, (event) => events.push({ name, event }));
  }
  return events;
}

function hostPeer(): FakePeer {
  const peer = new FakePeer();
  peer.peerId = 1;
  peer.role = "host";
  for (const peerId of [1, 2, 3]) peer.setPeer(peerObject(peerId));
  return peer;
}

/** A host with ENTRIES shared, guests 2 and 3 admitted, and nothing sent yet. */
async function setup(options: Partial<HostFilesOptions> = {}): Promise<{
  peer: FakePeer;
  files: HostFiles;
  events: Recorded;
  loads: string[];
}> {
  const peer = hostPeer();
  const loads: string[] = [];
  const files = new HostFiles(peer, {
    share: "on-demand",
    keepFiles: false,
    load: async (path) => {
      loads.push(path);
      return FILES[path] ?? null;
    },
    ...options,
  });
  files.setEntries(ENTRIES);
  await files.idle();
  peer.take(); // the tree, to everyone and to each guest already admitted
  const events = record(files);
  return { peer, files, events, loads };
}

/** Lets the host handle what it was given, then takes what it sent. */
async function sent(peer: FakePeer, files: HostFiles): Promise<{ type: string; fields: any; body: Uint8Array; to: number | undefined }[]> {
  await files.idle();
  return peer.take().map(({ message, to }) => ({ type: message.type, fields: message.fields, body: message.body, to }));
}

/** A guest's copy of a file after applying the host's doc_sync. */
function guestCopy(body: Uint8Array): Y.Doc {
  const doc = new Y.Doc();
  Y.applyUpdate(doc, body);
  return doc;
}

describe("answering a guest", () => {
  it("sends its tree on hello_app, to that guest alone", async () => {
    const { peer, files, events } = await setup({ keepFiles: true });
    peer.take();
    peer.deliver(2, "hello_app", { client: "ctserver-vscode/0.1", features: ["awareness", "diagnostics", 5] });
    assert.deepEqual(await sent(peer, files), [
      {
        type: "tree",
        fields: {
          entries: [
            ["README.md", 5, "text"],
            ["big.log", 9_000_000, "too_large"],
            ["logo.png", 900, "binary"],
            ["src/main.ts", 12, "text"],
          ],
          share: "on-demand",
          keep_files: true,
        },
        body: new Uint8Array(0),
        to: 2,
      },
    ]);
    assert.deepEqual(events, [
      { name: "hello", event: { peerId: 2, client: "ctserver-vscode/0.1", features: ["awareness", "diagnostics"] } },
    ]);
  });

  it("with share: all, sends every text file unasked after the tree", async () => {
    const { peer, files } = await setup({ share: "all" });
    peer.deliver(2, "hello_app", { client: "x" });
    const out = await sent(peer, files);
    assert.deepEqual(
      out.map((item) => [item.type, item.fields.path, item.to]),
      [
        ["tree", undefined, 2],
        ["doc_sync", "README.md", 2],
        ["opens", undefined, undefined],
        ["doc_sync", "src/main.ts", 2],
        ["opens", undefined, undefined],
      ],
    );
    assert.equal(out[0]?.fields.share, "all");
    assert.equal(guestCopy(out[3]!.body).getText("content").toString(), "let x = 1;\n");
    assert.deepEqual(out[4]?.fields, { opens: { "2": ["README.md", "src/main.ts"] } });
  });

  it("answers open with doc_sync: what the guest lacks, and the host's state vector", async () => {
    const { peer, files, events, loads } = await setup();
    peer.deliver(2, "open", { path: "README.md" });
    const [sync, opens] = await sent(peer, files);
    assert.equal(sync?.type, "doc_sync");
    assert.equal(sync?.to, 2);
    const doc = files.doc("README.md")!;
    assert.deepEqual(fromBase64(sync?.fields.sv), Y.encodeStateVector(doc));
    const copy = guestCopy(sync!.body);
    assert.equal(copy.getText("content").toString(), "hello");
    assert.deepEqual(opens, { type: "opens", fields: { opens: { "2": ["README.md"] } }, body: new Uint8Array(0), to: undefined });
    assert.deepEqual(loads, ["README.md"]);
    assert.deepEqual(
      events.map((entry) => entry.name),
      ["opened", "synced", "opens"],
    );

    // Opened again with the guest's state vector: only what it lacks, and opens unchanged.
    doc.getText("content").insert(5, "!");
    peer.take();
    peer.deliver(2, "open", { path: "README.md" }, Y.encodeStateVector(copy));
    const again = await sent(peer, files);
    assert.deepEqual(again.map((item) => item.type), ["doc_sync"]);
    Y.applyUpdate(copy, again[0]!.body);
    assert.equal(copy.getText("content").toString(), "hello!");
    assert.deepEqual(loads, ["README.md"], "loaded once");
  });

  it("loads a file once when several guests open it at the same time", async () => {
    const { peer, files, loads, events } = await setup();
    peer.deliver(2, "open", { path: "src/main.ts" });
    peer.deliver(3, "open", { path: "src/main.ts" });
    const doc = await files.open("src/main.ts");
    await files.idle();
    assert.deepEqual(loads, ["src/main.ts"]);
    assert.equal(doc, files.doc("src/main.ts"));
    assert.equal(events.filter((entry) => entry.name === "opened").length, 1);
    assert.deepEqual([...files.opens], [[2, ["src/main.ts"]], [3, ["src/main.ts"]]]);
    assert.deepEqual(files.guestsWith("src/main.ts"), [2, 3]);
  });

  it("starts a document as the loaded text, never as an edit", async () => {
    const { peer, files } = await setup();
    const doc = await files.open("README.md");
    assert.equal(doc?.getText("content").toString(), "hello");
    assert.deepEqual(await sent(peer, files), []);
  });

  it("refuses to open what is not shared as text", async () => {
    const { peer, files } = await setup({ load: async (path) => (path === "src/main.ts" ? null : "x") });
    for (const path of ["logo.png", "big.log", "missing.txt", "src/main.ts"]) peer.deliver(3, "open", { path });
    const out = await sent(peer, files);
    assert.deepEqual(
      out.map((item) => [item.type, item.fields, item.to]),
      ["logo.png", "big.log", "missing.txt", "src/main.ts"].map((path) => ["refused", { path, reason: "not_text" }, 3]),
    );
    assert.deepEqual(files.openPaths, []);
    assert.equal(await files.open("logo.png"), null);
    await assert.rejects(files.open("../etc/passwd"), PathError);
  });

  it("applies a guest's edits without sending them back", async () => {
    const { peer, files } = await setup();
    peer.deliver(2, "open", { path: "README.md" });
    const [sync] = await sent(peer, files);
    const copy = guestCopy(sync!.body);
    const before = Y.encodeStateVector(copy);
    copy.getText("content").insert(0, "why, ");
    peer.deliver(2, "doc_update", { path: "README.md" }, Y.encodeStateAsUpdate(copy, before));
    assert.deepEqual(await sent(peer, files), []);
    assert.equal(files.doc("README.md")?.getText("content").toString(), "why, hello");
  });

  it("sends the host's own edits to everyone", async () => {
    const { peer, files } = await setup();
    const doc = (await files.open("README.md"))!;
    const copy = guestCopy(Y.encodeStateAsUpdate(doc));
    doc.getText("content").insert(5, " there");
    const [update] = await sent(peer, files);
    assert.equal(update?.type, "doc_update");
    assert.equal(update?.to, undefined);
    assert.deepEqual(update?.fields, { path: "README.md" });
    Y.applyUpdate(copy, update!.body);
    assert.equal(copy.getText("content").toString(), "hello there");
  });
});

describe("read-only guests", () => {
  async function readOnlySetup(): Promise<Awaited<ReturnType<typeof setup>> & { edit: Uint8Array }> {
    const context = await setup();
    const { peer, files } = context;
    peer.deliver(3, "open", { path: "README.md" });
    const [sync] = await sent(peer, files);
    const copy = guestCopy(sync!.body);
    const before = Y.encodeStateVector(copy);
    copy.getText("content").insert(0, "x");
    return { ...context, edit: Y.encodeStateAsUpdate(copy, before) };
  }

  it("refuses their edits, saying so once per file", async () => {
    const { peer, files, events, edit } = await readOnlySetup();
    peer.setPeer(peerObject(3, { read_only: true }));
    peer.emit("read_only", { peer: peerInfo(peerObject(3, { read_only: true })), self: false });
    for (const path of ["README.md", "README.md", "src/main.ts", "README.md", "src/main.ts"]) {
      peer.deliver(3, "doc_update", { path }, edit);
    }
    const out = await sent(peer, files);
    assert.deepEqual(
      out.map((item) => [item.type, item.fields, item.to]),
      [
        ["refused", { path: "README.md", reason: "read_only" }, 3],
        ["refused", { path: "src/main.ts", reason: "read_only" }, 3],
      ],
    );
    assert.equal(files.doc("README.md")?.getText("content").toString(), "hello");
    assert.deepEqual(
      events.filter((entry) => entry.name === "refusedEdit").map((entry) => entry.event),
      [{ peerId: 3, path: "README.md" }, { peerId: 3, path: "src/main.ts" }],
    );
  });

  it("takes the flag from the roster at the start, and from setReadOnly", async () => {
    const peer = hostPeer();
    peer.setPeer(peerObject(2, { read_only: true }));
    const files = new HostFiles(peer, { share: "on-demand", keepFiles: false, load: async () => "text" });
    files.setEntries(ENTRIES);
    await files.idle();
    assert.equal(files.isReadOnly(2), true);
    assert.equal(files.isReadOnly(3), false);
    files.setReadOnly(3, true);
    peer.take();
    peer.deliver(3, "doc_update", { path: "README.md" }, new Uint8Array([0, 0]));
    assert.deepEqual((await sent(peer, files)).map((item) => item.fields), [{ path: "README.md", reason: "read_only" }]);
  });

  it("applies their edits again once the flag is lifted, and says it anew if set again", async () => {
    const { peer, files, edit } = await readOnlySetup();
    files.setReadOnly(3, true);
    peer.deliver(3, "doc_update", { path: "README.md" }, edit);
    assert.equal((await sent(peer, files)).length, 1);
    peer.emit("read_only", { peer: peerInfo(peerObject(3)), self: false });
    peer.deliver(3, "doc_update", { path: "README.md" }, edit);
    assert.deepEqual(await sent(peer, files), []);
    assert.equal(files.doc("README.md")?.getText("content").toString(), "xhello");
    files.setReadOnly(3, true);
    peer.deliver(3, "doc_update", { path: "README.md" }, edit);
    assert.equal((await sent(peer, files)).length, 1);
  });
});

describe("the tree", () => {
  it("is sent to everyone when it changes, and only then", async () => {
    const { peer, files } = await setup();
    peer.take();
    assert.deepEqual(files.setEntries([...ENTRIES].reverse()), { changed: false, leftOut: [] });
    assert.deepEqual(await sent(peer, files), []);
    const result = files.setEntries([...ENTRIES, { path: "new.txt", size: 0, kind: "text" }]);
    assert.equal(result.changed, true);
    const [tree] = await sent(peer, files);
    assert.equal(tree?.type, "tree");
    assert.equal(tree?.to, undefined);
    assert.ok(tree?.fields.entries.some((entry: unknown[]) => entry[0] === "new.txt"));
    files.setEntries([...ENTRIES, { path: "new.txt", size: 4, kind: "text" }]);
    assert.equal((await sent(peer, files)).length, 1, "a size change is a change");
  });

  it("leaves out the entries §10.1 refuses", async () => {
    const { peer, files } = await setup();
    const result = files.setEntries([
      ...ENTRIES,
      { path: ".git/config", size: 1, kind: "text" },
      { path: "a/../b", size: 1, kind: "text" },
      { path: "README.md", size: 7, kind: "text" },
      { path: "neg", size: -1, kind: "text" },
      { path: "dir", size: 1, kind: "folder" as never },
    ]);
    assert.deepEqual(result, { changed: false, leftOut: [".git/config", "a/../b", "README.md", "neg", "dir"] });
    assert.deepEqual([...files.entries.keys()], ["README.md", "big.log", "logo.png", "src/main.ts"]);
    assert.deepEqual(await sent(peer, files), []);
  });

  it("closes open documents that are no longer shared as text, and says who has what open", async () => {
    const { peer, files, events } = await setup();
    peer.deliver(2, "open", { path: "README.md" });
    peer.deliver(2, "open", { path: "src/main.ts" });
    await sent(peer, files);
    events.length = 0;
    files.setEntries(ENTRIES.filter((entry) => entry.path !== "README.md"));
    const out = await sent(peer, files);
    assert.deepEqual(out.map((item) => item.type), ["tree", "opens"]);
    assert.deepEqual(out[1]?.fields, { opens: { "2": ["src/main.ts"] } });
    assert.deepEqual(files.openPaths, ["src/main.ts"]);
    assert.deepEqual(
      events.map((entry) => [entry.name, entry.event.path ?? null]),
      [["closed", "README.md"], ["opens", null]],
    );
    peer.deliver(2, "doc_update", { path: "README.md" }, new Uint8Array([0, 0]));
    assert.deepEqual(await sent(peer, files), [], "an edit of a closed file goes nowhere");
  });

  it("with share: all, sends a new text file to the guests that said hello", async () => {
    const { peer, files } = await setup({ share: "all", load: async (path) => `text of ${path}` });
    peer.deliver(2, "hello_app", { client: "x" });
    await sent(peer, files);
    files.setEntries([...ENTRIES, { path: "new.txt", size: 11, kind: "text" }, { path: "new.bin", size: 1, kind: "binary" }]);
    const out = await sent(peer, files);
    assert.deepEqual(out.map((item) => [item.type, item.fields.path, item.to]), [
      ["tree", undefined, undefined],
      ["doc_sync", "new.txt", 2],
      ["opens", undefined, undefined],
    ]);
    assert.equal(guestCopy(out[1]!.body).getText("content").toString(), "text of new.txt");
  });
});

describe("comings and goings", () => {
  it("forgets a guest that left: opens says so", async () => {
    const { peer, files } = await setup();
    peer.deliver(2, "open", { path: "README.md" });
    peer.deliver(3, "open", { path: "README.md" });
    await sent(peer, files);
    peer.emit("peer_left", { peer: peerInfo(peerObject(3)), how: "left" });
    const out = await sent(peer, files);
    assert.deepEqual(out.map((item) => [item.type, item.fields]), [["opens", { opens: { "2": ["README.md"] } }]]);
    assert.deepEqual(files.guestsWith("README.md"), [2]);
  });

  it("after its own resume, sends every admitted guest the tree and forgets those gone meanwhile", async () => {
    const { peer, files } = await setup();
    peer.deliver(2, "open", { path: "README.md" });
    peer.deliver(3, "open", { path: "README.md" });
    await sent(peer, files);
    const peers = [peerObject(1), peerObject(2), peerObject(4, { read_only: true }), peerObject(5, { state: "away" })];
    peer.emit("welcome", welcomeFrame({ peer_id: 1, role: "host", state: "admitted", resumed: true, peers }));
    const out = await sent(peer, files);
    assert.deepEqual(out.map((item) => [item.type, item.to]), [
      ["opens", undefined],
      ["tree", 2],
      ["tree", 4],
    ]);
    assert.deepEqual(out[0]?.fields, { opens: { "2": ["README.md"] } });
    assert.equal(files.isReadOnly(4), true);
  });

  it("sends the tree to the guests already admitted when created after its first welcome", async () => {
    const peer = hostPeer();
    const files = new HostFiles(peer, { share: "on-demand", keepFiles: false, load: async () => "" });
    files.setEntries(ENTRIES);
    const out = await sent(peer, files);
    assert.deepEqual(out.map((item) => [item.type, item.to]), [["tree", undefined], ["tree", 2], ["tree", 3]]);
  });

  it("wants the host's peer", () => {
    assert.throws(() => new HostFiles(new FakePeer(), { share: "all", keepFiles: false, load: async () => "" }), RangeError);
  });
});

describe("hostile guests", () => {
  it("ignores what only the host sends, bad paths, bad state vectors and garbage updates, and goes on", async () => {
    const { peer, files, events } = await setup();
    peer.deliver(2, "open", { path: "README.md" });
    await sent(peer, files);
    events.length = 0;
    const hostile: [string, Record<string, unknown>, Uint8Array?][] = [
      ["tree", { entries: [["evil", 1, "text"]], share: "all", keep_files: true }],
      ["doc_sync", { path: "README.md", sv: "" }, Y.encodeStateAsUpdate(new Y.Doc())],
      ["opens", { opens: {} }],
      ["refused", { path: "README.md", reason: "read_only" }],
      ["diagnostics", { path: "README.md", diagnostics: [] }],
      ["open", { path: "../../etc/passwd" }],
      ["open", { path: "sub/.Git/config" }],
      ["open", { path: 7 }],
      ["open", {}],
      ["open", { path: "README.md" }, new Uint8Array([255, 255, 255, 255, 255, 255, 255, 255, 255, 255])],
      ["doc_update", { path: "/abs" }, new Uint8Array([0, 0])],
      ["doc_update", { path: "README.md" }, new Uint8Array([255, 255, 255, 255, 255])],
      ["doc_update", { path: "README.md" }, new Uint8Array([1, 1, 200, 1, 0, 4])],
    ];
    for (const [type, fields, body] of hostile) peer.deliver(2, type, fields, body);
    assert.deepEqual(await sent(peer, files), []);
    const ignored = events.filter((entry) => entry.name === "ignored");
    assert.equal(ignored.length, hostile.length);
    assert.ok(ignored.every((entry) => entry.event.sender === 2 && typeof entry.event.problem === "string"));
    assert.deepEqual(
      ignored.slice(0, 5).map((entry) => entry.event.problem),
      ["tree", "doc_sync", "opens", "refused", "diagnostics"].map((type) => `only the host sends ${type}`),
    );
    assert.equal(files.doc("README.md")?.getText("content").toString(), "hello");
    assert.deepEqual([...files.entries.keys()], ["README.md", "big.log", "logo.png", "src/main.ts"]);

    // Still answering.
    peer.deliver(3, "open", { path: "src/main.ts" });
    assert.deepEqual((await sent(peer, files)).map((item) => item.type), ["doc_sync", "opens"]);
  });

  it("ignores types it does not know, and messages after dispose", async () => {
    const { peer, files, events } = await setup();
    peer.deliver(2, "awareness", { path: null });
    peer.deliver(2, "no_such_type", {});
    assert.deepEqual(await sent(peer, files), []);
    files.dispose();
    peer.deliver(2, "hello_app", {});
    assert.deepEqual(await sent(peer, files), []);
    assert.deepEqual(events, []);
  });

  it("survives a load that throws: the file is refused", async () => {
    const { peer, files } = await setup({
      load: async () => {
        throw new Error("disk on fire");
      },
    });
    peer.deliver(2, "open", { path: "README.md" });
    assert.deepEqual((await sent(peer, files)).map((item) => item.fields), [{ path: "README.md", reason: "not_text" }]);
  });

  it("says so when a message is too large to send", async () => {
    const { peer, files, events } = await setup();
    peer.send = async () => {
      throw new RangeError("a doc_sync message of 2000000 bytes is over the frame limit");
    };
    peer.deliver(2, "open", { path: "README.md" });
    await files.idle();
    const unsent = events.find((entry) => entry.name === "unsent");
    assert.deepEqual(unsent?.event, { type: "doc_sync", path: "README.md", problem: "a doc_sync message of 2000000 bytes is over the frame limit" });
  });
});

describe("a host and real guests through a relay", () => {
  async function session(): Promise<{ relay: FakeRelay; host: HostFiles; guests: GuestFiles[] }> {
    const relay = new FakeRelay();
    const hostPeer = relay.add(1);
    const guestPeers = [relay.add(2), relay.add(3)];
    const host = new HostFiles(hostPeer, { share: "on-demand", keepFiles: false, load: async (path) => FILES[path] ?? null });
    host.setEntries(ENTRIES);
    const guests = guestPeers.map((peer) => new GuestFiles(peer, "test", ["awareness", "diagnostics"]));
    await relay.settle();
    for (const guest of guests) guest.open("README.md");
    await relay.settle();
    return { relay, host, guests };
  }

  function texts(host: HostFiles, guests: GuestFiles[], path = "README.md"): string[] {
    return [host.doc(path), ...guests.map((guest) => guest.doc(path))].map((doc) => doc!.getText("content").toString());
  }

  it("brings every guest level, and converges under concurrent edits", async () => {
    const { relay, host, guests } = await session();
    assert.deepEqual(texts(host, guests), ["hello", "hello", "hello"]);
    assert.deepEqual([...host.opens], [[2, ["README.md"]], [3, ["README.md"]]]);
    assert.deepEqual([...guests[0]!.opens], [[2, ["README.md"]], [3, ["README.md"]]]);
    host.doc("README.md")!.getText("content").insert(0, "[host]");
    guests[0]!.doc("README.md")!.getText("content").insert(5, "[two]");
    guests[1]!.doc("README.md")!.getText("content").delete(1, 2);
    guests[1]!.doc("README.md")!.getText("content").insert(0, "[three]");
    await relay.settle();
    const [first, ...rest] = texts(host, guests);
    for (const text of rest) assert.equal(text, first);
    for (const piece of ["[host]", "[two]", "[three]"]) assert.ok(first!.includes(piece), first);
    assert.ok(!first!.includes("el"), first);
  });

  it("converges after a guest edits while disconnected and resumes", async () => {
    const { relay, host, guests } = await session();
    const away = relay.peers.get(3)!;
    away.connected = false;
    guests[1]!.doc("README.md")!.getText("content").insert(5, " from afar");
    host.doc("README.md")!.getText("content").insert(0, "Oh, ");
    await relay.settle();
    assert.notEqual(texts(host, guests)[2], texts(host, guests)[0]);
    away.connected = true;
    away.emit("resumed", { peers: [] });
    await relay.settle();
    assert.deepEqual(texts(host, guests), Array(3).fill("Oh, hello from afar"));
  });

  it("converges after the host resumes: guests open again", async () => {
    const { relay, host, guests } = await session();
    const hostPeer = relay.peers.get(1)!;
    hostPeer.connected = false;
    guests[0]!.doc("README.md")!.getText("content").insert(5, ", world");
    host.doc("README.md")!.getText("content").insert(0, ">");
    await relay.settle();
    hostPeer.connected = true;
    const peers = [1, 2, 3].map((peerId) => peerObject(peerId));
    hostPeer.emit("welcome", welcomeFrame({ peer_id: 1, role: "host", state: "admitted", resumed: true, peers }));
    for (const peerId of [2, 3]) relay.peers.get(peerId)!.emit("host_back", { peer: peerInfo(peerObject(1)) });
    await relay.settle();
    assert.deepEqual(texts(host, guests), Array(3).fill(">hello, world"));
  });

  it("keeps a read-only guest's edits out everywhere", async () => {
    const { relay, host, guests } = await session();
    relay.setReadOnly(3, true);
    const unsent: string[] = [];
    guests[1]!.on("unsent", ({ problem }) => unsent.push(problem));
    guests[1]!.doc("README.md")!.getText("content").insert(0, "sneaky ");
    // A client that sends anyway: the relay passes its unicast to the host only.
    const edit = Y.encodeStateAsUpdate(guests[1]!.doc("README.md")!);
    const refused: string[] = [];
    guests[1]!.on("refused", ({ reason }) => refused.push(reason));
    void relay.peers.get(3)!.send({ type: "doc_update", fields: { path: "README.md" }, body: edit }, 1);
    void relay.peers.get(3)!.send({ type: "doc_update", fields: { path: "README.md" }, body: edit }, 1);
    await relay.settle();
    assert.deepEqual(texts(host, guests).slice(0, 2), ["hello", "hello"]);
    assert.equal(unsent.length, 1);
    assert.deepEqual(refused, ["read_only"]);
  });
});
