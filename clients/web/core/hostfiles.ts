// The host's side of folder sharing (docs/protocol.md §10.1), over Yjs: what
// ctclient's HostShare does, without a file system. The embedder says which names
// are shared (`setEntries`, after scanning the folder with its ignore files) and
// gives a file's text when it is first opened (`load`); this class answers the
// guests' `hello_app`, `open` and `doc_update`, and keeps `opens`.
//
// Each open file is one Y.Doc whose text is the root Text "content"; the text
// `load` gives is where the document starts (it reaches guests in `doc_sync`, never
// as an edit). Local changes to a document are sent as `doc_update`. What peers
// send is handled one message at a time, in the order the relay delivered it.

import * as Y from "yjs";

import { toBase64 } from "./bytes.js";
import type { PeerInfo, Role } from "./control.js";
import { Emitter } from "./emitter.js";
import { TEXT_NAME, type SessionPeer, type ShareMode, type TreeEntry } from "./files.js";
import type { AppMessage, ReceivedMessage } from "./messages.js";
import { checkPath, pathProblem } from "./paths.js";

/** What HostFiles needs of a Peer: a host's Peer fits, and so does a fake. */
export interface HostPeer extends SessionPeer {
  readonly role: Role;
}

export interface HostFilesOptions {
  /** `all`: every text file goes to each guest unasked (§10.1). */
  readonly share: ShareMode;
  /** Tells guests they may keep the files after the session (`tree.keep_files`). */
  readonly keepFiles: boolean;
  /** A shared file's current text; null when it cannot be read as text. */
  readonly load: (path: string) => Promise<string | null>;
}

export interface HostFilesEvents {
  /** A document was loaded (a guest opened it, or the host did): bind it to an editor. */
  opened: { readonly path: string; readonly doc: Y.Doc };
  /** A document was closed: its path is no longer shared as text. */
  closed: { readonly path: string };
  /** A `doc_sync` went to a guest: the file is live there (time to send it the
   *  file's diagnostics, §10.3). */
  synced: { readonly peerId: number; readonly path: string; readonly doc: Y.Doc };
  /** Who has which file open changed; the guests were told. */
  opens: { readonly opens: ReadonlyMap<number, readonly string[]> };
  /** A guest said `hello_app` (and got the tree). Its texts are the peer's own: escape them. */
  hello: { readonly peerId: number; readonly client: string | null; readonly features: readonly string[] };
  /** A read-only guest's edit was refused, and it was told (once per file). */
  refusedEdit: { readonly peerId: number; readonly path: string };
  /** A message from a peer that breaks §10.1, dropped. */
  ignored: { readonly type: string; readonly sender: number; readonly problem: string };
  /** A message that could not go: over the frame limit, say. */
  unsent: { readonly type: string; readonly path: string | null; readonly problem: string };
}

// Marks the transactions that apply a guest's update: those are not sent back.
const REMOTE = Symbol("remote");
const NOTHING = new Uint8Array(0);
const KINDS = new Set(["text", "binary", "too_large"]);
/** What only the host sends (§10.1, §10.3): from anyone else, a forgery. */
const FROM_HOST_ONLY = new Set(["tree", "doc_sync", "opens", "refused", "diagnostics"]);

class BadMessage extends Error {}

function usable(entry: TreeEntry): boolean {
  return (
    pathProblem(entry.path) === null &&
    Number.isSafeInteger(entry.size) &&
    entry.size >= 0 &&
    KINDS.has(entry.kind)
  );
}

function sameEntries(a: ReadonlyMap<string, TreeEntry>, b: ReadonlyMap<string, TreeEntry>): boolean {
  if (a.size !== b.size) return false;
  for (const [path, entry] of a) {
    const other = b.get(path);
    if (other === undefined || other.size !== entry.size || other.kind !== entry.kind) return false;
  }
  return true;
}

/** The host's shared folder, as guests see it. Create it with the host's Peer
 *  (before or after its first welcome); it follows admissions, read-only flags,
 *  departures and the host's own resumes. */
export class HostFiles extends Emitter<HostFilesEvents> {
  readonly share: ShareMode;
  readonly keepFiles: boolean;

  private tree = new Map<string, TreeEntry>();
  private readonly docs = new Map<string, Y.Doc>();
  private readonly loading = new Map<string, Promise<Y.Doc | null>>();
  /** Guest → the paths it has open. */
  private readonly opened = new Map<number, Set<string>>();
  private readonly readOnly = new Set<number>();
  /** Guest → the paths it was told its edits are refused in (§10.1: once per file). */
  private readonly refused = new Map<number, Set<string>>();
  /** The guests that said hello_app: with `share: all`, new files go to them. */
  private readonly greeted = new Set<number>();
  private readonly stops: (() => void)[] = [];
  private inbox: Promise<void> = Promise.resolve();
  private disposed = false;

  constructor(
    private readonly peer: HostPeer,
    private readonly options: HostFilesOptions,
  ) {
    super();
    if (peer.role !== "host") throw new RangeError("HostFiles needs the host's peer");
    this.share = options.share;
    this.keepFiles = options.keepFiles;
    this.stops.push(
      peer.on("message", (message) => this.queue(() => this.handle(message), message)),
      // The first welcome and every resumed one (§5.2, §5.3).
      peer.on("welcome", (frame) => {
        if (frame.state === "admitted") this.queue(() => this.welcomed(frame.peers));
      }),
      peer.on("peer_joined", ({ peer: guest }) => this.queue(() => this.follow(guest))),
      peer.on("read_only", ({ peer: guest }) => this.queue(() => this.follow(guest))),
      peer.on("peer_left", ({ peer: guest }) => this.queue(() => this.forget([guest.peerId]))),
    );
    if (peer.status === "admitted") this.queue(() => this.welcomed([...peer.peers.values()]));
  }

  // -- for the embedder ----------------------------------------------------------------

  /** The shared names, by path, in path order. */
  get entries(): ReadonlyMap<string, TreeEntry> {
    return this.tree;
  }

  /** The open documents' paths. */
  get openPaths(): string[] {
    return [...this.docs.keys()].sort();
  }

  /** Who has which file open: guests with at least one, by peer id. */
  get opens(): ReadonlyMap<number, readonly string[]> {
    const opens = new Map<number, string[]>();
    for (const [peerId, paths] of [...this.opened].sort(([a], [b]) => a - b)) {
      if (paths.size > 0) opens.set(peerId, [...paths].sort());
    }
    return opens;
  }

  /** The guests that have `path` open. */
  guestsWith(path: string): number[] {
    return [...this.opens].filter(([, paths]) => paths.includes(path)).map(([peerId]) => peerId);
  }

  doc(path: string): Y.Doc | undefined {
    return this.docs.get(path);
  }

  isReadOnly(peerId: number): boolean {
    return this.readOnly.has(peerId);
  }

  /** Opens `path` here (or returns it, already open): the document guests get.
   *  Null when it is not shared as text or `load` cannot read it; rejects with
   *  PathError for a path §10.1 refuses. */
  async open(path: string): Promise<Y.Doc | null> {
    return this.document(checkPath(path));
  }

  /** The shared names now. Entries whose path §10.1 refuses (or that repeat one, or
   *  have a bad size or kind) are left out and returned. When the tree changed,
   *  everyone gets it, and open documents no longer shared as text are closed. */
  setEntries(entries: readonly TreeEntry[]): { readonly changed: boolean; readonly leftOut: readonly string[] } {
    const accepted = new Map<string, TreeEntry>();
    const leftOut: string[] = [];
    for (const entry of entries) {
      if (!usable(entry) || accepted.has(entry.path)) leftOut.push(String(entry.path));
      else accepted.set(entry.path, { path: entry.path, size: entry.size, kind: entry.kind });
    }
    const next = new Map([...accepted].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    const before = this.tree;
    if (sameEntries(before, next) || this.disposed) return { changed: false, leftOut };
    this.tree = next;
    const gone = this.openPaths.filter((path) => !this.isText(path));
    for (const path of gone) this.close(path);
    void this.send(this.treeMessage());
    if (gone.length > 0) void this.dropOpens((paths) => gone.filter((path) => paths.delete(path)).length > 0);
    const added = [...next.values()].filter((entry) => entry.kind === "text" && before.get(entry.path)?.kind !== "text");
    if (this.share === "all" && added.length > 0) {
      // "Sent unasked for every text file" (§10.1): a new one too.
      this.queue(async () => {
        for (const guest of [...this.greeted]) {
          for (const entry of added) if (this.isText(entry.path)) await this.syncTo(guest, entry.path, NOTHING);
        }
      });
    }
    return { changed: true, leftOut };
  }

  /** Refuses `peerId`'s edits from now on, or accepts them again. The server's
   *  flag (§5.2 `read_only`) is followed too; this is for a host that refuses a
   *  guest's edits before the server has said so. */
  setReadOnly(peerId: number, readOnly: boolean): void {
    if (readOnly) {
      this.readOnly.add(peerId);
    } else {
      this.readOnly.delete(peerId);
      this.refused.delete(peerId);
    }
  }

  /** Resolves once every message received so far has been handled. */
  async idle(): Promise<void> {
    let tail: Promise<void>;
    do {
      tail = this.inbox;
      await tail;
    } while (tail !== this.inbox);
  }

  /** Stops following the peer and closes every document. */
  dispose(): void {
    this.disposed = true;
    for (const stop of this.stops.splice(0)) stop();
    for (const doc of this.docs.values()) doc.destroy();
    this.docs.clear();
  }

  // -- documents -------------------------------------------------------------------------

  private isText(path: string): boolean {
    return this.tree.get(path)?.kind === "text";
  }

  private document(path: string): Promise<Y.Doc | null> {
    const open = this.docs.get(path);
    if (open !== undefined) return Promise.resolve(open);
    if (this.disposed || !this.isText(path)) return Promise.resolve(null);
    let pending = this.loading.get(path);
    if (pending === undefined) {
      pending = this.load(path).finally(() => this.loading.delete(path));
      this.loading.set(path, pending);
    }
    return pending;
  }

  private async load(path: string): Promise<Y.Doc | null> {
    let text: unknown;
    try {
      text = await this.options.load(path);
    } catch {
      text = null;
    }
    // It may have gone from the tree while it was read.
    if (typeof text !== "string" || this.disposed || !this.isText(path)) return null;
    const doc = new Y.Doc();
    doc.getText(TEXT_NAME).insert(0, text); // where it starts, before anyone listens: not an edit
    doc.on("update", (update: Uint8Array, origin: unknown) => {
      if (origin !== REMOTE) void this.send({ type: "doc_update", fields: { path }, body: update });
    });
    this.docs.set(path, doc);
    this.emit("opened", { path, doc });
    return doc;
  }

  private close(path: string): void {
    this.docs.get(path)?.destroy();
    this.docs.delete(path);
    for (const paths of this.refused.values()) paths.delete(path);
    this.emit("closed", { path });
  }

  // -- guests ----------------------------------------------------------------------------

  /** A welcome (the first, or after this host's resume): every admitted guest is
   *  treated as just admitted (§5.2), and gets the tree again: a guest's hello_app
   *  sent while this host was away reached nobody, and guests resynchronise their
   *  open files by `open` (§10.1). */
  private async welcomed(peers: readonly PeerInfo[]): Promise<void> {
    const guests = peers.filter((info) => info.role === "guest");
    const present = new Set(guests.map((guest) => guest.peerId));
    // Guests that left while this host was away: their `left` was not kept for it.
    const known = new Set([...this.opened.keys(), ...this.greeted, ...this.readOnly, ...this.refused.keys()]);
    await this.forget([...known].filter((peerId) => !present.has(peerId)));
    for (const guest of guests) this.follow(guest);
    const tree = this.treeMessage();
    for (const guest of guests) if (guest.state === "admitted") await this.send(tree, guest.peerId);
  }

  /** The server's word on a guest's read-only flag. */
  private follow(guest: PeerInfo): void {
    if (guest.role === "guest") this.setReadOnly(guest.peerId, guest.readOnly);
  }

  /** Guests that left: they have nothing open any more, and nothing of them is kept. */
  private async forget(peerIds: readonly number[]): Promise<void> {
    for (const peerId of peerIds) {
      this.greeted.delete(peerId);
      this.setReadOnly(peerId, false);
    }
    const gone = new Set(peerIds);
    await this.dropOpens((paths, peerId) => gone.has(peerId) && paths.size > 0, gone);
  }

  /** Removes what `drop` says from `opens` (and the guests in `remove`), and tells
   *  everyone when anything changed. */
  private async dropOpens(
    drop: (paths: Set<string>, peerId: number) => boolean,
    remove: ReadonlySet<number> = new Set(),
  ): Promise<void> {
    let changed = false;
    for (const [peerId, paths] of this.opened) {
      if (drop(paths, peerId)) changed = true;
      if (remove.has(peerId)) this.opened.delete(peerId);
    }
    if (changed) await this.publishOpens();
  }

  private async publishOpens(): Promise<void> {
    const opens = this.opens;
    this.emit("opens", { opens });
    const fields: Record<string, string[]> = {};
    for (const [peerId, paths] of opens) fields[String(peerId)] = [...paths];
    await this.send({ type: "opens", fields: { opens: fields }, body: NOTHING });
  }

  private treeMessage(): AppMessage {
    const entries = [...this.tree.values()].map((entry) => [entry.path, entry.size, entry.kind]);
    return { type: "tree", fields: { entries, share: this.share, keep_files: this.keepFiles }, body: NOTHING };
  }

  // -- messages --------------------------------------------------------------------------

  /** Runs `job` after everything queued before it. A peer's bad message is an
   *  `ignored` event; it never stops the others. */
  private queue(job: () => Promise<void> | void, message?: ReceivedMessage): void {
    this.inbox = this.inbox.then(async () => {
      if (this.disposed) return;
      try {
        await job();
      } catch (thrown) {
        if (message === undefined) {
          this.onListenerError(thrown);
          return;
        }
        const problem = thrown instanceof Error ? thrown.message : String(thrown);
        this.emit("ignored", { type: message.type, sender: message.sender, problem });
      }
    });
  }

  private async handle(message: ReceivedMessage): Promise<void> {
    if (FROM_HOST_ONLY.has(message.type)) throw new BadMessage(`only the host sends ${message.type}`);
    switch (message.type) {
      case "hello_app":
        await this.hello(message);
        break;
      case "open":
        await this.openFor(message.sender, checkPath(message.fields.path), message.body);
        break;
      case "doc_update":
        await this.docUpdate(message);
        break;
    }
  }

  private async hello(message: ReceivedMessage): Promise<void> {
    const { client, features } = message.fields;
    this.greeted.add(message.sender);
    this.emit("hello", {
      peerId: message.sender,
      client: typeof client === "string" ? client : null,
      features: Array.isArray(features) ? features.filter((item): item is string => typeof item === "string") : [],
    });
    await this.send(this.treeMessage(), message.sender);
    if (this.share !== "all") return;
    for (const entry of [...this.tree.values()]) {
      if (entry.kind === "text") await this.syncTo(message.sender, entry.path, NOTHING);
    }
  }

  private async openFor(guest: number, path: string, state: Uint8Array): Promise<void> {
    if (state.length > 0) {
      try {
        Y.decodeStateVector(state);
      } catch {
        throw new BadMessage("an open whose body is not a Yjs state vector");
      }
    }
    await this.syncTo(guest, path, state);
  }

  /** Sends `guest` what it lacks of `path` (`state`: its state vector, empty for all). */
  private async syncTo(guest: number, path: string, state: Uint8Array): Promise<void> {
    const doc = await this.document(path);
    if (doc === null || this.docs.get(path) !== doc) {
      await this.send({ type: "refused", fields: { path, reason: "not_text" }, body: NOTHING }, guest);
      return;
    }
    // Computed and queued at once: a local edit made after it follows it on the wire.
    const update = Y.encodeStateAsUpdate(doc, state.length > 0 ? state : undefined);
    const sync = { type: "doc_sync", fields: { path, sv: toBase64(Y.encodeStateVector(doc)) }, body: update };
    await this.send(sync, guest);
    if (this.docs.get(path) !== doc) return; // closed meanwhile: the new tree says so
    this.emit("synced", { peerId: guest, path, doc });
    let paths = this.opened.get(guest);
    if (paths === undefined) {
      paths = new Set();
      this.opened.set(guest, paths);
    }
    if (!paths.has(path)) {
      paths.add(path);
      await this.publishOpens();
    }
  }

  private async docUpdate(message: ReceivedMessage): Promise<void> {
    const path = checkPath(message.fields.path);
    const sender = message.sender;
    if (this.readOnly.has(sender)) {
      if (!this.isText(path)) throw new BadMessage("an edit of a file not shared as text");
      let told = this.refused.get(sender);
      if (told === undefined) {
        told = new Set();
        this.refused.set(sender, told);
      }
      if (told.has(path)) return; // said once for this file: later edits are just dropped
      told.add(path);
      this.emit("refusedEdit", { peerId: sender, path });
      await this.send({ type: "refused", fields: { path, reason: "read_only" }, body: NOTHING }, sender);
      return;
    }
    const doc = this.docs.get(path);
    if (doc === undefined) return; // not open here: nothing to keep in step
    try {
      Y.applyUpdate(doc, message.body, REMOTE);
    } catch {
      throw new BadMessage("an update that is not a Yjs update");
    }
  }

  private async send(message: AppMessage, to?: number): Promise<void> {
    try {
      await this.peer.send(message, to); // false: not connected; resumes resynchronise
    } catch (thrown) {
      const path = typeof message.fields.path === "string" ? message.fields.path : null;
      this.emit("unsent", { type: message.type, path, problem: thrown instanceof Error ? thrown.message : String(thrown) });
    }
  }
}
