// Hosting: the open workspace folder shared with guests (docs/protocol.md §10.1).
// Names go to guests at once, contents only of the files they open; guests' edits
// land in this VS Code's editors, unsaved, like the host's own.

import { webcrypto } from "node:crypto";
import { relative, sep } from "node:path";

import * as vscode from "vscode";
import type * as Y from "yjs";

import { Awareness } from "../../web/core/awareness.js";
import type { PeerInfo } from "../../web/core/control.js";
import { DiagnosticsSender } from "../../web/core/diagnostics.js";
import { HostFiles } from "../../web/core/hostfiles.js";
import { formatJoinLink, type JoinLink } from "../../web/core/link.js";
import { pathProblem } from "../../web/core/paths.js";
import { Peer } from "../../web/core/peer.js";
import { toRecords } from "./diagnostics.js";
import { DocumentBinder } from "./documents.js";
import { SessionEditors, type LiveSession } from "./live.js";
import { createSession, socketFor, USER_AGENT } from "./net.js";
import { colourFor } from "./presence.js";
import { scan } from "./scan.js";
import { shown } from "./words.js";

const RESCAN_DELAY_MS = 500;

export interface HostOptions {
  readonly serverUrl: string;
  readonly name: string;
  readonly autoAdmit: boolean;
  readonly ca: string | undefined;
  readonly folder: vscode.WorkspaceFolder;
}

export class HostSession extends SessionEditors implements LiveSession {
  readonly role = "host";
  readonly awareness: Awareness;
  readonly link: string;
  private readonly files: HostFiles;
  protected readonly binder: DocumentBinder;
  private readonly diagnostics: DiagnosticsSender;
  private readonly subscriptions: vscode.Disposable[] = [];
  private rescanTimer: NodeJS.Timeout | null = null;
  private scanning: Promise<void> = Promise.resolve();
  private disposed = false;

  private constructor(
    readonly peer: Peer,
    private readonly root: string,
    link: JoinLink,
    private readonly options: HostOptions,
  ) {
    super();
    this.link = formatJoinLink(link);
    this.files = new HostFiles(peer, { share: "on-demand", keepFiles: false, load: (path) => this.loadText(path) });
    this.binder = new DocumentBinder({
      pathOf: (uri) => this.pathOf(uri),
      docOf: (path) => this.files.doc(path),
      readOnly: () => false,
      refused: () => undefined,
    });
    this.awareness = new Awareness(peer, (path) => this.files.doc(path), { name: peer.name, colour: colourFor(1) });
    this.diagnostics = new DiagnosticsSender(peer, { wanted: (path) => this.files.guestsWith(path).length > 0 });
    this.files.on("opened", ({ path, doc }) => this.follow(path, doc));
    this.files.on("closed", ({ path }) => {
      // Left the tree: if it comes back, it is a new document, bound anew.
      this.binder.unbind(this.uriOf(path));
      this.diagnostics.delete(path);
    });
    this.files.on("unsent", ({ problem }) => this.warnOnce(`ctserver: something could not be sent to guests: ${shown(problem)}`));
    this.files.on("synced", ({ peerId, path }) => {
      this.diagnostics.set(path, toRecords(vscode.languages.getDiagnostics(this.uriOf(path))));
      this.diagnostics.sendTo(peerId, path);
    });
    peer.on("join_request", ({ peer: guest }) => void this.ask(guest));
    peer.on("license_full", ({ message }) => void vscode.window.showWarningMessage(`ctserver: could not admit: ${shown(message)}`));
    peer.on("closed", ({ words, reason }) => this.finished(reason ? `${words} (${reason})` : words));
    const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(options.folder, "**/*"));
    const rescan = (uri: vscode.Uri): void => {
      if (this.pathOf(uri) !== null) this.scheduleRescan(); // not for .git and the like
    };
    this.subscriptions.push(
      watcher,
      watcher.onDidCreate(rescan),
      watcher.onDidDelete(rescan),
      watcher.onDidChange((uri) => {
        rescan(uri);
        this.changedOnDisk(uri);
      }),
      vscode.workspace.onDidOpenTextDocument((document) => void this.opened(document)),
      vscode.languages.onDidChangeDiagnostics(({ uris }) => {
        for (const uri of uris) {
          const path = this.pathOf(uri);
          // Kept for every shared text file, sent only for those a guest has open
          // (the sender asks `wanted`): a guest opening one later gets the latest.
          if (path !== null && this.files.entries.get(path)?.kind === "text") {
            this.diagnostics.set(path, toRecords(vscode.languages.getDiagnostics(uri)));
          }
        }
      }),
    );
  }

  /** Create the session on the server, connect as its host and share `folder`. */
  static async start(options: HostOptions): Promise<HostSession> {
    const created = await createSession(options.serverUrl, options.name, options.autoAdmit, options.ca);
    const key = webcrypto.getRandomValues(new Uint8Array(32));
    const link: JoinLink = { serverUrl: options.serverUrl.replace(/\/+$/, ""), sessionId: created.sessionId, key };
    const peer = new Peer({
      link,
      name: options.name,
      WebSocket: socketFor(created.sessionId, options.ca),
      hostSecret: created.hostSecret,
      client: USER_AGENT,
    });
    await peer.start();
    const session = new HostSession(peer, options.folder.uri.fsPath, link, options);
    try {
      session.files.setEntries(await scan(session.root));
      for (const document of vscode.workspace.textDocuments) await session.opened(document);
    } catch (thrown) {
      // Nobody could end a session left half started: end it now.
      await peer.end().catch(() => undefined);
      session.dispose();
      throw thrown;
    }
    return session;
  }

  uriOf(path: string): vscode.Uri {
    return vscode.Uri.joinPath(this.options.folder.uri, ...path.split("/"));
  }

  pathOf(uri: vscode.Uri): string | null {
    if (uri.scheme !== "file") return null;
    const path = relative(this.root, uri.fsPath).split(sep).join("/");
    if (path === "" || path.startsWith("../") || pathProblem(path) !== null) return null;
    return path;
  }

  docOf(path: string): Y.Doc | undefined {
    return this.files.doc(path);
  }

  load(path: string): Promise<Y.Doc | null> {
    return this.files.open(path).catch(() => null);
  }

  get guests(): PeerInfo[] {
    return [...this.peer.peers.values()].filter((peer) => peer.role === "guest");
  }

  async finish(): Promise<void> {
    await this.peer.end();
  }

  /** A shared text file the host opened in VS Code: load it, so that its cursor
   *  and the guests' are drawn and edits flow. */
  private async opened(document: vscode.TextDocument): Promise<void> {
    const path = this.pathOf(document.uri);
    if (path === null || this.files.entries.get(path)?.kind !== "text") return;
    await this.files.open(path).catch(() => null);
    this.binder.bind(document);
  }

  private async loadText(path: string): Promise<string | null> {
    try {
      // Shared texts break lines with "\n" (docs/protocol.md §10.1), whatever the file has.
      return (await vscode.workspace.openTextDocument(this.uriOf(path))).getText().replace(/\r\n/g, "\n");
    } catch {
      return null;
    }
  }

  /** A loaded document stays bound to a VS Code document while the session lasts:
   *  VS Code may drop a document no editor shows, and a guest's edit brings it back. */
  private follow(path: string, doc: Y.Doc): void {
    this.binder.bindOpen();
    doc.on("update", () => {
      const uri = this.uriOf(path);
      if (this.disposed || this.binder.isBound(uri)) return;
      vscode.workspace.openTextDocument(uri).then(
        (document) => this.binder.bind(document),
        () => undefined, // gone from disk: the next scan takes it out of the tree
      );
    });
  }

  /** A shared document that VS Code let go of (no editor showed it) changed on
   *  disk, by git or another program: the disk is newer, and the session gets it. */
  private changedOnDisk(uri: vscode.Uri): void {
    const path = this.pathOf(uri);
    if (this.disposed || path === null || this.files.doc(path) === undefined || this.binder.isBound(uri)) return;
    vscode.workspace.openTextDocument(uri).then(
      (document) => this.binder.bind(document, true),
      () => undefined, // gone: the next scan takes it out of the tree
    );
  }

  private async ask(guest: PeerInfo): Promise<void> {
    const name = shown(guest.name);
    const who = guest.verified === false ? `${name} (unverified)` : guest.email ? `${name} <${shown(guest.email)}>` : name;
    const answer = await vscode.window.showInformationMessage(`ctserver: ${who} asks to join your session.`, "Admit", "Deny");
    if (answer === "Admit") this.peer.admit(guest.peerId);
    else if (answer === "Deny") this.peer.deny(guest.peerId);
  }

  /** Scan again shortly; scans run one at a time, so the last one's tree wins. */
  private scheduleRescan(): void {
    if (this.rescanTimer !== null) clearTimeout(this.rescanTimer);
    this.rescanTimer = setTimeout(() => {
      this.rescanTimer = null;
      this.scanning = this.scanning
        .then(() => scan(this.root))
        .then((entries) => {
          if (!this.disposed) this.files.setEntries(entries);
        })
        .catch((thrown: unknown) => this.warnOnce(`ctserver: could not scan the shared folder: ${String(thrown)}`));
    }, RESCAN_DELAY_MS);
  }


  private finished(words: string): void {
    this.tellEnded(words);
    this.dispose();
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.rescanTimer !== null) clearTimeout(this.rescanTimer);
    for (const subscription of this.subscriptions.splice(0)) subscription.dispose();
    this.diagnostics.dispose();
    this.awareness.dispose();
    this.binder.dispose();
    this.files.dispose();
    if (this.peer.closed === null) this.peer.close();
  }
}
