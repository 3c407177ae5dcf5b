// What a peer's situation is, as stable names the UI switches on, and in words.
// Closes (docs/protocol.md §8) map to the final statuses.

/** Where the connection stands while it lasts. */
export type LiveStatus = "connecting" | "lobby" | "admitted" | "reconnecting";

/** Why it ended, for good. */
export type FinalStatus =
  | "left" // 1000: this peer left (or closed the client)
  | "session_ended" // 4005
  | "session_not_found" // 4004: unknown or ended
  | "denied" // 4006
  | "removed" // 4007
  | "lobby_timeout" // 4015
  | "session_full" // 4011
  | "license_full" // 4017
  | "no_license" // 4018
  | "retry_later" // 4016
  | "too_many_connections" // 4014
  | "server_busy" // 1013 before the first welcome
  | "server_unreachable" // no connection, or none again within the reconnect grace
  | "not_authenticated" // 4003: resume no longer possible, or a wrong host secret
  | "replaced" // 4013: this peer connected again elsewhere
  | "protocol_error" // the server sent what the protocol does not allow
  | "refused" // the server closed for what this client sent (4000-4002, 4009, 4010, 4012)
  | "closed"; // any other close

export type PeerStatus = LiveStatus | FinalStatus;

/** Things worth telling the user that do not end the connection. */
export type Notice = "host_away" | "wrong_key";

const BY_CLOSE_CODE: ReadonlyMap<number, FinalStatus> = new Map([
  [1000, "left"],
  [1002, "protocol_error"], // closes this client makes when the server's frames break the rules
  [1007, "protocol_error"],
  [1009, "protocol_error"],
  [1013, "server_busy"],
  [4000, "refused"],
  [4001, "refused"],
  [4002, "refused"],
  [4003, "not_authenticated"],
  [4004, "session_not_found"],
  [4005, "session_ended"],
  [4006, "denied"],
  [4007, "removed"],
  [4009, "refused"],
  [4010, "refused"],
  [4011, "session_full"],
  [4012, "refused"],
  [4013, "replaced"],
  [4014, "too_many_connections"],
  [4015, "lobby_timeout"],
  [4016, "retry_later"],
  [4017, "license_full"],
  [4018, "no_license"],
] as const);

// Closes that mean "the network or the server went away": final only when the
// first connection fails or reconnecting gave up.
const UNREACHABLE = new Set([1001, 1006, 1011, 1012]);

export function statusForClose(code: number): FinalStatus {
  return BY_CLOSE_CODE.get(code) ?? (UNREACHABLE.has(code) ? "server_unreachable" : "closed");
}

const WORDS: Readonly<Record<PeerStatus | Notice, string>> = {
  connecting: "Connecting…",
  lobby: "Waiting for the host to let you in",
  admitted: "Connected",
  reconnecting: "Connection lost; reconnecting…",
  left: "You left the session",
  session_ended: "The session has ended",
  session_not_found: "This session does not exist or has ended",
  denied: "The host did not let you in",
  removed: "The host removed you from the session",
  lobby_timeout: "Nobody let you in in time",
  session_full: "The session is full",
  license_full: "Every connection the server's license allows is in use; try again when someone leaves",
  no_license: "The server has no valid license, so it takes no new connections",
  retry_later: "The host turned away a guest from your network recently; wait before trying again",
  too_many_connections: "Too many connections from your network address",
  server_busy: "The server is busy; try again later",
  server_unreachable: "Cannot reach the server",
  not_authenticated: "Could not rejoin the session (away too long?)",
  replaced: "You joined this session again somewhere else",
  protocol_error: "The server sent something this client does not understand",
  refused: "The server refused what this client sent",
  closed: "The connection closed",
  host_away: "The host's connection dropped; waiting for the host to come back",
  wrong_key: "cannot decrypt: check the link",
};

/** The status or notice in words, for people. */
export function describe(status: PeerStatus | Notice): string {
  return WORDS[status];
}

export function isFinal(status: PeerStatus): status is FinalStatus {
  return !["connecting", "lobby", "admitted", "reconnecting"].includes(status);
}
