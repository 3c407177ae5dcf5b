// The others, as VS Code shows them: the participants view, their cursors and
// selections as decorations (name and colour), following one of them, and this
// peer's own cursor sent as awareness (docs/protocol.md §10.2).

import * as vscode from "vscode";

import { resolveCursor, type RemoteCursor } from "../../web/core/awareness.js";
import type { PeerInfo } from "../../web/core/control.js";
import type { LiveSession } from "./live.js";

const PALETTE = ["#d9480f", "#1c7ed6", "#2b8a3e", "#ae3ec9", "#c2255c", "#0c8599", "#5f3dc4", "#e67700", "#364fc7", "#087f5b"];

/** A peer's colour until its awareness says one (the web client's palette). */
export function colourFor(peerId: number): string {
  return PALETTE[(Math.max(peerId, 1) - 1) % PALETTE.length] ?? "#d9480f";
}

export class PeerItem extends vscode.TreeItem {
  constructor(
    readonly peer: PeerInfo,
    you: boolean,
    where: string | null,
  ) {
    super(`${peer.name}${you ? " (you)" : ""}`, vscode.TreeItemCollapsibleState.None);
    const notes = [peer.role === "host" ? "host" : "guest"];
    if (peer.readOnly) notes.push("read-only");
    if (peer.state === "away") notes.push("away");
    if (peer.verified === false) notes.push("unverified");
    if (where !== null) notes.push(`in ${where}`);
    this.description = notes.join(" · ");
    this.contextValue = you ? "self" : `peer ${peer.role}`;
    this.iconPath = new vscode.ThemeIcon(peer.role === "host" ? "broadcast" : "person");
    this.tooltip = `${peer.name}: peer ${peer.peerId}`;
  }
}

export class ParticipantsView implements vscode.TreeDataProvider<PeerItem>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  private session: LiveSession | null = null;

  show(session: LiveSession | null): void {
    this.session = session;
    this.refresh();
  }

  refresh(): void {
    this.changed.fire();
  }

  getTreeItem(item: PeerItem): PeerItem {
    return item;
  }

  getChildren(): PeerItem[] {
    const session = this.session;
    if (session === null) return [];
    const cursors = session.awareness.remote;
    return [...session.peer.peers.values()]
      .sort((a, b) => a.peerId - b.peerId)
      .map((peer) => new PeerItem(peer, peer.peerId === session.peer.peerId, cursors.get(peer.peerId)?.path ?? null));
  }

  dispose(): void {
    this.changed.dispose();
  }
}

/** Draws the others' cursors in the visible editors of shared files, follows one
 *  of them if asked, and sends this peer's cursor. */
export class Cursors implements vscode.Disposable {
  private readonly decorations = new Map<string, { caret: vscode.TextEditorDecorationType; selection: vscode.TextEditorDecorationType }>();
  private readonly subscriptions: vscode.Disposable[] = [];
  private redrawTimer: NodeJS.Timeout | null = null;
  following: number | null = null;

  constructor(private readonly session: LiveSession) {
    const redraw = (): void => this.scheduleRedraw();
    this.subscriptions.push(
      vscode.window.onDidChangeVisibleTextEditors(redraw),
      vscode.workspace.onDidChangeTextDocument((event) => {
        if (session.pathOf(event.document.uri) !== null) redraw();
      }),
      vscode.window.onDidChangeTextEditorSelection((event) => this.sendCursor(event.textEditor)),
      vscode.window.onDidChangeActiveTextEditor((editor) => {
        if (editor === undefined || session.pathOf(editor.document.uri) === null) session.awareness.setCursor(null);
        else this.sendCursor(editor);
      }),
    );
    session.awareness.on("change", ({ peerId, cursor }) => {
      redraw();
      if (peerId === this.following && cursor !== null) void this.reveal(cursor);
    });
  }

  /** Follow a peer: go where its cursor is, and keep going. */
  async follow(peerId: number | null): Promise<void> {
    this.following = peerId;
    await vscode.commands.executeCommand("setContext", "ctserver.following", peerId !== null);
    const cursor = peerId === null ? undefined : this.session.awareness.remote.get(peerId);
    if (cursor !== undefined) await this.reveal(cursor);
  }

  private async reveal(cursor: RemoteCursor): Promise<void> {
    if (cursor.path === null) return;
    const doc = this.session.docOf(cursor.path) ?? (await this.session.load(cursor.path));
    if (doc === null || doc === undefined) return;
    const uri = this.session.uriOf(cursor.path);
    const editor = await vscode.window.showTextDocument(uri, { preserveFocus: false, preview: false });
    const position = resolveCursor(cursor, doc);
    if (position === null) return;
    const head = editor.document.positionAt(position.head);
    editor.revealRange(new vscode.Range(head, head), vscode.TextEditorRevealType.InCenterIfOutsideViewport);
  }

  private sendCursor(editor: vscode.TextEditor): void {
    const path = this.session.pathOf(editor.document.uri);
    if (path === null || this.session.docOf(path) === undefined) return;
    const selection = editor.selection;
    try {
      this.session.awareness.setCursor({
        path,
        anchor: editor.document.offsetAt(selection.anchor),
        head: editor.document.offsetAt(selection.active),
      });
    } catch {
      // the document closed meanwhile: nothing to say
    }
  }

  private scheduleRedraw(): void {
    if (this.redrawTimer !== null) return;
    this.redrawTimer = setTimeout(() => {
      this.redrawTimer = null;
      this.redraw();
    }, 30);
  }

  private typesFor(colour: string, name: string): { caret: vscode.TextEditorDecorationType; selection: vscode.TextEditorDecorationType } {
    const key = `${colour}\u0000${name}`;
    let types = this.decorations.get(key);
    if (types === undefined) {
      types = {
        caret: vscode.window.createTextEditorDecorationType({
          border: `solid ${colour}`,
          borderWidth: "0 0 0 2px",
          // The name as VS Code draws text: never as markup.
          after: { contentText: ` ${name} `, color: "#ffffff", backgroundColor: colour, fontWeight: "bold", margin: "0 0 0 1px" },
        }),
        selection: vscode.window.createTextEditorDecorationType({ backgroundColor: `${colour}40` }),
      };
      this.decorations.set(key, types);
    }
    return types;
  }

  /** Redraws every visible shared editor: each remote cursor at its place now. */
  redraw(): void {
    for (const editor of vscode.window.visibleTextEditors) {
      const path = this.session.pathOf(editor.document.uri);
      const doc = path === null ? undefined : this.session.docOf(path);
      const drawn = new Map<string, { carets: vscode.Range[]; selections: vscode.Range[] }>();
      for (const types of this.decorations.keys()) drawn.set(types, { carets: [], selections: [] });
      if (doc !== undefined) {
        for (const cursor of this.session.awareness.remote.values()) {
          if (cursor.path !== path || cursor.peerId === this.session.peer.peerId) continue;
          const position = resolveCursor(cursor, doc);
          if (position === null) continue;
          this.typesFor(cursor.colour, cursor.name);
          const key = `${cursor.colour}\u0000${cursor.name}`;
          const lists = drawn.get(key) ?? { carets: [], selections: [] };
          drawn.set(key, lists);
          const head = editor.document.positionAt(position.head);
          const anchor = editor.document.positionAt(position.anchor);
          lists.carets.push(new vscode.Range(head, head));
          if (position.anchor !== position.head) lists.selections.push(new vscode.Range(anchor, head));
        }
      }
      for (const [key, lists] of drawn) {
        const types = this.decorations.get(key);
        if (types === undefined) continue;
        editor.setDecorations(types.caret, lists.carets);
        editor.setDecorations(types.selection, lists.selections);
      }
    }
  }

  dispose(): void {
    if (this.redrawTimer !== null) clearTimeout(this.redrawTimer);
    for (const types of this.decorations.values()) {
      types.caret.dispose();
      types.selection.dispose();
    }
    this.decorations.clear();
    for (const subscription of this.subscriptions.splice(0)) subscription.dispose();
  }
}
