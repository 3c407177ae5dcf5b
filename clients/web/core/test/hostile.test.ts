// A hostile or broken server must not crash the client: whatever it sends, no
// exception escapes the Peer; malformed frames end the connection as a typed
// protocol error (docs/protocol.md §5, §7).

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";

import { Emitter } from "../emitter.js";
import { Peer } from "../peer.js";
import { FakeClock, fakeWebSocket, LINK, peerObject, Relay, until, welcome } from "./helpers.js";

// A deterministic pseudo-random sequence (mulberry32), so that a failure repeats.
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SAMPLES: unknown[] = [
  null, true, false, 0, -1, 1.5, 2 ** 32, 2 ** 53, "", "x", "\u0000", "\ud800", [], [1], {}, { a: 1 },
  "__proto__", "admitted", "host", "lobby", 1, 2,
];

function randomValue(next: () => number, depth = 0): unknown {
  const choice = next();
  if (depth > 3 || choice < 0.6) return SAMPLES[Math.floor(next() * SAMPLES.length)];
  if (choice < 0.8) return Array.from({ length: Math.floor(next() * 4) }, () => randomValue(next, depth + 1));
  return Object.fromEntries(
    Array.from({ length: Math.floor(next() * 4) }, () => [String(SAMPLES[Math.floor(next() * SAMPLES.length)]), randomValue(next, depth + 1)]),
  );
}

/** A valid frame with one member (at any depth) replaced by something random. */
function mutated(frame: Record<string, unknown>, next: () => number): Record<string, unknown> {
  const copy = structuredClone(frame);
  let target: Record<string, unknown> = copy;
  for (;;) {
    const keys = Object.keys(target);
    const key = keys[Math.floor(next() * keys.length)]!;
    const value = target[key];
    if (typeof value === "object" && value !== null && next() < 0.5) {
      target = (Array.isArray(value) ? value[0] ?? {} : value) as Record<string, unknown>;
      continue;
    }
    if (next() < 0.2) delete target[key];
    else target[key] = randomValue(next);
    return copy;
  }
}

const VALID: Record<string, unknown>[] = [
  welcome({ state: "admitted", peers: [peerObject(1), peerObject(2)] }),
  { type: "admitted", peers: [peerObject(1), peerObject(2)] },
  { type: "join_request", peer: peerObject(3, { state: "lobby" }) },
  { type: "presence", event: "left", peer: peerObject(3) },
  { type: "presence", event: "read_only", peer: peerObject(2, { read_only: true }) },
  { type: "error", code: "read_only", message: "m", ref: null },
  { type: "ended", reason: "idle" },
];

/** A welcomed, admitted guest; the test then plays a hostile server. */
async function victim(): Promise<{ peer: Peer; send: (data: unknown) => void; binary: (data: Uint8Array) => void }> {
  const { WebSocket, sockets } = fakeWebSocket();
  const peer = new Peer({ link: LINK, name: "Ada", WebSocket, clock: new FakeClock() });
  const started = peer.start();
  sockets[0]!.open();
  sockets[0]!.text(welcome({ state: "admitted", peers: [peerObject(1), peerObject(2)] }));
  await started;
  return { peer, send: (data) => sockets[0]!.raw(data), binary: (data) => sockets[0]!.data(data) };
}

/** Lets the peer handle what it was sent (decryption included). */
function settled(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 2));
}

describe("a hostile server", () => {
  it("cannot make anything escape with random text, JSON, or mutated valid frames", async () => {
    const next = random(1);
    const inputs: string[] = [];
    for (let i = 0; i < 150; i++) inputs.push(randomBytes(Math.floor(next() * 64)).toString("latin1"));
    for (let i = 0; i < 150; i++) inputs.push(JSON.stringify(randomValue(next)));
    for (let i = 0; i < 400; i++) inputs.push(JSON.stringify(mutated(VALID[i % VALID.length]!, next)));
    for (const input of inputs) {
      const { peer, send } = await victim();
      send(input);
      await settled();
      const status = peer.status;
      assert.ok(
        ["admitted", "lobby", "protocol_error"].includes(status),
        `${status} after ${JSON.stringify(input).slice(0, 200)}`,
      );
      assert.notEqual(peer.closed?.code, 1011, peer.closed?.reason);
    }
  });

  it("cannot make anything escape with random binary frames", async () => {
    const relay = await Relay.create();
    const next = random(2);
    const frames: Uint8Array[] = [];
    for (let i = 0; i < 200; i++) frames.push(new Uint8Array(randomBytes(Math.floor(next() * 80))));
    for (let i = 0; i < 100; i++) {
      // Valid headers and ciphertext around random plaintexts: a peer's garbage.
      const frame = await relay.frame(1, { type: "x", fields: {}, body: new Uint8Array(0) });
      const garbage = new Uint8Array(randomBytes(Math.floor(next() * 40)));
      frames.push(next() < 0.5 ? frame.map((byte, at) => (at > 5 && at < 10 ? byte ^ 0xff : byte)) : garbage);
    }
    for (const frame of frames) {
      const { peer, binary } = await victim();
      binary(frame);
      await settled();
      assert.ok(["admitted", "protocol_error"].includes(peer.status), `${peer.status} after ${Buffer.from(frame).toString("hex")}`);
    }
  });

  it("ends the connection with a typed protocol error, not an exception", async () => {
    const { peer, send } = await victim();
    const problems: string[] = [];
    peer.on("protocol_error", ({ problem }) => problems.push(problem));
    send('{"type": "welcome", "peer_id": -1}');
    await until(() => peer.closed !== null);
    assert.deepEqual(problems, ["'peer_secret' is not a string in a frame of type \"welcome\""]);
    assert.equal(peer.status, "protocol_error");
    assert.equal(peer.closed?.code, 1002);
  });

  it("ignores a data frame of a later version, and stops at one shorter than its header", async () => {
    const { peer, binary } = await victim();
    binary(new Uint8Array([2, 0, 0, 0, 0, 1, ...new Uint8Array(28)]));
    await settled();
    assert.equal(peer.status, "admitted");
    binary(new Uint8Array([1, 0, 0, 0]));
    await until(() => peer.closed !== null);
    assert.equal(peer.status, "protocol_error");
  });

  it("refuses a message that is neither text nor binary", async () => {
    const { peer, send } = await victim();
    send({ not: "data" });
    await until(() => peer.closed !== null);
    assert.equal(peer.status, "protocol_error");
  });
});

describe("a listener that throws", () => {
  it("stops neither the other listeners nor the peer; its error goes to onListenerError", async () => {
    const { peer, send } = await victim();
    const seen: string[] = [];
    const errors: unknown[] = [];
    peer.onListenerError = (error) => errors.push(error);
    peer.on("peer_joined", () => {
      throw new Error("listener bug");
    });
    peer.on("peer_joined", ({ peer: joined }) => seen.push(joined.name));
    send(JSON.stringify({ type: "presence", event: "admitted", peer: peerObject(3) }));
    send(JSON.stringify({ type: "presence", event: "admitted", peer: peerObject(4) }));
    await until(() => seen.length === 2);
    assert.deepEqual(seen, ["Guest 3", "Guest 4"]);
    assert.equal(errors.length, 2);
    assert.equal(peer.status, "admitted");
  });

  it("is thrown again on its own by default, after the other listeners ran", (t) => {
    t.mock.timers.enable({ apis: ["setTimeout"] });
    const emitter = new Emitter<{ ping: number }>();
    const seen: number[] = [];
    emitter.on("ping", () => {
      throw new Error("listener bug");
    });
    emitter.on("ping", (n) => seen.push(n));
    emitter.emit("ping", 7);
    assert.deepEqual(seen, [7]);
    assert.throws(() => t.mock.timers.tick(1), /listener bug/);
  });
});
