// The host's problems (compiler errors, linter warnings) for the files guests have
// open: the `diagnostics` message of docs/protocol.md §10.3.
//
// The sending side makes every diagnostic valid before it goes (long texts cut,
// control characters replaced, ranges put in order), keeps the 500 most severe,
// and sends each file's list at most every 500 ms, the latest always last. The
// receiving side takes them from the host alone and checks each one: a bad one is
// dropped, the others kept.

import { utf8 } from "./bytes.js";
import { Emitter } from "./emitter.js";
import type { SessionPeer } from "./files.js";
import type { AppMessage, ReceivedMessage } from "./messages.js";
import { checkPath, pathProblem } from "./paths.js";
import { HOST_PEER_ID, SYSTEM_CLOCK, type Clock } from "./peer.js";

export const DIAGNOSTICS = "diagnostics";
export const MAX_DIAGNOSTICS = 500;
export const MAX_MESSAGE_CHARS = 2000;
export const MAX_SOURCE_CHARS = 100;
export const MAX_CODE_CHARS = 100;
/** At most one list per file this often (§10.3). */
export const DIAGNOSTICS_INTERVAL_MS = 500;
/** The JSON a sender puts in one message at most: well under the relay's default
 *  frame limit (1 MiB, §7), which 500 long messages would pass. */
export const MAX_DIAGNOSTICS_BYTES = 768 * 1024;

export type Severity = "error" | "warning" | "information" | "hint";
/** Most severe first. */
export const SEVERITIES: readonly Severity[] = ["error", "warning", "information", "hint"];

/** Zero-based; characters are UTF-16 code units (as in LSP and VS Code). */
export interface Range {
  readonly startLine: number;
  readonly startCharacter: number;
  readonly endLine: number;
  readonly endCharacter: number;
}

export interface Diagnostic {
  readonly range: Range;
  readonly severity: Severity;
  readonly message: string;
  readonly source?: string | undefined;
  readonly code?: string | number | undefined;
}

export type ParsedDiagnostics =
  | { readonly ok: true; readonly path: string; readonly diagnostics: Diagnostic[]; readonly dropped: number }
  | { readonly ok: false; readonly problem: string };

// Cc, the C0 and C1 controls; a message may hold line feeds and tabs.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const CONTROL_IN_MESSAGE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;
const REPLACEMENT = "\ufffd";

function characters(text: string): number {
  return [...text].length;
}

// -- receiving -----------------------------------------------------------------------

function parseRange(value: unknown): Range | null {
  if (!Array.isArray(value) || value.length !== 4) return null;
  if (!value.every((n) => Number.isSafeInteger(n) && (n as number) >= 0)) return null;
  const [startLine, startCharacter, endLine, endCharacter] = value as number[] as [number, number, number, number];
  if (startLine > endLine || (startLine === endLine && startCharacter > endCharacter)) return null;
  return { startLine, startCharacter, endLine, endCharacter };
}

function isSeverity(value: unknown): value is Severity {
  return typeof value === "string" && (SEVERITIES as readonly string[]).includes(value);
}

/** One diagnostic object as §10.3 has it, or null when it breaks a rule. */
function parseDiagnostic(item: unknown): Diagnostic | null {
  if (typeof item !== "object" || item === null || Array.isArray(item)) return null;
  const { range, severity, message, source, code } = item as Record<string, unknown>;
  const parsedRange = parseRange(range);
  if (parsedRange === null || !isSeverity(severity)) return null;
  if (typeof message !== "string" || CONTROL_IN_MESSAGE.test(message)) return null;
  const length = characters(message);
  if (length < 1 || length > MAX_MESSAGE_CHARS) return null;
  const diagnostic: { -readonly [K in keyof Diagnostic]: Diagnostic[K] } = { range: parsedRange, severity, message };
  if (source !== undefined) {
    if (typeof source !== "string" || CONTROL.test(source)) return null;
    if (characters(source) < 1 || characters(source) > MAX_SOURCE_CHARS) return null;
    diagnostic.source = source;
  }
  if (code !== undefined) {
    if (typeof code === "string") {
      if (CONTROL.test(code) || characters(code) < 1 || characters(code) > MAX_CODE_CHARS) return null;
    } else if (!Number.isSafeInteger(code)) {
      return null;
    }
    diagnostic.code = code as string | number;
  }
  return diagnostic;
}

/** A `diagnostics` message's fields: its path and the diagnostics that keep §10.3's
 *  rules (`dropped` counts the others, and any past the 500th). Never throws. */
export function parseDiagnostics(fields: Readonly<Record<string, unknown>>): ParsedDiagnostics {
  const problem = pathProblem(fields.path);
  if (problem !== null) return { ok: false, problem: `a path §10.1 refuses (${problem})` };
  if (!Array.isArray(fields.diagnostics)) return { ok: false, problem: "'diagnostics' is not a list" };
  const diagnostics: Diagnostic[] = [];
  let dropped = 0;
  for (const item of fields.diagnostics as unknown[]) {
    const diagnostic = diagnostics.length < MAX_DIAGNOSTICS ? parseDiagnostic(item) : null;
    if (diagnostic === null) dropped += 1;
    else diagnostics.push(diagnostic);
  }
  return { ok: true, path: fields.path as string, diagnostics, dropped };
}

/** `range` clamped to `text` (the receiver's copy, which may be shorter than the
 *  host's was): lines end at "\n", "\r\n" or "\r", as LSP has them. */
export function clampRange(range: Range, text: string): Range {
  const lines = text.split(/\r\n|\r|\n/).map((line) => line.length);
  const last = lines.length - 1;
  const clamp = (line: number, character: number): [number, number] =>
    line > last ? [last, lines[last] ?? 0] : [line, Math.min(character, lines[line] ?? 0)];
  const [startLine, startCharacter] = clamp(range.startLine, range.startCharacter);
  const [endLine, endCharacter] = clamp(range.endLine, range.endCharacter);
  return { startLine, startCharacter, endLine, endCharacter };
}

// -- sending -------------------------------------------------------------------------

/** `text` cut to at most `max` UTF-16 code units (so at most `max` characters
 *  however a receiver counts them), never inside a surrogate pair, "…" at the cut. */
function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max - 1;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${text.slice(0, end)}…`;
}

function position(value: number): number {
  return Number.isFinite(value) ? Math.min(Math.max(Math.trunc(value), 0), Number.MAX_SAFE_INTEGER) : 0;
}

/** A diagnostic (of a known severity) as the wire has it, made valid. */
function wireDiagnostic(diagnostic: Diagnostic): Record<string, unknown> {
  const { range } = diagnostic;
  const start = [position(range.startLine), position(range.startCharacter)] as const;
  let end = [position(range.endLine), position(range.endCharacter)] as const;
  if (start[0] > end[0] || (start[0] === end[0] && start[1] > end[1])) end = start;
  const message = cut(
    String(diagnostic.message).replace(/\r\n?/g, "\n").replace(new RegExp(CONTROL_IN_MESSAGE, "g"), REPLACEMENT),
    MAX_MESSAGE_CHARS,
  );
  const wire: Record<string, unknown> = {
    range: [...start, ...end],
    severity: diagnostic.severity,
    message: message === "" ? "(no message)" : message,
  };
  // An empty source or code is left out: §10.3 wants 1 character or more.
  if (typeof diagnostic.source === "string" && diagnostic.source !== "") {
    wire.source = cut(diagnostic.source.replace(new RegExp(CONTROL, "g"), REPLACEMENT), MAX_SOURCE_CHARS);
  }
  if (Number.isSafeInteger(diagnostic.code)) {
    wire.code = diagnostic.code;
  } else if (diagnostic.code !== undefined && diagnostic.code !== null && String(diagnostic.code) !== "") {
    wire.code = cut(String(diagnostic.code).replace(new RegExp(CONTROL, "g"), REPLACEMENT), MAX_CODE_CHARS);
  }
  return wire;
}

/** The `diagnostics` message for `path`: the 500 most severe of `diagnostics` (in
 *  their given order within a severity), each made valid, and no more than fit in
 *  MAX_DIAGNOSTICS_BYTES. Throws PathError for a path §10.1 refuses. */
export function diagnosticsMessage(path: string, diagnostics: readonly Diagnostic[]): AppMessage {
  checkPath(path);
  const rank = (diagnostic: Diagnostic): number => SEVERITIES.indexOf(diagnostic.severity);
  // An unknown severity can only come from untyped code: such a diagnostic is left out.
  const ordered = diagnostics.filter((diagnostic) => isSeverity(diagnostic.severity));
  ordered.sort((a, b) => rank(a) - rank(b)); // Array.prototype.sort is stable
  const wire: Record<string, unknown>[] = [];
  let bytes = 0;
  for (const diagnostic of ordered) {
    const item = wireDiagnostic(diagnostic);
    bytes += utf8(JSON.stringify(item)).length + 1;
    if (wire.length === MAX_DIAGNOSTICS || bytes > MAX_DIAGNOSTICS_BYTES) break;
    wire.push(item);
  }
  return { type: DIAGNOSTICS, fields: { path, diagnostics: wire }, body: new Uint8Array(0) };
}

export interface DiagnosticsSenderOptions {
  readonly clock?: Clock | undefined;
  readonly intervalMs?: number | undefined;
  /** Whether some guest has `path` open (HostFiles.guestsWith): lists of other files
   *  are not sent (§10.3). By default every list is. */
  readonly wanted?: ((path: string) => boolean) | undefined;
}

/** What DiagnosticsSender needs of a Peer. */
export type DiagnosticsPeer = Pick<SessionPeer, "send">;

interface PathState {
  latest: AppMessage;
  /** The fields last sent to everyone, as JSON: an unchanged list is not sent again. */
  sentKey: string | null;
  lastSentAt: number;
  timer: unknown;
}

/** The host's side: give it each file's list whenever the editor's changes; it
 *  sends them to everyone, each file's at most every 500 ms. */
export class DiagnosticsSender {
  private readonly clock: Clock;
  private readonly intervalMs: number;
  private readonly wanted: (path: string) => boolean;
  private readonly paths = new Map<string, PathState>();

  constructor(
    private readonly peer: DiagnosticsPeer,
    options: DiagnosticsSenderOptions = {},
  ) {
    this.clock = options.clock ?? SYSTEM_CLOCK;
    this.intervalMs = Math.max(options.intervalMs ?? DIAGNOSTICS_INTERVAL_MS, DIAGNOSTICS_INTERVAL_MS);
    this.wanted = options.wanted ?? (() => true);
  }

  /** The host's editor has `diagnostics` for `path` now (an empty list: none).
   *  Throws PathError for a path §10.1 refuses. */
  set(path: string, diagnostics: readonly Diagnostic[]): void {
    const latest = diagnosticsMessage(path, diagnostics);
    const state = this.paths.get(path);
    if (state === undefined) {
      this.paths.set(path, { latest, sentKey: null, lastSentAt: -Infinity, timer: null });
    } else {
      state.latest = latest;
    }
    this.schedule(path);
  }

  /** Sends `path`'s latest list (empty if none) to one guest at once: after the
   *  `doc_sync` that answers its `open` (§10.3; HostFiles' `synced` event). */
  sendTo(peerId: number, path: string): void {
    const message = this.paths.get(path)?.latest ?? diagnosticsMessage(path, []);
    this.peer.send(message, peerId).catch(() => undefined); // too large, or not connected
  }

  /** Forgets `path` (it left the tree): nothing further is sent for it. */
  delete(path: string): void {
    const state = this.paths.get(path);
    if (state !== undefined) this.clock.clearTimeout(state.timer);
    this.paths.delete(path);
  }

  dispose(): void {
    for (const path of [...this.paths.keys()]) this.delete(path);
  }

  private schedule(path: string): void {
    const state = this.paths.get(path);
    if (state === undefined || state.timer !== null) return; // the pending send takes the latest
    const wait = state.lastSentAt + this.intervalMs - this.clock.now();
    if (wait <= 0) {
      this.flush(path);
      return;
    }
    state.timer = this.clock.setTimeout(() => {
      state.timer = null;
      this.flush(path);
    }, wait);
  }

  private flush(path: string): void {
    const state = this.paths.get(path);
    if (state === undefined) return;
    if (!this.wanted(path)) {
      state.sentKey = null; // whoever opens it next gets the list from sendTo
      return;
    }
    const key = JSON.stringify(state.latest.fields);
    if (key === state.sentKey) return;
    state.sentKey = key;
    state.lastSentAt = this.clock.now();
    this.peer.send(state.latest).catch(() => undefined);
  }
}

// -- the guest's side ----------------------------------------------------------------

export interface GuestDiagnosticsEvents {
  /** The host's list for `path` now (empty: none); `dropped` bad ones were left out. */
  change: { readonly path: string; readonly diagnostics: readonly Diagnostic[]; readonly dropped: number };
  /** `path`'s diagnostics are gone: the file left the tree, the session ended, or dispose. */
  cleared: { readonly path: string };
  /** A `diagnostics` message that breaks §10.3 whole, or not from the host: dropped. */
  ignored: { readonly sender: number; readonly problem: string };
}

/** The guest's side: the host's lists, by path. Remove a file's with `clear` when it
 *  leaves the tree; all go when the peer closes for good, or on dispose. */
export class GuestDiagnostics extends Emitter<GuestDiagnosticsEvents> {
  private readonly lists = new Map<string, readonly Diagnostic[]>();
  private readonly stops: (() => void)[] = [];

  constructor(peer: Pick<SessionPeer, "on">) {
    super();
    this.stops.push(
      peer.on("message", (message) => this.receive(message)),
      peer.on("closed", () => this.clearAll()),
    );
  }

  /** The host's diagnostics for `path` (empty when none). */
  get(path: string): readonly Diagnostic[] {
    return this.lists.get(path) ?? [];
  }

  /** The paths that have diagnostics. */
  get paths(): string[] {
    return [...this.lists.keys()].sort();
  }

  /** `path` left the tree: its diagnostics go. */
  clear(path: string): void {
    if (this.lists.delete(path)) this.emit("cleared", { path });
  }

  dispose(): void {
    for (const stop of this.stops.splice(0)) stop();
    this.clearAll();
  }

  private clearAll(): void {
    for (const path of this.paths) this.clear(path);
  }

  private receive(message: ReceivedMessage): void {
    if (message.type !== DIAGNOSTICS) return;
    if (message.sender !== HOST_PEER_ID) {
      this.emit("ignored", { sender: message.sender, problem: "diagnostics from a peer that is not the host" });
      return;
    }
    const parsed = parseDiagnostics(message.fields);
    if (!parsed.ok) {
      this.emit("ignored", { sender: message.sender, problem: parsed.problem });
      return;
    }
    if (parsed.diagnostics.length > 0) this.lists.set(parsed.path, parsed.diagnostics);
    else this.lists.delete(parsed.path);
    this.emit("change", { path: parsed.path, diagnostics: parsed.diagnostics, dropped: parsed.dropped });
  }
}
