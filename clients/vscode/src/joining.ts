// Joining: the host's folder as a virtual file system (`ctserver://<session>/<path>`),
// read from the session's documents, never from or to this machine's disk. A file's
// content is asked for when VS Code opens it (docs/protocol.md §10.1); edits flow
// through the binding, and VS Code's save is a no-op that keeps the editor clean
// (a dirty editor would be backed up to disk by VS Code's hot exit).

import { TextEncoder } from "node:util";

import * as vscode from "vscode";
import type * as Y from "yjs";

import { Awareness } from "../../web/core/awareness.js";
import { GuestDiagnostics } from "../../web/core/diagnostics.js";
import { GuestFiles, TEXT_NAME, type TreeEntry } from "../../web/core/files.js";
import { formatJoinLink, parseJoinLink } from "../../web/core/link.js";
import { checkPath, pathProblem } from "../../web/core/paths.js";
import { Peer } from "../../web/core/peer.js";
import { fromRecords } from "./diagnostics.js";
import { DocumentBinder } from "./documents.js";
import { SessionEditors, type LiveSession } from "./live.js";
import { socketFor, USER_AGENT } from "./net.js";
import { shown } from "./words.js";
import { colourFor } from "./presence.js";

export const SCHEME = "ctserver";
const SYNC_TIMEOUT_MS = 20_000;
const SAVE_DELAY_MS = 150;
const FEATURES = ["awareness", "diagnostics"];

export interface JoinOptions {
  readonly link: string;
  readonly name: string;
  readonly ca: string | undefined;
  /** Shown while the host has not admitted us yet; resolves when it has. `leave`
   *  gives up waiting (the person cancelled). */
  readonly waitInLobby: (admitted: Promise<void>, leave: () => void) => Thenable<void>;
}

export class GuestSession extends SessionEditors implements LiveSession {
  readonly role = "guest";
  readonly files: GuestFiles;
  readonly awareness: Awareness;
  readonly link: string;
  protected readonly binder: DocumentBinder;
  private readonly diagnostics: GuestDiagnostics;
  private readonly problems: vscode.DiagnosticCollection;
  private readonly saveTimers = new Map<string, NodeJS.Timeout>();
  private readonly changeListeners: ((paths: readonly string[]) => void)[] = [];
  private toldReadOnly = false;
  private finishing = false;
  private disposed = false;

  private constructor(
    readonly peer: Peer,
    link: string,
  ) {
    super();
    this.link = link;
    this.files = new GuestFiles(peer, USER_AGENT, FEATURES);
    this.awareness = new Awareness(peer, (path) => this.files.doc(path), {
      name: peer.name,
      colour: colourFor(peer.peerId),
    });
    this.binder = new DocumentBinder({
      pathOf: (uri) => this.pathOf(uri),
      docOf: (path) => (this.files.isSynced(path) ? this.files.doc(path) : undefined),
      readOnly: () => peer.readOnly,
      refused: () => this.tellReadOnly(),
      changed: (document) => this.saveSoon(document),
    });
    this.problems = vscode.languages.createDiagnosticCollection("ctserver");
    this.diagnostics = new GuestDiagnostics(peer);
    this.diagnostics.on("change", ({ path, diagnostics }) => {
      this.problems.set(this.uriOf(path), fromRecords(diagnostics, this.hostName));
    });
    this.diagnostics.on("cleared", ({ path }) => this.problems.delete(this.uriOf(path)));
    this.files.on("synced", () => this.binder.bindOpen());
    this.files.on("tree", ({ gone }) => {
      for (const path of gone) {
        this.binder.unbind(this.uriOf(path)); // if it comes back, it is a new document
        this.problems.delete(this.uriOf(path));
        this.diagnostics.clear(path);
      }
      for (const listener of this.changeListeners) listener(gone);
    });
    peer.on("read_only", ({ self, peer: who }) => {
      if (self) {
        this.toldReadOnly = false;
        void vscode.window.showInformationMessage(who.readOnly ? "ctserver: the host made you read-only." : "ctserver: you may edit again.");
      }
    });
    peer.on("decrypt_error", ({ likelyWrongKey }) => {
      if (likelyWrongKey) this.warnOnce("ctserver: nothing from this session decrypts: the join link's key is wrong. Copy the whole link, with the part after '#'.");
    });
    this.files.on("unsent", ({ problem }) => this.warnOnce(`ctserver: an edit of yours could not be shared: ${shown(problem)}`));
    peer.on("closed", ({ words, reason }) => void this.finished(reason ? `${words} (${shown(reason)})` : words));
  }


  /** Connect with the link's key, wait in the lobby if the host must admit us. */
  static async join(options: JoinOptions): Promise<GuestSession> {
    const link = parseJoinLink(options.link);
    const peer = new Peer({
      link,
      name: options.name,
      WebSocket: socketFor(link.sessionId, options.ca),
      client: USER_AGENT,
    });
    await peer.start();
    if (peer.status === "lobby") {
      const admitted = new Promise<void>((resolve, reject) => {
        peer.on("admitted", () => resolve());
        peer.on("closed", (closed) => reject(new Error(`${closed.words}${closed.reason ? ` (${closed.reason})` : ""}`)));
      });
      await options.waitInLobby(admitted, () => void peer.leave());
      await admitted;
    }
    return new GuestSession(peer, formatJoinLink(link));
  }

  get hostName(): string {
    return this.peer.peers.get(1)?.name ?? "host";
  }

  get sessionId(): string {
    return this.peer.link.sessionId;
  }

  uriOf(path: string): vscode.Uri {
    return vscode.Uri.from({ scheme: SCHEME, authority: this.sessionId, path: `/${path}` });
  }

  /** Whether `uri` is of this session. (VS Code writes a URI's authority in lower
   *  case when it makes one from text; a session id has both cases.) */
  owns(uri: vscode.Uri): boolean {
    return uri.scheme === SCHEME && uri.authority.toLowerCase() === this.sessionId.toLowerCase();
  }

  pathOf(uri: vscode.Uri): string | null {
    if (!this.owns(uri)) return null;
    const path = uri.path.replace(/^\//, "");
    return pathProblem(path) === null ? path : null;
  }

  docOf(path: string): Y.Doc | undefined {
    return this.files.isSynced(path) ? this.files.doc(path) : undefined;
  }

  async load(path: string): Promise<Y.Doc | null> {
    try {
      return await this.synced(path);
    } catch {
      return null;
    }
  }

  /** Told which paths went whenever the tree changes. */
  onTreeChange(listener: (gone: readonly string[]) => void): void {
    this.changeListeners.push(listener);
  }

  /** The document of `path` once the host's `doc_sync` arrived. */
  async synced(path: string): Promise<Y.Doc> {
    const checked = checkPath(path);
    const doc = this.files.open(checked);
    if (this.files.isSynced(checked)) return doc;
    return new Promise((resolve, reject) => {
      const stops: (() => void)[] = [];
      const done = (): void => {
        clearTimeout(timer);
        for (const stop of stops) stop();
      };
      const timer = setTimeout(() => {
        done();
        reject(vscode.FileSystemError.Unavailable(`${checked}: the host did not send it within 20 s`));
      }, SYNC_TIMEOUT_MS);
      stops.push(
        this.files.on("synced", ({ path: synced, doc: ready }) => {
          if (synced !== checked) return;
          done();
          resolve(ready);
        }),
        this.files.on("refused", ({ path: refused, reason }) => {
          if (refused !== checked) return;
          done();
          reject(vscode.FileSystemError.NoPermissions(`${checked}: the host refused it (${shown(reason)})`));
        }),
      );
    });
  }

  async finish(): Promise<void> {
    await this.peer.leave();
  }

  /** Keep the editor clean, so VS Code keeps no unsaved copy of it on disk: its
   *  save writes nothing (the edit is shared already). The active editor is saved
   *  without VS Code's save participants (format on save, trim whitespace...), which
   *  would otherwise rewrite what others are typing; others only by `save()`, which
   *  runs them (an extension cannot do otherwise; docs/clients.md says so). */
  private saveSoon(document: vscode.TextDocument): void {
    const key = document.uri.toString();
    clearTimeout(this.saveTimers.get(key));
    this.saveTimers.set(
      key,
      setTimeout(() => {
        this.saveTimers.delete(key);
        if (document.isClosed || !document.isDirty) return;
        if (vscode.window.activeTextEditor?.document === document) {
          void vscode.commands.executeCommand("workbench.action.files.saveWithoutFormatting");
        } else {
          void document.save();
        }
      }, SAVE_DELAY_MS),
    );
  }

  private tellReadOnly(): void {
    if (this.toldReadOnly) return;
    this.toldReadOnly = true;
    void vscode.window.showWarningMessage("ctserver: you are read-only in this session: your edit was taken back.");
  }

  /** The session ended: its editors close first, while the file system still
   *  answers for them (VS Code checks a file before saving it), then the rest goes. */
  private async finished(words: string): Promise<void> {
    if (this.disposed || this.finishing) return;
    this.finishing = true;
    for (const timer of this.saveTimers.values()) clearTimeout(timer);
    this.binder.dispose(); // no edit from now on; one under way lands within a moment
    await closeEditors((uri) => this.owns(uri)).catch(() => undefined);
    this.tellEnded(words);
    this.dispose();
  }

  /** Nothing of the session stays: editors closed (saved first, which writes
   *  nothing anywhere, so that no unsaved copy is kept; see `finished`), problems
   *  cleared, documents gone. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const timer of this.saveTimers.values()) clearTimeout(timer);
    this.binder.dispose();
    if (!this.finishing) void closeEditors((uri) => this.owns(uri)); // not ended: VS Code closes
    this.problems.clear();
    this.problems.dispose();
    this.diagnostics.dispose();
    this.awareness.dispose();
    this.files.dispose();
    if (this.peer.closed === null) this.peer.close();
  }
}

/** Closes the editors of an ended session. Each is saved first (a save that writes
 *  nothing), as a dirty one would make VS Code ask, and keep a copy on disk. */
async function closeEditors(ended: (uri: vscode.Uri) => boolean): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    const documents = vscode.workspace.textDocuments.filter((document) => ended(document.uri));
    await Promise.allSettled(documents.filter((document) => document.isDirty).map((document) => document.save()));
    if (documents.some((document) => document.isDirty)) continue;
    const tabs = vscode.window.tabGroups.all
      .flatMap((group) => group.tabs)
      .filter((tab) => tab.input instanceof vscode.TabInputText && ended(tab.input.uri));
    if (await vscode.window.tabGroups.close(tabs, true)) return;
  }
}

const encoder = new TextEncoder();

/** The `ctserver:` file system: the joined session's tree and documents. */
export class SharedFileSystem implements vscode.FileSystemProvider {
  private readonly emitter = new vscode.EventEmitter<vscode.FileChangeEvent[]>();
  readonly onDidChangeFile = this.emitter.event;
  private session: GuestSession | null = null;
  private readonly since = Date.now();

  use(session: GuestSession | null): void {
    this.session = session;
    // Read-only or not is a permission of every shared file: VS Code asks again,
    // and locks or unlocks the open editors.
    session?.peer.on("read_only", ({ self }) => {
      if (!self) return;
      const changed = [...session.files.entries.keys()].map((path) => session.uriOf(path));
      this.emitter.fire(changed.map((uri) => ({ type: vscode.FileChangeType.Changed, uri })));
    });
    session?.onTreeChange((gone) => {
      const root = session.uriOf("");
      this.emitter.fire([
        { type: vscode.FileChangeType.Changed, uri: root },
        ...gone.map((path) => ({ type: vscode.FileChangeType.Deleted, uri: session.uriOf(path) })),
      ]);
    });
  }

  private sessionFor(uri: vscode.Uri): GuestSession {
    const session = this.session;
    if (session === null || !session.owns(uri)) throw vscode.FileSystemError.Unavailable(uri);
    return session;
  }

  private pathIn(uri: vscode.Uri): string {
    const path = uri.path.replace(/^\/+|\/+$/g, "");
    if (path !== "" && pathProblem(path) !== null) throw vscode.FileSystemError.FileNotFound(uri);
    return path;
  }

  watch(): vscode.Disposable {
    return new vscode.Disposable(() => undefined);
  }

  stat(uri: vscode.Uri): vscode.FileStat {
    const session = this.sessionFor(uri);
    const path = this.pathIn(uri);
    const entry = session.files.entries.get(path);
    if (entry !== undefined) {
      const doc = session.docOf(path);
      const size = doc === undefined ? entry.size : encoder.encode(doc.getText(TEXT_NAME).toString()).length;
      const readonly = entry.kind !== "text" || session.peer.readOnly;
      return {
        type: vscode.FileType.File,
        ctime: this.since,
        mtime: this.since,
        size,
        ...(readonly ? { permissions: vscode.FilePermission.Readonly } : {}),
      };
    }
    if (path === "" || [...session.files.entries.keys()].some((shared) => shared.startsWith(`${path}/`))) {
      return { type: vscode.FileType.Directory, ctime: this.since, mtime: this.since, size: 0 };
    }
    throw vscode.FileSystemError.FileNotFound(uri);
  }

  readDirectory(uri: vscode.Uri): [string, vscode.FileType][] {
    const session = this.sessionFor(uri);
    return childrenOf(session.files.entries, this.pathIn(uri));
  }

  async readFile(uri: vscode.Uri): Promise<Uint8Array> {
    const session = this.sessionFor(uri);
    const path = this.pathIn(uri);
    const entry = session.files.entries.get(path);
    if (entry === undefined) throw vscode.FileSystemError.FileNotFound(uri);
    if (entry.kind !== "text") {
      throw vscode.FileSystemError.NoPermissions(`${path}: only its name is shared (${entry.kind.replace("_", " ")})`);
    }
    const doc = await session.synced(path);
    return encoder.encode(doc.getText(TEXT_NAME).toString());
  }

  writeFile(uri: vscode.Uri): void {
    // Saving a shared file writes nothing: its edits went to the host as they were
    // typed. As the session ends, its editors are saved (so that VS Code keeps no
    // unsaved copy) after the session is gone: nothing to do either.
    const session = this.session;
    if (session === null || !session.owns(uri)) return;
    if (!session.files.entries.has(this.pathIn(uri))) {
      throw vscode.FileSystemError.NoPermissions("new files are made on the host's side");
    }
  }

  createDirectory(): void {
    throw vscode.FileSystemError.NoPermissions("folders are made on the host's side");
  }

  delete(): void {
    throw vscode.FileSystemError.NoPermissions("files are deleted on the host's side");
  }

  rename(): void {
    throw vscode.FileSystemError.NoPermissions("files are renamed on the host's side");
  }

  dispose(): void {
    this.emitter.dispose();
  }
}

/** The names directly in `folder` ("" for the root), folders first, as VS Code lists them. */
export function childrenOf(entries: ReadonlyMap<string, TreeEntry>, folder: string): [string, vscode.FileType][] {
  const prefix = folder === "" ? "" : `${folder}/`;
  const children = new Map<string, vscode.FileType>();
  for (const path of entries.keys()) {
    if (!path.startsWith(prefix)) continue;
    const rest = path.slice(prefix.length);
    const slash = rest.indexOf("/");
    if (slash === -1) children.set(rest, vscode.FileType.File);
    else children.set(rest.slice(0, slash), vscode.FileType.Directory);
  }
  return [...children].sort(([a, aType], [b, bType]) => bType - aType || (a < b ? -1 : a > b ? 1 : 0));
}

/** The shared tree in the Explorer, for the guest. */
export class SharedFilesView implements vscode.TreeDataProvider<string>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  private session: GuestSession | null = null;

  show(session: GuestSession | null): void {
    this.session = session;
    session?.onTreeChange(() => this.changed.fire());
    this.changed.fire();
  }

  getTreeItem(path: string): vscode.TreeItem {
    const session = this.session;
    const name = path.slice(path.lastIndexOf("/") + 1);
    const entry = session?.files.entries.get(path);
    if (session === null || entry === undefined) {
      const item = new vscode.TreeItem(name, vscode.TreeItemCollapsibleState.Collapsed);
      item.iconPath = vscode.ThemeIcon.Folder;
      return item;
    }
    const item = new vscode.TreeItem(name, vscode.TreeItemCollapsibleState.None);
    item.resourceUri = session.uriOf(path);
    item.iconPath = vscode.ThemeIcon.File;
    if (entry.kind === "text") {
      item.command = { command: "vscode.open", title: "Open", arguments: [session.uriOf(path)] };
    } else {
      item.description = `${entry.kind.replace("_", " ")}: name only`;
    }
    return item;
  }

  getChildren(path?: string): string[] {
    const session = this.session;
    if (session === null) return [];
    const folder = path ?? "";
    return childrenOf(session.files.entries, folder).map(([name]) => (folder === "" ? name : `${folder}/${name}`));
  }

  dispose(): void {
    this.changed.dispose();
  }
}
