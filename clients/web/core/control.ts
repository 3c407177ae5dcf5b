// Control frames (docs/protocol.md §5) and close codes (§8).
//
// What the server sends is parsed defensively: a frame that is not what §5.2 says
// becomes a `malformed` result, never an exception, so a hostile or broken server
// cannot crash the client. A `type` or presence event this version does not know
// is `ignored` (§11 lets servers add them).

import { isPeerId } from "./frames.js";

// -- close codes (§8) ----------------------------------------------------------------

export const CLOSE_CODES = {
  1000: "normal",
  1001: "going_away",
  1011: "internal_error",
  1012: "service_restart",
  1013: "try_again_later",
  4000: "bad_frame",
  4001: "unknown_type",
  4002: "protocol_violation",
  4003: "not_authenticated",
  4004: "session_not_found",
  4005: "session_ended",
  4006: "denied",
  4007: "removed",
  4008: "too_slow",
  4009: "frame_too_large",
  4010: "rate_limited",
  4011: "session_full",
  4012: "hello_timeout",
  4013: "replaced",
  4014: "too_many_connections",
  4015: "lobby_timeout",
  4016: "retry_later",
  4017: "license_full",
  4018: "no_license",
} as const;

export type CloseCode = keyof typeof CLOSE_CODES;
export type CloseName = (typeof CLOSE_CODES)[CloseCode];

export function closeName(code: number): CloseName | null {
  return Object.hasOwn(CLOSE_CODES, code) ? CLOSE_CODES[code as CloseCode] : null;
}

/** The `error` codes that do not close the connection (§7, §8). */
export type NonFatalErrorCode =
  | "not_admitted"
  | "unknown_peer"
  | "bad_target"
  | "read_only"
  | "bad_request"
  | "license_full"
  | "no_license";

/** Every `error` code of version 1: the non-fatal ones, and the names of the closes
 *  an `error` precedes. A server may send others (§11): `ServerError.code` is a string. */
export type ErrorCode = NonFatalErrorCode | CloseName;

export type EndReason =
  | "host_ended"
  | "host_left"
  | "host_never_joined"
  | "no_guest_joined"
  | "last_guest_left"
  | "idle";

// -- text fields (§3) ------------------------------------------------------------------

// The characters Python's str.strip() removes, which is how the server trims.
const PYTHON_SPACE = "[\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
const EDGE_SPACE = new RegExp(`^${PYTHON_SPACE}+|${PYTHON_SPACE}+$`, "gu");
// Control, format and separator characters, and lone surrogates (which UTF-8 cannot hold).
const REFUSED_CHARACTER = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;

export const MAX_NAME_CHARS = 64;

/** `text` trimmed as the server trims it, or a reason in words why the server would
 *  refuse it (§3: 1-64 characters, or 0-64 when optional; no Cc, Cf, Zl, Zp). */
export function checkText(
  text: string,
  field: string,
  required = true,
): { ok: true; text: string } | { ok: false; problem: string } {
  const trimmed = text.replace(EDGE_SPACE, "");
  const length = [...trimmed].length;
  if (length > MAX_NAME_CHARS || (required && length === 0)) {
    return { ok: false, problem: `${field} must be ${required ? 1 : 0}-${MAX_NAME_CHARS} characters` };
  }
  if (REFUSED_CHARACTER.test(trimmed)) {
    return { ok: false, problem: `${field} must not contain control, format or separator characters` };
  }
  return { ok: true, text: trimmed };
}

const SECRET = /^[A-Za-z0-9_-]{1,128}$/;

// -- client to server (§5.1) -------------------------------------------------------------

export type Role = "host" | "guest";

export interface Resume {
  readonly peerId: number;
  readonly peerSecret: string;
}

export interface Hello {
  readonly role: Role;
  readonly name: string;
  readonly hostSecret?: string | undefined;
  readonly resume?: Resume | undefined;
  readonly client?: string | undefined;
}

export function helloFrame(hello: Hello): string {
  const frame: Record<string, unknown> = { type: "hello", role: hello.role, name: hello.name };
  if (hello.client !== undefined) frame.client = hello.client;
  if (hello.role === "host") frame.host_secret = hello.hostSecret;
  if (hello.resume !== undefined) {
    frame.resume = { peer_id: hello.resume.peerId, peer_secret: hello.resume.peerSecret };
  }
  return JSON.stringify(frame);
}

export type HostCommand =
  | { readonly type: "admit" | "deny" | "remove"; readonly peer: number }
  | { readonly type: "set_read_only"; readonly peer: number; readonly readOnly: boolean }
  | { readonly type: "set_auto_admit"; readonly autoAdmit: boolean }
  | { readonly type: "end" };

export function commandFrame(command: HostCommand | { readonly type: "leave" }): string {
  switch (command.type) {
    case "set_read_only":
      return JSON.stringify({ type: command.type, peer: command.peer, read_only: command.readOnly });
    case "set_auto_admit":
      return JSON.stringify({ type: command.type, auto_admit: command.autoAdmit });
    case "end":
    case "leave":
      return JSON.stringify({ type: command.type });
    default:
      return JSON.stringify({ type: command.type, peer: command.peer });
  }
}

// -- server to client (§5.2) ---------------------------------------------------------------

export type PeerState = "lobby" | "admitted" | "away";

/** A peer object (§5.2). `name` is as the peer gave it: escape it before showing it. */
export interface PeerInfo {
  readonly peerId: number;
  readonly name: string;
  readonly role: Role;
  readonly state: PeerState;
  readonly readOnly: boolean;
  /** Single sign-on (§5.2): whether the provider vouched for this peer; null without SSO. */
  readonly verified: boolean | null;
  /** Its address at the provider ("" when none, or without SSO). */
  readonly email: string;
}

export interface SessionInfo {
  readonly sessionId: string;
  readonly autoAdmit: boolean;
  readonly hostPresent: boolean;
}

export const PRESENCE_EVENTS = [
  "admitted",
  "denied",
  "left",
  "removed",
  "away",
  "back",
  "host_joined",
  "host_away",
  "host_back",
  "read_only",
] as const;
export type PresenceEvent = (typeof PRESENCE_EVENTS)[number];

export type ServerFrame =
  | {
      readonly type: "welcome";
      readonly peerId: number;
      readonly peerSecret: string;
      readonly role: Role;
      readonly state: "lobby" | "admitted";
      readonly resumed: boolean;
      readonly session: SessionInfo;
      readonly peers: readonly PeerInfo[];
    }
  | { readonly type: "admitted"; readonly peers: readonly PeerInfo[] }
  | { readonly type: "join_request"; readonly peer: PeerInfo }
  | { readonly type: "presence"; readonly event: PresenceEvent; readonly peer: PeerInfo }
  | { readonly type: "error"; readonly code: string; readonly message: string; readonly ref: string | null }
  | { readonly type: "ended"; readonly reason: string };

export type ParsedControl =
  | { readonly kind: "frame"; readonly frame: ServerFrame }
  | { readonly kind: "ignored"; readonly problem: string }
  | { readonly kind: "malformed"; readonly problem: string };

/** Far above any frame ctserver sends (a welcome listing every peer of a full
 *  session is a few kilobytes); a larger text is not parsed at all. */
export const MAX_CONTROL_CHARS = 1024 * 1024;

type Members = Readonly<Record<string, unknown>>;

/** A JSON object's own member (never one inherited from Object.prototype). */
function member(object: Members, name: string): unknown {
  return Object.hasOwn(object, name) ? object[name] : undefined;
}

function isObject(value: unknown): value is Members {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[]): value is T {
  return typeof value === "string" && (allowed as readonly string[]).includes(value);
}

/** Signals a member that breaks §5.2; caught in parseControl, never escapes it. */
class Malformed extends Error {}

function need<T>(value: T | null | undefined, what: string): T {
  if (value === null || value === undefined) throw new Malformed(what);
  return value;
}

function text(object: Members, name: string): string {
  const value = member(object, name);
  if (typeof value !== "string") throw new Malformed(`'${name}' is not a string`);
  return value;
}

function flag(object: Members, name: string): boolean {
  const value = member(object, name);
  if (typeof value !== "boolean") throw new Malformed(`'${name}' is not a boolean`);
  return value;
}

export function parsePeer(value: unknown): PeerInfo | null {
  if (!isObject(value)) return null;
  const peerId = member(value, "peer_id");
  const name = member(value, "name");
  const role = member(value, "role");
  const state = member(value, "state");
  const readOnly = member(value, "read_only");
  const verified = member(value, "verified") ?? null;
  const email = member(value, "email") ?? "";
  if (
    !isPeerId(peerId) ||
    typeof name !== "string" ||
    !oneOf(role, ["host", "guest"] as const) ||
    !oneOf(state, ["lobby", "admitted", "away"] as const) ||
    typeof readOnly !== "boolean" ||
    (verified !== null && typeof verified !== "boolean") ||
    typeof email !== "string"
  ) {
    return null;
  }
  return { peerId, name, role, state, readOnly, verified, email };
}

function peer(object: Members): PeerInfo {
  return need(parsePeer(member(object, "peer")), "'peer' is not a peer object");
}

function peers(object: Members): PeerInfo[] {
  const list = member(object, "peers");
  if (!Array.isArray(list)) throw new Malformed("'peers' is not a list");
  return list.map((item) => need(parsePeer(item), "'peers' holds something that is not a peer object"));
}

function session(object: Members): SessionInfo {
  const value = member(object, "session");
  if (!isObject(value)) throw new Malformed("'session' is not an object");
  return {
    sessionId: text(value, "session_id"),
    autoAdmit: flag(value, "auto_admit"),
    hostPresent: flag(value, "host_present"),
  };
}

function welcome(object: Members): ServerFrame {
  const peerId = member(object, "peer_id");
  const peerSecret = text(object, "peer_secret");
  const role = member(object, "role");
  const state = member(object, "state");
  if (!isPeerId(peerId)) throw new Malformed("'peer_id' is not a peer id");
  // It goes back to the server in the next hello: it must be what a hello may carry (§3).
  if (!SECRET.test(peerSecret)) throw new Malformed("'peer_secret' is not a base64url token");
  if (!oneOf(role, ["host", "guest"] as const)) throw new Malformed("'role' is not host or guest");
  if (!oneOf(state, ["lobby", "admitted"] as const)) throw new Malformed("'state' is not lobby or admitted");
  return {
    type: "welcome",
    peerId,
    peerSecret,
    role,
    state,
    resumed: flag(object, "resumed"),
    session: session(object),
    peers: peers(object),
  };
}

function error(object: Members): ServerFrame {
  const ref = member(object, "ref");
  if (ref !== undefined && ref !== null && typeof ref !== "string") {
    throw new Malformed("'ref' is not a string");
  }
  return { type: "error", code: text(object, "code"), message: text(object, "message"), ref: ref ?? null };
}

const PARSERS: ReadonlyMap<string, (object: Members) => ServerFrame | null> = new Map([
  ["welcome", welcome],
  ["admitted", (object: Members): ServerFrame => ({ type: "admitted", peers: peers(object) })],
  ["join_request", (object: Members): ServerFrame => ({ type: "join_request", peer: peer(object) })],
  [
    "presence",
    (object: Members): ServerFrame | null => {
      const event = member(object, "event");
      if (typeof event !== "string") throw new Malformed("'event' is not a string");
      return oneOf(event, PRESENCE_EVENTS) ? { type: "presence", event, peer: peer(object) } : null;
    },
  ],
  ["error", error],
  ["ended", (object: Members): ServerFrame => ({ type: "ended", reason: text(object, "reason") })],
]);

/** A text message from the server. Never throws. */
export function parseControl(raw: unknown): ParsedControl {
  if (typeof raw !== "string") return { kind: "malformed", problem: "a control frame that is not text" };
  if (raw.length > MAX_CONTROL_CHARS) {
    return { kind: "malformed", problem: `a control frame of ${raw.length} characters` };
  }
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return { kind: "malformed", problem: "a text frame that is not JSON" };
  }
  const type = isObject(value) ? member(value, "type") : undefined;
  if (!isObject(value) || typeof type !== "string") {
    return { kind: "malformed", problem: "a text frame that is not an object with a string 'type'" };
  }
  const parse = PARSERS.get(type);
  if (parse === undefined) return { kind: "ignored", problem: `a frame of unknown type ${JSON.stringify(type)}` };
  try {
    const frame = parse(value);
    if (frame === null) return { kind: "ignored", problem: `an unknown presence event` };
    return { kind: "frame", frame };
  } catch (thrown) {
    const problem = thrown instanceof Malformed ? thrown.message : "unreadable";
    return { kind: "malformed", problem: `${problem} in a frame of type ${JSON.stringify(type)}` };
  }
}
