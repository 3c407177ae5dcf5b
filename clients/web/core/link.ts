// Join links, `https://server/join/<session_id>#<key>` (docs/protocol.md §1, §2, §4).
// The key lives only in the fragment: it is never sent to the server.

import { fromBase64Url, toBase64Url, type Bytes } from "./bytes.js";

export const KEY_BYTES = 32;
const KEY_CHARACTERS = 43;
// ctclient's rule: 16-32 base64url characters (the server makes 22).
const SESSION_ID = /^[A-Za-z0-9_-]{16,32}$/;
const SCHEME_AND_AUTHORITY = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)/;

export type LinkErrorKind =
  | "not_a_link" // not https://server/join/<session>
  | "credentials_in_link" // user:password@ before the server
  | "missing_key" // nothing after '#': the link was cut short
  | "malformed_key"; // a fragment that is not 43 base64url characters

/** A join link that cannot be used; `kind` is stable, `message` is for people. */
export class LinkError extends Error {
  override readonly name = "LinkError";
  constructor(
    readonly kind: LinkErrorKind,
    message: string,
  ) {
    super(message);
  }
}

export interface JoinLink {
  /** scheme://host[:port], without a trailing slash */
  readonly serverUrl: string;
  readonly sessionId: string;
  /** The 32-byte session key. */
  readonly key: Bytes;
}

export function encodeKey(key: Uint8Array): string {
  return toBase64Url(key);
}

export function decodeKey(text: string): Bytes {
  const key = text.length === KEY_CHARACTERS ? fromBase64Url(text) : null;
  if (key === null || key.length !== KEY_BYTES) {
    throw new LinkError("malformed_key", "the key after '#' must be 43 base64url characters");
  }
  return key;
}

function parseUrl(text: string): URL {
  try {
    return new URL(text);
  } catch {
    throw new LinkError("not_a_link", "the server in the join link is not a host name and port");
  }
}

export function parseJoinLink(text: string): JoinLink {
  const trimmed = text.trim();
  const url = parseUrl(trimmed);
  if ((url.protocol !== "https:" && url.protocol !== "http:") || url.host === "") {
    throw new LinkError("not_a_link", "a join link starts with https:// (or http://)");
  }
  // Nothing ctserver asks for, and a way to mislead (https://bank.example@evil.example).
  if (SCHEME_AND_AUTHORITY.exec(trimmed)?.[1]?.includes("@")) {
    throw new LinkError("credentials_in_link", "a join link has no user name or password before the server");
  }
  const sessionId = /^\/join\/([^/]+)\/?$/.exec(url.pathname)?.[1];
  if (sessionId === undefined || !SESSION_ID.test(sessionId)) {
    throw new LinkError("not_a_link", "a join link looks like https://server/join/<session>#<key>");
  }
  const fragment = url.hash.replace(/^#/, "");
  if (fragment === "") {
    throw new LinkError("missing_key", "the join link has no key after '#': copy the whole link");
  }
  return { serverUrl: `${url.protocol}//${url.host}`, sessionId, key: decodeKey(fragment) };
}

export function formatJoinLink(link: JoinLink): string {
  return `${link.serverUrl}/join/${link.sessionId}#${encodeKey(link.key)}`;
}

/** The session's WebSocket (§4): wss:// for an https:// server, ws:// for http://. */
export function websocketUrl(link: Pick<JoinLink, "serverUrl" | "sessionId">): string {
  const secure = link.serverUrl.startsWith("https:");
  const rest = link.serverUrl.slice(link.serverUrl.indexOf(":") + 1);
  return `${secure ? "wss" : "ws"}:${rest}/ws/v1/sessions/${link.sessionId}`;
}
