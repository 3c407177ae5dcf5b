// What the tests share: a fake WebSocket and server side, a fake clock, a fake
// session peer, and the test vectors.

import { readFileSync } from "node:fs";

import { toBase64Url } from "../bytes.js";
import { parseControl, type PeerInfo, type Role } from "../control.js";
import { SessionCipher } from "../crypto.js";
import { Emitter } from "../emitter.js";
import type { SessionPeer } from "../files.js";
import type { JoinLink } from "../link.js";
import { decodeAppMessage, encodeAppMessage, type AppMessage, type ReceivedMessage } from "../messages.js";
import type { Clock, PeerEvents } from "../peer.js";
import type { SocketCloseEvent, SocketMessageEvent, WebSocketConstructor, WebSocketLike } from "../socket.js";
import type { PeerStatus } from "../status.js";

export const KEY = new Uint8Array(32).map((_, i) => i + 1);
export const SESSION_ID = "x3Jb0pQ1sW9mZk2Lr7yTvA";
export const LINK: JoinLink = { serverUrl: "https://ct.example.com", sessionId: SESSION_ID, key: KEY };
export const LINK_TEXT = `https://ct.example.com/join/${SESSION_ID}#${toBase64Url(KEY)}`;

export function vectors(name = "vectors.json"): any {
  return JSON.parse(readFileSync(new URL(`../../../../test-vectors/${name}`, import.meta.url), "utf8"));
}

export function hex(text: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array((text.match(/../g) ?? []).map((pair) => parseInt(pair, 16)));
}

/** Resolves once `check` holds (polled between macrotasks), or rejects after `ms`. */
export async function until(check: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((resolve) => setImmediate(resolve));
  }
}

type Listener = (event: never) => void;

/** One fake connection: the test plays the server through `open`, `text`, `data`, `drop`. */
export class FakeSocket implements WebSocketLike {
  binaryType = "blob";
  readyState = 0;
  readonly sent: (string | Uint8Array)[] = [];
  closedByClient: { code?: number | undefined; reason?: string | undefined } | null = null;
  private readonly listeners = new Map<string, Listener[]>();

  constructor(readonly url: string) {}

  addEventListener(type: string, listener: (event: any) => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }

  private fire(type: string, event: unknown): void {
    for (const listener of this.listeners.get(type) ?? []) (listener as (event: unknown) => void)(event);
  }

  send(data: string | Uint8Array): void {
    if (this.readyState !== 1) throw new Error("not open");
    this.sent.push(data);
  }

  close(code?: number, reason?: string): void {
    this.closedByClient = { code, reason };
    if (this.readyState === 3) return;
    this.readyState = 3;
    queueMicrotask(() => this.fire("close", { code: code ?? 1005, reason: reason ?? "" } satisfies SocketCloseEvent));
  }

  // -- the server's side --

  open(): void {
    this.readyState = 1;
    this.fire("open", {});
  }

  text(value: unknown): void {
    this.fire("message", { data: typeof value === "string" ? value : JSON.stringify(value) } satisfies SocketMessageEvent);
  }

  data(bytes: Uint8Array): void {
    const copy = new Uint8Array(bytes);
    this.fire("message", { data: copy.buffer } satisfies SocketMessageEvent);
  }

  raw(data: unknown): void {
    this.fire("message", { data });
  }

  drop(code = 1006, reason = ""): void {
    this.readyState = 3;
    this.fire("close", { code, reason } satisfies SocketCloseEvent);
  }

  /** The control frames the client sent, parsed. */
  get controls(): Record<string, any>[] {
    return this.sent.filter((item): item is string => typeof item === "string").map((item) => JSON.parse(item));
  }

  get binaries(): Uint8Array[] {
    return this.sent.filter((item): item is Uint8Array => typeof item !== "string");
  }
}

/** A WebSocket constructor that records every socket it makes. */
export function fakeWebSocket(): { WebSocket: WebSocketConstructor; sockets: FakeSocket[] } {
  const sockets: FakeSocket[] = [];
  class Socket extends FakeSocket {
    constructor(url: string) {
      super(url);
      sockets.push(this);
    }
  }
  return { WebSocket: Socket, sockets };
}

export function peerObject(peerId: number, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    peer_id: peerId,
    name: peerId === 1 ? "Host" : `Guest ${peerId}`,
    role: peerId === 1 ? "host" : "guest",
    state: "admitted",
    read_only: false,
    ...overrides,
  };
}

export function welcome(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: "welcome",
    peer_id: 2,
    peer_secret: "secret-2",
    role: "guest",
    state: "lobby",
    resumed: false,
    session: { session_id: SESSION_ID, auto_admit: false, host_present: true },
    peers: [peerObject(1)],
    ...overrides,
  };
}

/** The server's side of the encryption: frames from a peer, and reading what one sent. */
export class Relay {
  private constructor(private readonly cipher: SessionCipher) {}

  static async create(key: Uint8Array = KEY, sessionId = SESSION_ID): Promise<Relay> {
    return new Relay(await SessionCipher.create(key, sessionId));
  }

  /** A server-to-client data frame from `sender`. */
  async frame(sender: number, message: AppMessage, kind = 0): Promise<Uint8Array> {
    const payload = await this.cipher.encrypt(sender, encodeAppMessage(message.type, message.fields, message.body));
    const frame = new Uint8Array(6 + payload.length);
    frame.set([1, kind, sender >>> 24, (sender >>> 16) & 255, (sender >>> 8) & 255, sender & 255]);
    frame.set(payload, 6);
    return frame;
  }

  /** What a client sent (as `sender`): its route and message. */
  async read(frame: Uint8Array, sender: number): Promise<{ kind: number; target: number; message: AppMessage }> {
    const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
    const plaintext = await this.cipher.decrypt(sender, frame.subarray(6));
    const decoded = decodeAppMessage(plaintext);
    if (!decoded.ok) throw new Error(decoded.problem);
    return { kind: view.getUint8(1), target: view.getUint32(2), message: decoded.message };
  }
}

/** A clock whose time moves only when the test says. */
export class FakeClock implements Clock {
  time = 0;
  private timers: { at: number; callback: () => void; id: number }[] = [];
  private nextId = 1;

  now(): number {
    return this.time;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.push({ at: this.time + ms, callback, id });
    return id;
  }

  clearTimeout(timer: unknown): void {
    this.timers = this.timers.filter((entry) => entry.id !== timer);
  }

  get pending(): number[] {
    return this.timers.map((entry) => entry.at - this.time);
  }

  advance(ms: number): void {
    const until = this.time + ms;
    for (;;) {
      const due = this.timers.filter((entry) => entry.at <= until).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      this.timers = this.timers.filter((entry) => entry !== due);
      this.time = due.at;
      due.callback();
    }
    this.time = until;
  }
}

/** A stand-in for a Peer: events are emitted by the test, sends are recorded. */
export class FakePeer extends Emitter<PeerEvents> implements SessionPeer {
  peerId = 2;
  role: Role = "guest";
  status: PeerStatus = "admitted";
  readOnly = false;
  connected = true;
  readonly peers = new Map<number, PeerInfo>();
  readonly sent: { message: AppMessage; to: number | undefined }[] = [];

  async send(message: AppMessage, to?: number): Promise<boolean> {
    if (!this.connected) return false;
    this.sent.push({ message, to });
    return true;
  }

  deliver(sender: number, type: string, fields: Record<string, unknown> = {}, body: Uint8Array = new Uint8Array(0)): void {
    const message: ReceivedMessage = { type, fields, body, sender, broadcast: true };
    this.emit("message", message);
  }

  setPeer(peer: Record<string, unknown>): void {
    const info = peerInfo(peer);
    this.peers.set(info.peerId, info);
  }

  take(): { message: AppMessage; to: number | undefined }[] {
    return this.sent.splice(0);
  }
}

/** A peer object (§5.2) as Peer has it. */
export function peerInfo(peer: Record<string, unknown>): PeerInfo {
  const parsed = parseControl(JSON.stringify({ type: "join_request", peer }));
  if (parsed.kind !== "frame" || parsed.frame.type !== "join_request") throw new Error("bad peer");
  return parsed.frame.peer;
}

/** A welcome frame (§5.2) as Peer emits it. */
export function welcomeFrame(overrides: Record<string, unknown> = {}): PeerEvents["welcome"] {
  const parsed = parseControl(JSON.stringify(welcome(overrides)));
  if (parsed.kind !== "frame" || parsed.frame.type !== "welcome") throw new Error("bad welcome");
  return parsed.frame;
}

/** Fake peers wired together as the relay wires them (§7): a message reaches its
 *  target, or every other connected peer, stamped with its sender's peer id, and
 *  each sender's messages arrive in the order sent. A read-only guest's messages
 *  to anyone but the host are dropped, as the server drops them. */
export class FakeRelay {
  readonly peers = new Map<number, FakePeer>();
  /** What the relay refused to pass on (a read-only guest's broadcasts). */
  readonly dropped: { sender: number; message: AppMessage }[] = [];

  /** A new admitted peer; peer 1 is the host. Every peer's roster lists it. */
  add(peerId: number, readOnly = false): FakePeer {
    const peer = new FakePeer();
    peer.peerId = peerId;
    peer.role = peerId === 1 ? "host" : "guest";
    peer.readOnly = readOnly;
    this.peers.set(peerId, peer);
    this.roster();
    return peer;
  }

  /** The server's `set_read_only`: the flag changes everywhere, with a `read_only` event. */
  setReadOnly(peerId: number, readOnly: boolean): void {
    const target = this.peers.get(peerId)!;
    target.readOnly = readOnly;
    this.roster();
    for (const peer of this.peers.values()) {
      peer.emit("read_only", { peer: peer.peers.get(peerId)!, self: peer === target });
    }
  }

  private roster(): void {
    for (const peer of this.peers.values()) {
      for (const [peerId, other] of this.peers) {
        peer.setPeer(peerObject(peerId, { read_only: other.readOnly }));
      }
    }
  }

  /** Delivers what the peers send, round after round, until none sends any more. */
  async settle(): Promise<void> {
    for (let round = 0; round < 1000; round++) {
      await new Promise((resolve) => setImmediate(resolve));
      const outgoing = [...this.peers].map(([sender, peer]) => ({ sender, sent: peer.take() }));
      if (outgoing.every(({ sent }) => sent.length === 0)) return;
      for (const { sender, sent } of outgoing) {
        for (const { message, to } of sent) this.route(sender, message, to);
      }
    }
    throw new Error("the peers never went quiet");
  }

  private route(sender: number, message: AppMessage, to: number | undefined): void {
    if (this.peers.get(sender)?.readOnly && to !== 1) {
      this.dropped.push({ sender, message });
      return;
    }
    for (const [peerId, peer] of this.peers) {
      if (peerId === sender || !peer.connected || (to !== undefined && to !== peerId)) continue;
      peer.emit("message", { ...message, sender, broadcast: to === undefined });
    }
  }
}
