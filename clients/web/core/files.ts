// The guest's side of folder sharing (docs/protocol.md §10.1), over Yjs.
//
// Each open file is a Y.Doc whose text is the root Text "content". The guest says
// `hello_app` to the host once admitted (and again after a resume, or when the
// host comes back or first arrives); the host answers with `tree`. `open` asks for
// a file with the guest's state vector; `doc_sync` brings the guest level, and the
// guest answers with whatever the host lacks. Edits travel as `doc_update`.
// Everything lives in memory: nothing is stored anywhere.

import * as Y from "yjs";

import { equalBytes, fromBase64 } from "./bytes.js";
import type { PeerInfo } from "./control.js";
import { Emitter, type Listener } from "./emitter.js";
import type { AppMessage, ReceivedMessage } from "./messages.js";
import { checkPath, pathProblem, PathError } from "./paths.js";
import { CLIENT_NAME, HOST_PEER_ID, type PeerEvents } from "./peer.js";
import type { PeerStatus } from "./status.js";

export const TEXT_NAME = "content";
export type EntryKind = "text" | "binary" | "too_large";
export type ShareMode = "on-demand" | "all";
const KINDS: readonly EntryKind[] = ["text", "binary", "too_large"];
/** What this client tells the host it can do, in `hello_app` (the web page draws
 *  cursors but does not show the host's diagnostics, §10.3). */
export const FEATURES: readonly string[] = ["awareness"];
// Marks the transactions that apply a peer's update: those are not sent back.
const REMOTE = Symbol("remote");
const EMPTY_UPDATE = Y.encodeStateAsUpdate(new Y.Doc());

export interface TreeEntry {
  readonly path: string;
  readonly size: number;
  /** Only `text` files have contents to open; the others are shared by name. */
  readonly kind: EntryKind;
}

/** What GuestFiles (and Awareness) need of a Peer: a Peer fits, and so does a fake. */
export interface SessionPeer {
  readonly peerId: number;
  readonly status: PeerStatus;
  readonly readOnly: boolean;
  readonly peers: ReadonlyMap<number, PeerInfo>;
  on<K extends keyof PeerEvents>(name: K, listener: Listener<PeerEvents[K]>): () => void;
  send(message: AppMessage, to?: number): Promise<boolean>;
}

export interface FilesEvents {
  /** A new tree from the host; `gone`: open files it no longer shares (now closed). */
  tree: {
    readonly entries: ReadonlyMap<string, TreeEntry>;
    readonly share: ShareMode;
    readonly keepFiles: boolean;
    readonly gone: readonly string[];
  };
  /** A `doc_sync` was applied: the file is level with the host's and live. */
  synced: { readonly path: string; readonly doc: Y.Doc };
  /** The host did not accept an `open` or an edit. */
  refused: { readonly path: string; readonly reason: string };
  /** Who has which file open, by peer id. */
  opens: { readonly opens: ReadonlyMap<number, readonly string[]> };
  /** A local edit that was not sent: this guest is read-only, or the edit is too large. */
  unsent: { readonly path: string; readonly problem: string };
  /** A file message from a peer that breaks §10.1, dropped. */
  ignored: { readonly type: string; readonly sender: number; readonly problem: string };
}

interface OpenFile {
  readonly doc: Y.Doc;
  synced: boolean;
}

/** A message from a peer that breaks §10.1: dropped, and said as an `ignored` event. */
class BadMessage extends Error {}

function isEntryKind(value: unknown): value is EntryKind {
  return typeof value === "string" && (KINDS as readonly string[]).includes(value);
}

/** One `[path, size, kind]` of a tree. */
function parseEntry(item: unknown): TreeEntry {
  if (!Array.isArray(item) || item.length !== 3) throw new BadMessage("not a [path, size, kind] entry");
  const [path, size, kind] = item as unknown[];
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0 || !isEntryKind(kind)) {
    throw new BadMessage("not a [path, size, kind] entry");
  }
  return { path: checkPath(path), size, kind };
}

function parseOpens(value: unknown): Map<number, string[]> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new BadMessage("'opens' is not an object");
  }
  const opens = new Map<number, string[]>();
  for (const [peer, paths] of Object.entries(value)) {
    const peerId = Number(peer);
    if (!/^[1-9][0-9]{0,9}$/.test(peer) || peerId > 0xffffffff || !Array.isArray(paths)) {
      throw new BadMessage("'opens' holds something that is not a peer id and its paths");
    }
    opens.set(
      peerId,
      paths.filter((path): path is string => pathProblem(path) === null),
    );
  }
  return opens;
}

/** The guest's view of the host's shared folder. Create it once the Peer exists;
 *  it follows the peer's admission, resumes and the host's comings and goings. */
export class GuestFiles extends Emitter<FilesEvents> {
  entries: ReadonlyMap<string, TreeEntry> = new Map();
  share: ShareMode = "on-demand";
  keepFiles = false;
  opens: ReadonlyMap<number, readonly string[]> = new Map();
  /** Whether a tree has arrived (an empty one counts). */
  treeReceived = false;

  private readonly files = new Map<string, OpenFile>();
  private readonly stops: (() => void)[] = [];

  /** `client` and `features` are what `hello_app` says (§10): an editor that shows
   *  the host's diagnostics announces ["awareness", "diagnostics"]. */
  constructor(
    private readonly peer: SessionPeer,
    private readonly client: string = CLIENT_NAME,
    private readonly features: readonly string[] = FEATURES,
  ) {
    super();
    const rejoin = (): void => void this.rejoin();
    this.stops.push(
      peer.on("admitted", rejoin),
      peer.on("resumed", rejoin),
      // The host learns only from its hello_app-s who wants a tree, and a guest's
      // hello_app sent while the host was away or not yet there went nowhere.
      peer.on("host_back", rejoin),
      peer.on("host_joined", rejoin),
      peer.on("message", (message) => void this.receive(message)),
    );
    if (peer.status === "admitted") rejoin();
  }

  /** Stops following the peer; the documents stay as they are. */
  dispose(): void {
    for (const stop of this.stops.splice(0)) stop();
    for (const file of this.files.values()) file.doc.destroy();
    this.files.clear();
  }

  /** The open files' paths. */
  get openPaths(): string[] {
    return [...this.files.keys()].sort();
  }

  doc(path: string): Y.Doc | undefined {
    return this.files.get(path)?.doc;
  }

  isSynced(path: string): boolean {
    return this.files.get(path)?.synced ?? false;
  }

  /** Opens `path` (or returns it, already open): its document is empty until the
   *  `synced` event for it. Throws PathError for a path §10.1 refuses, or one the
   *  tree has but not as text. */
  open(path: string): Y.Doc {
    const checked = checkPath(path);
    const kind = this.entries.get(checked)?.kind;
    if (this.treeReceived && kind !== "text") {
      throw new PathError(`${checked}: not shared as text (${kind ?? "not in the tree"})`);
    }
    const file = this.fileFor(checked);
    void this.askFor(checked, file);
    return file.doc;
  }

  /** Stops keeping `path` live here. (§10.1 has no message for it: the host keeps
   *  listing it in `opens` and its updates are ignored.) */
  close(path: string): void {
    this.files.get(path)?.doc.destroy();
    this.files.delete(path);
  }

  private fileFor(path: string): OpenFile {
    let file = this.files.get(path);
    if (file === undefined) {
      const doc = new Y.Doc();
      file = { doc, synced: false };
      doc.on("update", (update: Uint8Array, origin: unknown) => {
        if (origin !== REMOTE) void this.publish(path, update);
      });
      this.files.set(path, file);
    }
    return file;
  }

  private async askFor(path: string, file: OpenFile): Promise<void> {
    // A new file's state vector is sent empty, as §10.1 says.
    const known = file.synced || file.doc.getText(TEXT_NAME).length > 0;
    const state = known ? Y.encodeStateVector(file.doc) : new Uint8Array(0);
    await this.peer.send({ type: "open", fields: { path }, body: state }, HOST_PEER_ID);
  }

  /** After admission, a resume, or the host's return: ask for the tree again and
   *  bring every open file level (§5.3, §10.1). */
  async rejoin(): Promise<void> {
    if (this.peer.status !== "admitted") return;
    await this.peer.send(
      { type: "hello_app", fields: { client: this.client, features: this.features }, body: new Uint8Array(0) },
      HOST_PEER_ID,
    );
    for (const [path, file] of [...this.files].sort(([a], [b]) => (a < b ? -1 : 1))) {
      await this.askFor(path, file);
    }
  }

  private async publish(path: string, update: Uint8Array): Promise<void> {
    if (this.peer.readOnly) {
      this.emit("unsent", { path, problem: "you are read-only: the edit is not shared" });
      return;
    }
    try {
      // Not sent while disconnected: the doc_sync after the resume carries it.
      await this.peer.send({ type: "doc_update", fields: { path }, body: update });
    } catch (thrown) {
      this.emit("unsent", { path, problem: String(thrown) });
    }
  }

  private async receive(message: ReceivedMessage): Promise<void> {
    try {
      await this.handle(message);
    } catch (thrown) {
      // One peer's bad message must not stop the session for the others.
      const problem = thrown instanceof Error ? thrown.message : String(thrown);
      this.emit("ignored", { type: message.type, sender: message.sender, problem });
    }
  }

  private async handle(message: ReceivedMessage): Promise<void> {
    const fromHost = message.sender === HOST_PEER_ID;
    switch (message.type) {
      case "tree":
        if (fromHost) await this.tree(message.fields);
        else throw new BadMessage("a tree from a peer that is not the host");
        break;
      case "doc_sync":
        if (fromHost) await this.docSync(message);
        else throw new BadMessage("a doc_sync from a peer that is not the host");
        break;
      case "doc_update":
        this.docUpdate(message);
        break;
      case "opens":
        if (!fromHost) throw new BadMessage("opens from a peer that is not the host");
        this.opens = parseOpens(message.fields.opens);
        this.emit("opens", { opens: this.opens });
        break;
      case "refused":
        if (!fromHost) throw new BadMessage("refused from a peer that is not the host");
        this.emit("refused", { path: checkPath(message.fields.path), reason: String(message.fields.reason) });
        break;
    }
  }

  private async tree(fields: Readonly<Record<string, unknown>>): Promise<void> {
    const items = fields.entries;
    if (!Array.isArray(items)) throw new BadMessage("'entries' is not a list");
    const entries = new Map<string, TreeEntry>();
    for (const item of items) {
      try {
        const entry = parseEntry(item);
        entries.set(entry.path, entry);
      } catch (thrown) {
        // A bad entry is left out; the others are kept (§10.1).
        this.emit("ignored", { type: "tree", sender: HOST_PEER_ID, problem: (thrown as Error).message });
      }
    }
    this.entries = entries;
    this.treeReceived = true;
    this.share = fields.share === "all" ? "all" : "on-demand";
    this.keepFiles = fields.keep_files === true;
    const gone = this.openPaths.filter((path) => entries.get(path)?.kind !== "text");
    for (const path of gone) this.close(path);
    this.emit("tree", { entries, share: this.share, keepFiles: this.keepFiles, gone });
    // Opens asked for before the host was there went nowhere: ask again.
    for (const [path, file] of this.files) if (!file.synced) await this.askFor(path, file);
  }

  private apply(doc: Y.Doc, update: Uint8Array): void {
    try {
      Y.applyUpdate(doc, update, REMOTE);
    } catch {
      throw new BadMessage("an update that is not a Yjs update");
    }
  }

  private async docSync(message: ReceivedMessage): Promise<void> {
    const path = checkPath(message.fields.path);
    const hostState = fromBase64(message.fields.sv); // checked before anything changes
    if (hostState === null) throw new BadMessage("'sv' is not base64 with '+', '/' and '=' padding");
    if (hostState.length > 0) {
      try {
        Y.decodeStateVector(hostState);
      } catch {
        throw new BadMessage("'sv' is not a Yjs state vector");
      }
    }
    const file = this.fileFor(path); // with `share: all`, sent unasked: the file opens
    this.apply(file.doc, message.body);
    file.synced = true;
    this.emit("synced", { path, doc: file.doc });
    const missing = Y.encodeStateAsUpdate(file.doc, hostState.length > 0 ? hostState : undefined);
    if (!this.peer.readOnly && !equalBytes(missing, EMPTY_UPDATE)) {
      // Edits made here while disconnected: the host lacks them.
      await this.peer.send({ type: "doc_update", fields: { path }, body: missing });
    }
  }

  private docUpdate(message: ReceivedMessage): void {
    const path = checkPath(message.fields.path);
    if (this.peer.peers.get(message.sender)?.readOnly === true) {
      throw new BadMessage("an edit from a read-only peer");
    }
    const file = this.files.get(path);
    if (file !== undefined) this.apply(file.doc, message.body);
  }
}
