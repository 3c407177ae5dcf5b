// Remote cursors and selections: the `awareness` message of docs/protocol.md §10.2.
//
// Positions are Yjs relative positions in the file's `content` text, so a cursor
// stays on its character while others edit. Sending is rate-limited (at most one
// message per interval, the latest state always sent last); receiving validates
// every member and ignores a malformed message whole.

import * as Y from "yjs";

import { fromBase64, toBase64 } from "./bytes.js";
import { checkText } from "./control.js";
import { Emitter } from "./emitter.js";
import { TEXT_NAME, type SessionPeer } from "./files.js";
import type { ReceivedMessage } from "./messages.js";
import { pathProblem } from "./paths.js";
import { HOST_PEER_ID, SYSTEM_CLOCK, type Clock } from "./peer.js";

export const AWARENESS = "awareness";
/** At most ten messages a second from one sender (§10.2). */
export const MIN_INTERVAL_MS = 100;
export const MAX_POSITION_CHARS = 1024;
const COLOUR = /^#[0-9A-Fa-f]{6}$/;

/** Where this peer's cursor is, as indexes (UTF-16 code units) into the file's text. */
export interface LocalCursor {
  readonly path: string;
  readonly anchor: number;
  readonly head: number;
}

/** The state an `awareness` message carries; `path` null: no cursor. */
export interface CursorState {
  readonly path: string | null;
  readonly anchor: Y.RelativePosition | null;
  readonly head: Y.RelativePosition | null;
  readonly name: string;
  readonly colour: string;
}

export interface RemoteCursor extends CursorState {
  readonly peerId: number;
}

export interface AwarenessEvents {
  /** A peer's cursor moved, or went (`cursor` null: it left, or has no cursor now). */
  change: { readonly peerId: number; readonly cursor: RemoteCursor | null };
  /** An `awareness` message that breaks §10.2, ignored. */
  ignored: { readonly sender: number; readonly problem: string };
}

export function awarenessFields(state: CursorState): Record<string, unknown> {
  const fields: Record<string, unknown> = { path: state.path, name: state.name, colour: state.colour };
  if (state.path !== null && state.anchor !== null && state.head !== null) {
    fields.anchor = toBase64(Y.encodeRelativePosition(state.anchor));
    fields.head = toBase64(Y.encodeRelativePosition(state.head));
  }
  return fields;
}

function position(value: unknown): Y.RelativePosition {
  if (typeof value !== "string" || value.length > MAX_POSITION_CHARS) throw new Error("a position that is not base64");
  const bytes = fromBase64(value);
  if (bytes === null || bytes.length === 0) throw new Error("a position that is not base64");
  try {
    return Y.decodeRelativePosition(bytes);
  } catch {
    throw new Error("a position that is not a Yjs relative position");
  }
}

/** The state in an `awareness` message's fields, or a problem in words. Never throws. */
export function parseAwareness(
  fields: Readonly<Record<string, unknown>>,
): { ok: true; state: CursorState } | { ok: false; problem: string } {
  const { path, name, colour } = fields;
  if (typeof name !== "string" || !checkText(name, "name").ok) return { ok: false, problem: "a name §3 refuses" };
  if (typeof colour !== "string" || !COLOUR.test(colour)) return { ok: false, problem: "a colour that is not #rrggbb" };
  if (path === null) return { ok: true, state: { path: null, anchor: null, head: null, name, colour } };
  if (pathProblem(path) !== null) return { ok: false, problem: "a path §10.1 refuses" };
  try {
    return {
      ok: true,
      state: { path: path as string, anchor: position(fields.anchor), head: position(fields.head), name, colour },
    };
  } catch (thrown) {
    return { ok: false, problem: (thrown as Error).message };
  }
}

/** A remote cursor's indexes in `doc`, or null while its positions cannot be
 *  resolved there (an update it points into has not arrived yet). */
export function resolveCursor(cursor: CursorState, doc: Y.Doc): { anchor: number; head: number } | null {
  if (cursor.anchor === null || cursor.head === null) return null;
  const anchor = Y.createAbsolutePositionFromRelativePosition(cursor.anchor, doc);
  const head = Y.createAbsolutePositionFromRelativePosition(cursor.head, doc);
  if (anchor === null || head === null || anchor.type !== doc.getText(TEXT_NAME) || head.type !== anchor.type) {
    return null;
  }
  return { anchor: anchor.index, head: head.index };
}

export interface AwarenessOptions {
  /** The label others show next to this peer's cursor. */
  readonly name: string;
  /** `#rrggbb`. */
  readonly colour: string;
  readonly intervalMs?: number | undefined;
  readonly clock?: Clock | undefined;
}

export class Awareness extends Emitter<AwarenessEvents> {
  private readonly cursors = new Map<number, RemoteCursor>();
  private readonly stops: (() => void)[] = [];
  private readonly clock: Clock;
  private readonly intervalMs: number;
  private readonly name: string;
  private readonly colour: string;
  private local: CursorState | null = null;
  private dirty = false;
  private lastSentAt = -Infinity;
  private timer: unknown = null;

  constructor(
    private readonly peer: SessionPeer,
    private readonly docFor: (path: string) => Y.Doc | undefined,
    options: AwarenessOptions,
  ) {
    super();
    const name = checkText(options.name, "the name");
    if (!name.ok) throw new RangeError(name.problem);
    if (!COLOUR.test(options.colour)) throw new RangeError("a colour is #rrggbb");
    this.name = name.text;
    this.colour = options.colour;
    this.intervalMs = Math.max(options.intervalMs ?? MIN_INTERVAL_MS, MIN_INTERVAL_MS);
    this.clock = options.clock ?? SYSTEM_CLOCK;
    const resend = (): void => this.resend();
    this.stops.push(
      peer.on("message", (message) => this.receive(message)),
      peer.on("peer_left", ({ peer: gone }) => this.forget(gone.peerId)),
      // Frames relayed while a peer was away are not kept for it (§5.3).
      peer.on("peer_joined", resend),
      peer.on("peer_back", resend),
      peer.on("host_joined", resend),
      peer.on("host_back", resend),
      peer.on("resumed", resend),
      peer.on("admitted", resend),
    );
  }

  /** The other peers' cursors, by peer id. */
  get remote(): ReadonlyMap<number, RemoteCursor> {
    return this.cursors;
  }

  /** Moves this peer's cursor (null: no cursor, e.g. the file was closed). Throws
   *  RangeError for a path §10.1 refuses or a file that is not open. */
  setCursor(cursor: LocalCursor | null): void {
    if (cursor === null) {
      this.local = { path: null, anchor: null, head: null, name: this.name, colour: this.colour };
    } else {
      const doc = pathProblem(cursor.path) === null ? this.docFor(cursor.path) : undefined;
      if (doc === undefined) throw new RangeError(`no open file ${JSON.stringify(cursor.path)}`);
      const text = doc.getText(TEXT_NAME);
      this.local = {
        path: cursor.path,
        anchor: Y.createRelativePositionFromTypeIndex(text, cursor.anchor),
        head: Y.createRelativePositionFromTypeIndex(text, cursor.head),
        name: this.name,
        colour: this.colour,
      };
    }
    this.schedule();
  }

  dispose(): void {
    for (const stop of this.stops.splice(0)) stop();
    this.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  private resend(): void {
    if (this.local !== null && this.local.path !== null) this.schedule();
  }

  private schedule(): void {
    this.dirty = true;
    if (this.timer !== null) return; // the pending send will carry the latest state
    const wait = this.lastSentAt + this.intervalMs - this.clock.now();
    if (wait <= 0) {
      this.flush();
    } else {
      this.timer = this.clock.setTimeout(() => {
        this.timer = null;
        this.flush();
      }, wait);
    }
  }

  private flush(): void {
    if (!this.dirty || this.local === null) return;
    this.dirty = false;
    this.lastSentAt = this.clock.now();
    const message = { type: AWARENESS, fields: awarenessFields(this.local), body: new Uint8Array(0) };
    // A read-only guest may only unicast to the host (§7): its cursor goes there alone.
    const sent = this.peer.readOnly ? this.peer.send(message, HOST_PEER_ID) : this.peer.send(message);
    sent.catch(() => undefined); // not connected: the resend after the resume carries it
  }

  private receive(message: ReceivedMessage): void {
    if (message.type !== AWARENESS || message.sender === this.peer.peerId) return;
    const parsed = parseAwareness(message.fields);
    if (!parsed.ok) {
      this.emit("ignored", { sender: message.sender, problem: parsed.problem });
      return;
    }
    const cursor: RemoteCursor = { ...parsed.state, peerId: message.sender };
    this.cursors.set(message.sender, cursor);
    this.emit("change", { peerId: message.sender, cursor: cursor.path === null ? null : cursor });
  }

  private forget(peerId: number): void {
    if (this.cursors.delete(peerId)) this.emit("change", { peerId, cursor: null });
  }
}
