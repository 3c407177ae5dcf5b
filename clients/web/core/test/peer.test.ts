// The Peer against a fake server: hello, events, sending, closes, and resuming
// with back-off after a drop (docs/protocol.md §5, §7, §8).

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { Peer, SessionClosedError, reconnectDelay, DEFAULT_POLICY, type PeerEvents, type PeerOptions } from "../peer.js";
import { FakeClock, fakeWebSocket, LINK, peerObject, Relay, until, welcome, type FakeSocket } from "./helpers.js";

interface Setup {
  peer: Peer;
  sockets: FakeSocket[];
  clock: FakeClock;
  relay: Relay;
  events: { name: keyof PeerEvents; event: unknown }[];
  socket: () => FakeSocket;
}

const EVENT_NAMES: (keyof PeerEvents)[] = [
  "status", "welcome", "lobby", "admitted", "resumed", "reconnecting", "join_request", "peer_joined",
  "peer_left", "peer_away", "peer_back", "host_joined", "host_away", "host_back", "read_only",
  "server_error", "license_full", "session_ended", "denied", "removed", "closed", "decrypt_error",
  "protocol_error", "message",
];

async function setup(options: Partial<PeerOptions> = {}): Promise<Setup> {
  const { WebSocket, sockets } = fakeWebSocket();
  const clock = new FakeClock();
  const peer = new Peer({ link: LINK, name: "  Ada  ", WebSocket, clock, random: () => 0.5, ...options });
  const events: Setup["events"] = [];
  for (const name of EVENT_NAMES) peer.on(name, (event) => events.push({ name, event }));
  return { peer, sockets, clock, relay: await Relay.create(), events, socket: () => sockets.at(-1)! };
}

function names(events: Setup["events"]): string[] {
  return events.map((entry) => entry.name);
}

/** A guest peer welcomed into the lobby, then admitted. */
async function admitted(options: Partial<PeerOptions> = {}): Promise<Setup> {
  const s = await setup(options);
  const started = s.peer.start();
  s.socket().open();
  s.socket().text(welcome());
  await started;
  s.socket().text({ type: "admitted", peers: [peerObject(1), peerObject(2)] });
  await until(() => s.peer.status === "admitted");
  return s;
}

describe("connecting", () => {
  it("says hello as a guest, trimmed name and client, on the session's WebSocket", async () => {
    const s = await setup();
    void s.peer.start();
    assert.equal(s.socket().url, `wss://ct.example.com/ws/v1/sessions/${LINK.sessionId}`);
    assert.equal(s.socket().binaryType, "arraybuffer");
    s.socket().open();
    await until(() => s.socket().sent.length === 1);
    assert.deepEqual(s.socket().controls, [{ type: "hello", role: "guest", name: "Ada", client: "ctserver-web/0.1" }]);
  });

  it("says hello as the host with its secret", async () => {
    const s = await setup({ hostSecret: "host-secret" });
    void s.peer.start();
    s.socket().open();
    await until(() => s.socket().sent.length === 1);
    assert.equal(s.socket().controls[0]?.role, "host");
    assert.equal(s.socket().controls[0]?.host_secret, "host-secret");
  });

  it("refuses a name the server would refuse, before connecting", () => {
    const { WebSocket } = fakeWebSocket();
    assert.throws(() => new Peer({ link: LINK, name: "  ", WebSocket }), RangeError);
    assert.throws(() => new Peer({ link: LINK, name: "a\u202eb", WebSocket }), RangeError);
    assert.throws(() => new Peer({ link: LINK, name: "x".repeat(65), WebSocket }), RangeError);
  });

  it("waits in the lobby, then is admitted", async () => {
    const s = await admitted();
    assert.deepEqual(names(s.events).filter((name) => name !== "status"), ["welcome", "lobby", "admitted"]);
    assert.deepEqual(
      s.events.filter((entry) => entry.name === "status").map((entry) => (entry.event as { status: string }).status),
      ["lobby", "admitted"],
    );
    assert.equal(s.peer.peerId, 2);
    assert.deepEqual([...s.peer.peers.keys()], [1, 2]);
    assert.equal(s.peer.hostPresent, true);
  });

  it("rejects start() when the first connection fails, as server unreachable", async () => {
    const s = await setup();
    const started = s.peer.start();
    s.socket().drop(1006);
    await assert.rejects(started, (error: unknown) => {
      assert.ok(error instanceof SessionClosedError);
      assert.equal(error.closed.status, "server_unreachable");
      return true;
    });
    assert.equal(s.sockets.length, 1, "no retry before any welcome");
  });

  it("gives up on a server that accepts and never welcomes", async () => {
    const s = await setup();
    const started = s.peer.start();
    s.socket().open();
    s.clock.advance(DEFAULT_POLICY.welcomeTimeoutMs);
    await assert.rejects(started, SessionClosedError);
    assert.equal(s.peer.status, "server_unreachable");
    assert.equal(s.socket().closedByClient?.code, 1000);
  });

  it("ends at once, saying why, when it cannot encrypt (no WebCrypto, or a bad key)", async () => {
    const s = await setup({ link: { ...LINK, key: new Uint8Array(16) } });
    await assert.rejects(s.peer.start(), /client failed: Error: a session key has 32 bytes/);
    assert.equal(s.peer.closed?.code, 1011);
  });

  it("turns a constructor that throws into server unreachable", async () => {
    class Refusing {
      constructor() {
        throw new Error("blocked");
      }
    }
    const peer = new Peer({ link: LINK, name: "Ada", WebSocket: Refusing as never });
    await assert.rejects(peer.start(), /Cannot reach the server/);
  });
});

describe("events", () => {
  it("reports presence, join requests, errors and the host's comings and goings", async () => {
    const s = await admitted({ hostSecret: undefined });
    s.events.length = 0;
    const socket = s.socket();
    socket.text({ type: "presence", event: "admitted", peer: peerObject(3) });
    socket.text({ type: "presence", event: "away", peer: peerObject(3, { state: "away" }) });
    socket.text({ type: "presence", event: "back", peer: peerObject(3) });
    socket.text({ type: "presence", event: "host_away", peer: peerObject(1, { state: "away" }) });
    await until(() => s.events.length === 4);
    assert.equal(s.peer.hostPresent, false);
    socket.text({ type: "presence", event: "host_back", peer: peerObject(1) });
    socket.text({ type: "presence", event: "read_only", peer: peerObject(2, { read_only: true }) });
    socket.text({ type: "presence", event: "removed", peer: peerObject(3) });
    socket.text({ type: "presence", event: "a_future_event", peer: peerObject(3) });
    socket.text({ type: "a_future_frame" });
    socket.text({ type: "error", code: "read_only", message: "read-only guests may only write to the host", ref: null });
    await until(() => s.events.length === 8);
    assert.deepEqual(names(s.events), [
      "peer_joined", "peer_away", "peer_back", "host_away", "host_back", "read_only", "peer_left", "server_error",
    ]);
    assert.equal(s.peer.hostPresent, true);
    assert.equal(s.peer.readOnly, true);
    assert.deepEqual(s.events[5]?.event, { peer: s.peer.peers.get(2), self: true });
    assert.equal((s.events[6]?.event as { how: string }).how, "removed");
    assert.equal(s.peer.peers.has(3), false);
    assert.equal(s.peer.status, "admitted");
  });

  it("tells the host when an admit found no licensed place", async () => {
    const s = await setup({ hostSecret: "h" });
    void s.peer.start();
    s.socket().open();
    s.socket().text(welcome({ peer_id: 1, role: "host", state: "admitted", peers: [peerObject(1)] }));
    s.socket().text({ type: "join_request", peer: peerObject(2, { state: "lobby" }) });
    s.socket().text({ type: "error", code: "license_full", message: "no place", ref: "admit" });
    await until(() => names(s.events).includes("license_full"));
    assert.ok(names(s.events).includes("join_request"));
    assert.ok(s.peer.admit(2));
    assert.deepEqual(s.socket().controls.at(-1), { type: "admit", peer: 2 });
    assert.ok(s.peer.setReadOnly(2, true));
    assert.deepEqual(s.socket().controls.at(-1), { type: "set_read_only", peer: 2, read_only: true });
  });

  it("delivers decrypted messages with their sender, and reports ones that do not decrypt", async () => {
    const s = await admitted();
    const stranger = await Relay.create(new Uint8Array(32).fill(9));
    s.socket().data(await stranger.frame(1, { type: "message", fields: { text: "?" }, body: new Uint8Array(0) }));
    s.socket().data(await s.relay.frame(1, { type: "message", fields: { text: "hi" }, body: new Uint8Array([1, 2]) }, 1));
    s.socket().data(await stranger.frame(3, { type: "message", fields: {}, body: new Uint8Array(0) }));
    await until(() => names(s.events).filter((name) => name === "decrypt_error").length === 2);
    const [first, second] = s.events.filter((entry) => entry.name === "decrypt_error").map((entry) => entry.event);
    assert.deepEqual(first, { sender: 1, problem: "a frame from peer 1 does not decrypt", likelyWrongKey: true });
    assert.equal((second as { likelyWrongKey: boolean }).likelyWrongKey, false);
    const message = s.events.find((entry) => entry.name === "message")?.event;
    assert.deepEqual(message, { type: "message", fields: { text: "hi" }, body: new Uint8Array([1, 2]), sender: 1, broadcast: false });
    assert.ok(s.peer.keyConfirmed);
  });
});

describe("sending", () => {
  it("encrypts as itself, broadcast or unicast, in the order asked", async () => {
    const s = await admitted();
    const sends = [];
    for (let i = 0; i < 20; i++) {
      sends.push(s.peer.send({ type: "message", fields: { n: i }, body: new Uint8Array(i) }, i % 2 ? 1 : undefined));
    }
    assert.deepEqual(await Promise.all(sends), Array(20).fill(true));
    const frames = await Promise.all(s.socket().binaries.map((frame) => s.relay.read(frame, 2)));
    assert.deepEqual(frames.map((frame) => frame.message.fields.n), [...Array(20).keys()]);
    assert.deepEqual(frames.slice(0, 2).map((frame) => [frame.kind, frame.target]), [[0, 0], [1, 1]]);
  });

  it("sends nothing while in the lobby or disconnected", async () => {
    const s = await setup();
    const message = { type: "message", fields: {}, body: new Uint8Array(0) };
    assert.equal(await s.peer.send(message), false);
    void s.peer.start();
    s.socket().open();
    s.socket().text(welcome());
    await until(() => s.peer.status === "lobby");
    assert.equal(await s.peer.send(message), false);
    assert.equal(s.socket().binaries.length, 0);
  });

  it("refuses a message over the frame limit instead of being closed for it", async () => {
    const s = await admitted({ maxFrameBytes: 1000 });
    await assert.rejects(s.peer.send({ type: "doc_update", fields: {}, body: new Uint8Array(1000) }), RangeError);
    assert.equal(await s.peer.send({ type: "doc_update", fields: {}, body: new Uint8Array(10) }), true);
  });

  it("ends the session as the host only", async () => {
    const guest = await admitted();
    await guest.peer.end();
    assert.equal(guest.socket().controls.some((frame) => frame.type === "end"), false);
    const s = await setup({ hostSecret: "h" });
    void s.peer.start();
    s.socket().open();
    s.socket().text(welcome({ peer_id: 1, role: "host", state: "admitted", peers: [peerObject(1)] }));
    await until(() => s.peer.status === "admitted");
    const ended = s.peer.end();
    await until(() => s.socket().controls.at(-1)?.type === "end");
    s.socket().text({ type: "ended", reason: "host_ended" });
    s.socket().drop(4005);
    await ended;
    assert.equal(s.peer.status, "session_ended");
  });

  it("leaves with a leave frame and ends as left", async () => {
    const s = await admitted();
    const left = s.peer.leave();
    await until(() => s.socket().controls.at(-1)?.type === "leave");
    s.socket().drop(1000);
    await left;
    assert.equal(s.peer.status, "left");
    s.clock.advance(100_000);
    assert.equal(s.sockets.length, 1);
  });
});

describe("closes", () => {
  const finals: [number, string][] = [
    [4003, "not_authenticated"], [4005, "session_ended"], [4006, "denied"], [4007, "removed"],
    [4011, "session_full"], [4013, "replaced"], [4015, "lobby_timeout"], [4016, "retry_later"],
    [4017, "license_full"], [4018, "no_license"], [4000, "refused"], [4010, "refused"],
  ];
  for (const [code, status] of finals) {
    it(`ends for good on ${code} as ${status}`, async () => {
      const s = await admitted();
      s.socket().drop(code);
      await until(() => s.peer.closed !== null);
      assert.equal(s.peer.status, status);
      assert.equal(s.peer.closed?.code, code);
      s.clock.advance(100_000);
      assert.equal(s.sockets.length, 1, "no reconnect");
    });
  }

  it("says why in words, with the message of the error frame before the close", async () => {
    const s = await admitted();
    s.socket().text({ type: "error", code: "license_full", message: "all 5 places are taken", ref: null });
    s.socket().drop(4017);
    await until(() => s.peer.closed !== null);
    assert.deepEqual(s.peer.closed, {
      code: 4017,
      reason: "all 5 places are taken",
      status: "license_full",
      words: "Every connection the server's license allows is in use; try again when someone leaves",
    });
  });

  it("reports the session's end, then closes", async () => {
    const s = await admitted();
    s.socket().text({ type: "ended", reason: "host_ended" });
    s.socket().drop(4005);
    await until(() => s.peer.closed !== null);
    assert.deepEqual(names(s.events).slice(-3), ["session_ended", "status", "closed"]);
    assert.deepEqual(s.events.find((entry) => entry.name === "session_ended")?.event, { reason: "host_ended" });
  });

  it("says denied and removed as events of their own", async () => {
    for (const [code, name] of [[4006, "denied"], [4007, "removed"]] as const) {
      const s = await admitted();
      s.socket().drop(code);
      await until(() => s.peer.closed !== null);
      assert.ok(names(s.events).includes(name));
    }
  });

  it("closes without retrying when the client closes", async () => {
    const s = await admitted();
    s.peer.close();
    assert.equal(s.peer.status, "closed");
    assert.equal(s.socket().closedByClient?.code, 1000);
    s.clock.advance(100_000);
    assert.equal(s.sockets.length, 1);
  });
});

describe("resuming", () => {
  it("backs off exponentially with jitter, up to the maximum", () => {
    const delays = [0, 1, 2, 3, 4, 5, 6].map((attempt) => reconnectDelay(DEFAULT_POLICY, attempt, () => 0.5));
    assert.deepEqual(delays, [200, 400, 800, 1600, 3200, 5000, 5000]);
    assert.equal(reconnectDelay(DEFAULT_POLICY, 0, () => 0), 160);
    assert.equal(reconnectDelay(DEFAULT_POLICY, 0, () => 0.999999) < 240, true);
  });

  it("resumes after a drop with the latest peer secret, and says so", async () => {
    const s = await admitted();
    s.socket().drop(1006);
    await until(() => s.peer.status === "reconnecting");
    assert.deepEqual(s.events.find((entry) => entry.name === "reconnecting")?.event, {
      code: 1006, reason: "", attempt: 0, delayMs: 200,
    });
    s.clock.advance(199);
    assert.equal(s.sockets.length, 1);
    s.clock.advance(1);
    assert.equal(s.sockets.length, 2);
    s.socket().open();
    await until(() => s.socket().sent.length === 1);
    assert.deepEqual(s.socket().controls[0]?.resume, { peer_id: 2, peer_secret: "secret-2" });
    s.socket().text(welcome({ state: "admitted", resumed: true, peer_secret: "secret-3", peers: [peerObject(1), peerObject(2)] }));
    await until(() => s.peer.status === "admitted");
    assert.ok(names(s.events).includes("resumed"));
    // The next drop resumes with the newest secret, from the first delay again.
    s.socket().drop(1012);
    await until(() => s.peer.status === "reconnecting");
    s.clock.advance(200);
    s.socket().open();
    await until(() => s.socket().sent.length === 1);
    assert.equal(s.socket().controls[0]?.resume.peer_secret, "secret-3");
  });

  it("retries on the closes that allow it, longer each time, and gives up after the grace", async () => {
    const s = await admitted();
    const delays: number[] = [];
    s.peer.on("reconnecting", ({ delayMs }) => delays.push(delayMs));
    s.socket().drop(1011);
    for (const code of [1013, 4008, 1001, 1006, 1006, 1006, 1006, 1006]) {
      await until(() => delays.length > 0);
      s.clock.advance(delays.at(-1)!);
      const before = delays.length;
      s.socket().drop(code); // the new connection fails at once
      await until(() => delays.length > before);
    }
    assert.deepEqual(delays, [200, 400, 800, 1600, 3200, 5000, 5000, 5000, 5000]);
    // 29.2 s have passed since the drop; past 60 s, the next failure ends it.
    while (s.peer.closed === null) {
      s.clock.advance(delays.at(-1)!);
      const before = delays.length;
      s.socket().drop(1006);
      await until(() => delays.length > before || s.peer.closed !== null);
    }
    assert.equal(s.peer.status, "server_unreachable");
    assert.match(s.peer.closed!.reason, /could not reconnect within 60 s/);
    assert.ok(s.clock.now() > 60_000 && s.clock.now() < 66_000);
  });

  it("stops at a final close while resuming (the grace ran out)", async () => {
    const s = await admitted();
    s.socket().drop(1006);
    await until(() => s.clock.pending.length > 0);
    s.clock.advance(s.clock.pending[0]!);
    s.socket().open();
    s.socket().text({ type: "error", code: "not_authenticated", message: "resume expired", ref: "hello" });
    s.socket().drop(4003);
    await until(() => s.peer.closed !== null);
    assert.equal(s.peer.status, "not_authenticated");
    assert.equal(s.peer.closed?.reason, "resume expired");
  });
});
