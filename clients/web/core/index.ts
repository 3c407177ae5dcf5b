// The public API of ctserver's TypeScript client core (docs/protocol.md). It runs
// in browsers, Node.js 20+ and VS Code: the WebSocket is injected, WebCrypto and
// Yjs do the rest, and nothing is stored anywhere.

export { Awareness, parseAwareness, resolveCursor, MIN_INTERVAL_MS } from "./awareness.js";
export type { AwarenessEvents, AwarenessOptions, CursorState, LocalCursor, RemoteCursor } from "./awareness.js";
export { fromBase64, toBase64 } from "./bytes.js";
export { CLOSE_CODES, checkText, closeName, MAX_NAME_CHARS } from "./control.js";
export type {
  CloseName,
  EndReason,
  ErrorCode,
  NonFatalErrorCode,
  PeerInfo,
  PeerState,
  PresenceEvent,
  Role,
  SessionInfo,
} from "./control.js";
export { DecryptError, SessionCipher } from "./crypto.js";
export {
  clampRange,
  DiagnosticsSender,
  diagnosticsMessage,
  GuestDiagnostics,
  parseDiagnostics,
  DIAGNOSTICS_INTERVAL_MS,
  MAX_DIAGNOSTICS,
  SEVERITIES,
} from "./diagnostics.js";
export type {
  Diagnostic,
  DiagnosticsPeer,
  DiagnosticsSenderOptions,
  GuestDiagnosticsEvents,
  ParsedDiagnostics,
  Range,
  Severity,
} from "./diagnostics.js";
export { Emitter } from "./emitter.js";
export type { Listener } from "./emitter.js";
export { FEATURES, GuestFiles, TEXT_NAME } from "./files.js";
export type { EntryKind, FilesEvents, SessionPeer, ShareMode, TreeEntry } from "./files.js";
export { HostFiles } from "./hostfiles.js";
export type { HostFilesEvents, HostFilesOptions, HostPeer } from "./hostfiles.js";
export { formatJoinLink, LinkError, parseJoinLink, websocketUrl } from "./link.js";
export type { JoinLink, LinkErrorKind } from "./link.js";
export { decodeAppMessage, encodeAppMessage } from "./messages.js";
export type { AppMessage, ReceivedMessage } from "./messages.js";
export { checkPath, pathProblem, PathError } from "./paths.js";
export { DEFAULT_POLICY, HOST_PEER_ID, Peer, reconnectDelay, SessionClosedError } from "./peer.js";
export type { ClosedEvent, Clock, PeerEvents, PeerLeftHow, PeerOptions, ReconnectPolicy } from "./peer.js";
export type { SocketCloseEvent, SocketMessageEvent, WebSocketConstructor, WebSocketLike } from "./socket.js";
export { describe, isFinal, statusForClose } from "./status.js";
export type { FinalStatus, LiveStatus, Notice, PeerStatus } from "./status.js";
