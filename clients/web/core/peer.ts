// A session peer (docs/protocol.md §4-§8): one WebSocket kept alive across drops.
//
// It says hello (or resumes with its peer credentials after a drop, §5.3), turns
// what the server says into typed events, and encrypts every application message
// it sends. Whatever the server sends, nothing it sends makes an exception escape:
// a malformed frame is a `protocol_error` event and ends the connection.
//
// Received frames are handled one at a time, in order (decryption is
// asynchronous, and the relay's order is part of the contract, §10.1); so are
// sent ones, so that two sends leave in the order they were asked for.

import { type Bytes, owned } from "./bytes.js";
import {
  checkText,
  commandFrame,
  helloFrame,
  parseControl,
  type HostCommand,
  type PeerInfo,
  type PresenceEvent,
  type Role,
  type ServerFrame,
  type SessionInfo,
} from "./control.js";
import { DecryptError, SessionCipher } from "./crypto.js";
import { Emitter } from "./emitter.js";
import { decodeDataFrame, encodeDataFrame, BROADCAST, unicast } from "./frames.js";
import { websocketUrl, type JoinLink } from "./link.js";
import { decodeAppMessage, encodeAppMessage, type AppMessage, type ReceivedMessage } from "./messages.js";
import { OPEN, type WebSocketConstructor, type WebSocketLike } from "./socket.js";
import { describe, isFinal, statusForClose, type FinalStatus, type PeerStatus } from "./status.js";

export const CLIENT_NAME = "ctserver-web/0.1";
/** The host is always peer 1 (§2). */
export const HOST_PEER_ID = 1;
/** The server's default CT_MAX_FRAME_BYTES; a larger frame would close the connection (4009). */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;

// Closes after which reconnecting cannot help (§8), as ctclient has them: not 4008
// (too slow: the next connection may keep up), nor 1013 (try again later: retried
// during a session, final at the first connection like any close). 1002, 1007 and
// 1009 are the closes for a connection that broke the WebSocket or ctserver rules.
const FINAL_CLOSE_CODES = new Set([1000, 1002, 1007, 1009, 4000, 4001, 4002, 4003, 4004, 4005, 4006, 4007]);
for (let code = 4009; code <= 4018; code++) FINAL_CLOSE_CODES.add(code);
/** The close code reported when the server's frames break the protocol. */
export const PROTOCOL_ERROR = 1002;
/** The close code reported when a failure inside this client ended the peer. */
export const CLIENT_FAILURE = 1011;
const NO_CLOSE_FRAME = 1006;

/** How a dropped connection is retried: ctclient's ReconnectPolicy, in milliseconds. */
export interface ReconnectPolicy {
  readonly firstDelayMs: number;
  readonly maxDelayMs: number;
  /** The server's default CT_RECONNECT_GRACE: after this long, resuming is refused anyway. */
  readonly giveUpAfterMs: number;
  /** A server that accepts the WebSocket and then says nothing must not hold us forever. */
  readonly welcomeTimeoutMs: number;
}

export const DEFAULT_POLICY: ReconnectPolicy = {
  firstDelayMs: 200,
  maxDelayMs: 5000,
  giveUpAfterMs: 60_000,
  welcomeTimeoutMs: 30_000,
};

/** Exponential back-off with ±20 % jitter; `random` returns a number in [0, 1). */
export function reconnectDelay(policy: ReconnectPolicy, attempt: number, random: () => number = Math.random): number {
  const backoff = Math.min(policy.maxDelayMs, policy.firstDelayMs * 2 ** attempt);
  return backoff * (0.8 + 0.4 * random());
}

export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(timer: unknown): void;
}

export const SYSTEM_CLOCK: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (timer) => clearTimeout(timer as ReturnType<typeof setTimeout> | undefined),
};

export interface PeerOptions {
  readonly link: JoinLink;
  /** The display name others see (§3's rules; trimmed here as the server trims it). */
  readonly name: string;
  readonly WebSocket: WebSocketConstructor;
  /** Makes this peer the host (for tests and host clients). */
  readonly hostSecret?: string | undefined;
  readonly client?: string | undefined;
  readonly policy?: Partial<ReconnectPolicy> | undefined;
  readonly clock?: Clock | undefined;
  readonly random?: (() => number) | undefined;
  readonly maxFrameBytes?: number | undefined;
}

export interface ClosedEvent {
  readonly code: number;
  /** The server's reason, or the message of the `error` frame before the close. */
  readonly reason: string;
  readonly status: FinalStatus;
  /** The status in words, for people. */
  readonly words: string;
}

export type PeerLeftHow = "left" | "removed" | "denied";

export interface PeerEvents {
  status: { readonly status: PeerStatus };
  /** Every welcome: the first, and after each resume. */
  welcome: Extract<ServerFrame, { type: "welcome" }>;
  /** This guest waits in the lobby. */
  lobby: { readonly peers: readonly PeerInfo[] };
  /** The host admitted this guest. */
  admitted: { readonly peers: readonly PeerInfo[] };
  /** A welcome after a drop: application state must be brought level (§5.3). */
  resumed: { readonly peers: readonly PeerInfo[] };
  reconnecting: { readonly code: number; readonly reason: string; readonly attempt: number; readonly delayMs: number };
  join_request: { readonly peer: PeerInfo };
  peer_joined: { readonly peer: PeerInfo };
  peer_left: { readonly peer: PeerInfo; readonly how: PeerLeftHow };
  peer_away: { readonly peer: PeerInfo };
  peer_back: { readonly peer: PeerInfo };
  host_joined: { readonly peer: PeerInfo };
  host_away: { readonly peer: PeerInfo };
  host_back: { readonly peer: PeerInfo };
  read_only: { readonly peer: PeerInfo; readonly self: boolean };
  /** Every `error` frame, fatal (a close follows) or not. */
  server_error: { readonly code: string; readonly message: string; readonly ref: string | null };
  /** To the host: an admit found no licensed place; the guest stays in the lobby (§5.5). */
  license_full: { readonly code: string; readonly message: string };
  session_ended: { readonly reason: string };
  denied: Record<string, never>;
  removed: Record<string, never>;
  closed: ClosedEvent;
  /** A frame that did not decrypt, or did but holds no application message; dropped.
   *  `likelyWrongKey`: nothing has decrypted yet, so the link's key is probably wrong. */
  decrypt_error: { readonly sender: number; readonly problem: string; readonly likelyWrongKey: boolean };
  /** The server sent something the protocol does not allow; the connection ends. */
  protocol_error: { readonly problem: string };
  message: ReceivedMessage;
}

/** `start()` failed: the peer ended before its first welcome. */
export class SessionClosedError extends Error {
  override readonly name = "SessionClosedError";
  constructor(readonly closed: ClosedEvent) {
    super(`${closed.words}${closed.reason ? ` (${closed.reason})` : ""}`);
  }
}

/** One WebSocket connection, from its creation to its close. */
interface Connection {
  readonly socket: WebSocketLike;
  welcomed: boolean;
  done: boolean;
  /** The last frame's error message, when the last frame was an `error`. */
  lastError: string;
  welcomeTimer: unknown;
}

type Job = () => Promise<void> | void;

export class Peer extends Emitter<PeerEvents> {
  readonly link: JoinLink;
  readonly name: string;
  readonly role: Role;
  peerId = 0;
  status: PeerStatus = "connecting";
  /** The admitted peers (and away ones), by peer id, this one included once admitted. */
  readonly peers = new Map<number, PeerInfo>();
  session: SessionInfo | null = null;
  hostPresent = false;
  /** True once any frame has decrypted: the key is right. */
  keyConfirmed = false;
  closed: ClosedEvent | null = null;

  private readonly options: PeerOptions;
  private readonly policy: ReconnectPolicy;
  private readonly clock: Clock;
  private readonly cipher: Promise<SessionCipher>;
  private peerSecret: string | null = null;
  private connection: Connection | null = null;
  private everWelcomed = false;
  private stopping = false;
  private attempt = 0;
  private droppedAt: number | null = null;
  private retryTimer: unknown = null;
  private inbox: Promise<void> = Promise.resolve();
  private outbox: Promise<unknown> = Promise.resolve();
  private started: Promise<void> | null = null;
  private settleStart: ((error?: SessionClosedError) => void) | null = null;

  constructor(options: PeerOptions) {
    super();
    const name = checkText(options.name, "the name");
    if (!name.ok) throw new RangeError(name.problem);
    this.options = options;
    this.link = options.link;
    this.name = name.text;
    this.role = options.hostSecret === undefined ? "guest" : "host";
    this.policy = { ...DEFAULT_POLICY, ...options.policy };
    this.clock = options.clock ?? SYSTEM_CLOCK;
    this.cipher = SessionCipher.create(options.link.key, options.link.sessionId);
    this.cipher.catch(() => undefined); // reported by the first use
  }

  /** This peer's read-only flag, as the server last said it. */
  get readOnly(): boolean {
    return this.peers.get(this.peerId)?.readOnly ?? false;
  }

  // -- lifecycle -------------------------------------------------------------------

  /** Connects and says hello; resolves once welcomed (lobby or admitted), rejects
   *  with SessionClosedError if the peer ends first. Calling it again returns the same. */
  start(): Promise<void> {
    if (this.started === null) {
      this.started = new Promise((resolve, reject) => {
        this.settleStart = (error) => (error === undefined ? resolve() : reject(error));
      });
      // No WebCrypto (a page served over plain http): end at once, saying why.
      this.cipher.catch((thrown: unknown) => this.failed(thrown));
      this.connect();
    }
    return this.started;
  }

  /** Leave for good (§5.1); a host leaving ends the session. */
  async leave(): Promise<void> {
    const sent = this.sendControl(commandFrame({ type: "leave" }));
    this.stopping = true;
    if (!sent) return this.close();
    await this.closedWithin(5000);
  }

  /** Host only: end the session for everyone (§5.1). */
  async end(): Promise<void> {
    if (this.command({ type: "end" })) await this.closedWithin(5000);
  }

  /** Stop without leaving: the server sees a drop (this peer stays away until its
   *  grace runs out), and nothing is retried. */
  close(): void {
    this.stopping = true;
    this.abandon(1000, "closed");
    this.finish(1000, "closed by this client", "closed");
  }

  private async closedWithin(ms: number): Promise<void> {
    if (this.closed !== null) return;
    await new Promise<void>((resolve) => {
      const timer = this.clock.setTimeout(() => resolve(), ms);
      this.once("closed", () => {
        this.clock.clearTimeout(timer);
        resolve();
      });
    });
    if (this.closed === null) this.close();
  }

  private connect(): void {
    this.retryTimer = null;
    let socket: WebSocketLike;
    try {
      socket = new this.options.WebSocket(websocketUrl(this.link));
      socket.binaryType = "arraybuffer";
    } catch (thrown) {
      this.connectionEnded(null, NO_CLOSE_FRAME, `cannot connect: ${String(thrown)}`);
      return;
    }
    const connection: Connection = { socket, welcomed: false, done: false, lastError: "", welcomeTimer: null };
    this.connection = connection;
    connection.welcomeTimer = this.clock.setTimeout(() => this.welcomeTimedOut(connection), this.policy.welcomeTimeoutMs);
    socket.addEventListener("open", () => this.later(connection, () => this.sayHello(connection)));
    socket.addEventListener("message", (event) => this.later(connection, () => this.receive(connection, event.data)));
    socket.addEventListener("close", (event) =>
      this.later(connection, () => this.connectionEnded(connection, event.code, event.reason)),
    );
  }

  /** Runs `job` after the frames received before it, unless its connection has ended. */
  private later(connection: Connection, job: Job): void {
    this.inbox = this.inbox
      .then(() => (connection.done ? undefined : job()))
      .catch((thrown: unknown) => this.failed(thrown));
  }

  private failed(thrown: unknown): void {
    this.abandon(1000, "client failure");
    this.finish(CLIENT_FAILURE, `the client failed: ${String(thrown)}`);
  }

  /** Closes the current connection and forgets it: nothing it still delivers is read. */
  private abandon(code: number, reason: string): void {
    const connection = this.connection;
    if (connection === null) return;
    connection.done = true;
    this.clock.clearTimeout(connection.welcomeTimer);
    this.closeSocket(connection, code, reason);
    this.connection = null;
  }

  private sayHello(connection: Connection): void {
    const resume =
      this.peerSecret !== null && this.peerId !== 0 ? { peerId: this.peerId, peerSecret: this.peerSecret } : undefined;
    this.sendOn(
      connection,
      helloFrame({
        role: this.role,
        name: this.name,
        hostSecret: this.options.hostSecret,
        resume,
        client: this.options.client ?? CLIENT_NAME,
      }),
    );
  }

  private welcomeTimedOut(connection: Connection): void {
    if (connection.done || connection.welcomed) return;
    const seconds = this.policy.welcomeTimeoutMs / 1000;
    this.closeSocket(connection, 1000, "no welcome");
    this.connectionEnded(connection, NO_CLOSE_FRAME, `${this.link.serverUrl} did not answer hello within ${seconds} s`);
  }

  private closeSocket(connection: Connection, code: number, reason: string): void {
    try {
      connection.socket.close(code, reason);
    } catch {
      // already closing, or a socket that refuses: either way it is left behind
    }
  }

  /** A connection ended (`connection` null: it could not even be made). */
  private connectionEnded(connection: Connection | null, code: number, reason: string): void {
    if (connection !== null) {
      if (connection.done) return;
      connection.done = true;
      this.clock.clearTimeout(connection.welcomeTimer);
      reason ||= connection.lastError;
      if (connection.welcomed) {
        this.everWelcomed = true;
        this.attempt = 0;
        this.droppedAt = null;
      }
    }
    this.connection = null;
    if (this.closed !== null) return;
    if (this.stopping || FINAL_CLOSE_CODES.has(code) || !this.everWelcomed) {
      this.finish(code, reason);
      return;
    }
    this.droppedAt ??= this.clock.now();
    if (this.clock.now() - this.droppedAt > this.policy.giveUpAfterMs) {
      const seconds = this.policy.giveUpAfterMs / 1000;
      this.finish(code, `could not reconnect within ${seconds} s`, "server_unreachable");
      return;
    }
    const delayMs = reconnectDelay(this.policy, this.attempt, this.options.random);
    this.setStatus("reconnecting");
    this.emit("reconnecting", { code, reason, attempt: this.attempt, delayMs });
    this.attempt += 1;
    this.retryTimer = this.clock.setTimeout(() => this.connect(), delayMs);
  }

  private finish(code: number, reason: string, status: FinalStatus = statusForClose(code)): void {
    if (this.closed !== null) return;
    this.clock.clearTimeout(this.retryTimer);
    const closed: ClosedEvent = { code, reason, status, words: describe(status) };
    this.closed = closed;
    if (code === 4006) this.emit("denied", {});
    if (code === 4007) this.emit("removed", {});
    this.setStatus(status);
    this.emit("closed", closed);
    this.settleStart?.(new SessionClosedError(closed));
    this.settleStart = null;
  }

  private setStatus(status: PeerStatus): void {
    if (this.status === status) return;
    this.status = status;
    this.emit("status", { status });
  }

  /** The server broke the protocol: say so, and end this connection for good.
   *  (Browsers let a page close only with 1000 or 3000-4999: the code reported
   *  here is 1002, as ctclient's, the one on the wire 1000.) */
  private protocolError(problem: string): void {
    this.emit("protocol_error", { problem });
    this.abandon(1000, "malformed frame");
    this.finish(PROTOCOL_ERROR, `the server sent a malformed frame: ${problem}`);
  }

  // -- receiving -------------------------------------------------------------------

  private async receive(connection: Connection, data: unknown): Promise<void> {
    if (typeof data === "string") {
      this.receiveControl(connection, data);
    } else if (data instanceof ArrayBuffer) {
      await this.receiveData(connection, new Uint8Array(data));
    } else if (ArrayBuffer.isView(data)) {
      await this.receiveData(connection, owned(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)));
    } else {
      this.protocolError("a message that is neither text nor binary");
    }
  }

  private receiveControl(connection: Connection, raw: string): void {
    const parsed = parseControl(raw);
    if (parsed.kind === "malformed") {
      this.protocolError(parsed.problem);
      return;
    }
    if (parsed.kind === "ignored") return; // a type or event this version does not know (§11)
    const frame = parsed.frame;
    connection.lastError = frame.type === "error" ? frame.message : "";
    switch (frame.type) {
      case "welcome":
        this.welcomed(connection, frame);
        break;
      case "admitted":
        this.replacePeers(frame.peers);
        this.setStatus("admitted");
        this.emit("admitted", { peers: frame.peers });
        break;
      case "join_request":
        this.emit("join_request", { peer: frame.peer });
        break;
      case "presence":
        this.presence(frame.event, frame.peer);
        break;
      case "error":
        this.emit("server_error", { code: frame.code, message: frame.message, ref: frame.ref });
        if (connection.welcomed && this.role === "host" && ["license_full", "no_license"].includes(frame.code)) {
          this.emit("license_full", { code: frame.code, message: frame.message });
        }
        break;
      case "ended":
        this.emit("session_ended", { reason: frame.reason });
        break;
    }
  }

  private welcomed(connection: Connection, frame: Extract<ServerFrame, { type: "welcome" }>): void {
    connection.welcomed = true;
    this.clock.clearTimeout(connection.welcomeTimer);
    this.peerId = frame.peerId;
    this.peerSecret = frame.peerSecret; // only the latest one resumes (§5.3)
    this.session = frame.session;
    this.hostPresent = frame.session.hostPresent || this.role === "host";
    this.replacePeers(frame.peers);
    this.setStatus(frame.state);
    this.emit("welcome", frame);
    if (frame.resumed) this.emit("resumed", { peers: frame.peers });
    if (frame.state === "lobby") this.emit("lobby", { peers: frame.peers });
    this.settleStart?.();
    this.settleStart = null;
  }

  private replacePeers(peers: readonly PeerInfo[]): void {
    this.peers.clear();
    for (const peer of peers) this.peers.set(peer.peerId, peer);
  }

  private presence(event: PresenceEvent, peer: PeerInfo): void {
    if (event === "left" || event === "removed" || event === "denied") {
      this.peers.delete(peer.peerId);
      this.emit("peer_left", { peer, how: event });
      return;
    }
    if (peer.state !== "lobby") this.peers.set(peer.peerId, peer);
    switch (event) {
      case "admitted":
        this.emit("peer_joined", { peer });
        break;
      case "away":
        this.emit("peer_away", { peer });
        break;
      case "back":
        this.emit("peer_back", { peer });
        break;
      case "host_joined":
      case "host_back":
      case "host_away":
        this.hostPresent = event !== "host_away";
        this.emit(event, { peer });
        break;
      case "read_only":
        this.emit("read_only", { peer, self: peer.peerId === this.peerId });
        break;
    }
  }

  private async receiveData(connection: Connection, data: Bytes): Promise<void> {
    connection.lastError = "";
    const decoded = decodeDataFrame(data);
    if (!decoded.ok) {
      if (!decoded.ignore) this.protocolError(decoded.problem);
      return;
    }
    const { sender, kind, payload } = decoded.frame;
    let plaintext: Bytes;
    try {
      plaintext = await (await this.cipher).decrypt(sender, payload);
    } catch (thrown) {
      if (!(thrown instanceof DecryptError)) throw thrown;
      this.emit("decrypt_error", { sender, problem: thrown.message, likelyWrongKey: !this.keyConfirmed });
      return;
    }
    this.keyConfirmed = true;
    const message = decodeAppMessage(plaintext);
    if (!message.ok) {
      this.emit("decrypt_error", { sender, problem: message.problem, likelyWrongKey: false });
      return;
    }
    this.emit("message", { ...message.message, sender, broadcast: kind === "broadcast" });
  }

  // -- sending ---------------------------------------------------------------------

  /** The connection, if it is open and welcomed. */
  private live(): Connection | null {
    const connection = this.connection;
    if (connection === null || connection.done || !connection.welcomed) return null;
    return connection.socket.readyState === OPEN ? connection : null;
  }

  private sendOn(connection: Connection, data: string | Bytes): boolean {
    try {
      connection.socket.send(data);
      return true;
    } catch {
      return false; // the socket closed under us: its close event follows
    }
  }

  private sendControl(text: string): boolean {
    const connection = this.live();
    return connection !== null && this.sendOn(connection, text);
  }

  /** Encrypts and sends `message` to every other admitted peer, or to peer `to`.
   *  Resolves false when it could not go: not connected, or not admitted. Nothing
   *  is queued for later: after a resume, peers resynchronise instead (§5.3).
   *  Throws RangeError for a message over the frame limit (the server would close). */
  send(message: AppMessage, to?: number): Promise<boolean> {
    const next = this.outbox.then(() => this.sendNow(message, to));
    this.outbox = next.catch(() => undefined);
    return next;
  }

  private async sendNow(message: AppMessage, to: number | undefined): Promise<boolean> {
    const plaintext = encodeAppMessage(message.type, message.fields, message.body);
    const limit = this.options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    if (plaintext.length + 6 + 28 > limit) {
      throw new RangeError(`a ${message.type} message of ${plaintext.length} bytes is over the frame limit`);
    }
    const before = this.live();
    if (before === null || this.status !== "admitted") return false;
    const payload = await (await this.cipher).encrypt(this.peerId, plaintext);
    const connection = this.live();
    if (connection !== before) return false; // it dropped while we encrypted
    return this.sendOn(connection, encodeDataFrame(to === undefined ? BROADCAST : unicast(to), payload));
  }

  /** A host command (§5.1); false when not connected. */
  command(command: HostCommand): boolean {
    return this.role === "host" && this.sendControl(commandFrame(command));
  }

  admit(peer: number): boolean {
    return this.command({ type: "admit", peer });
  }

  deny(peer: number): boolean {
    return this.command({ type: "deny", peer });
  }

  remove(peer: number): boolean {
    return this.command({ type: "remove", peer });
  }

  setReadOnly(peer: number, readOnly: boolean): boolean {
    return this.command({ type: "set_read_only", peer, readOnly });
  }

  setAutoAdmit(autoAdmit: boolean): boolean {
    return this.command({ type: "set_auto_admit", autoAdmit });
  }

  get isClosed(): boolean {
    return isFinal(this.status);
  }
}
