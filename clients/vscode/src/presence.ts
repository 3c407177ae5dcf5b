// The others, as VS Code shows them: the participants view, their cursors and
// selections as decorations (name and colour), following one of them, and this
// peer's own cursor sent as awareness (docs/protocol.md §10.2).

import * as vscode from "vscode";

import { resolveCursor, type RemoteCursor } from "../../web/core/awareness.js";
import type { PeerInfo } from "../../web/core/control.js";
import { TEXT_NAME } from "../../web/core/files.js";
import { positionIn } from "./documents.js";
import type { LiveSession } from "./live.js";
import { shown } from "./words.js";

const PALETTE = ["#d9480f", "#1c7ed6", "#2b8a3e", "#ae3ec9", "#c2255c", "#0c8599", "#5f3dc4", "#e67700", "#364fc7", "#087f5b"];

/** A position's offset in the shared text, whose line breaks are "\n" (§10.1). */
function sharedOffset(document: vscode.TextDocument, position: vscode.Position): number {
  return document.offsetAt(position) - (document.eol === vscode.EndOfLine.CRLF ? position.line : 0);
}

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
    super(`${shown(peer.name)}${you ? " (you)" : ""}`, vscode.TreeItemCollapsibleState.None);
    const notes = [peer.role === "host" ? "host" : "guest"];
    if (peer.readOnly) notes.push("read-only");
    if (peer.state === "away") notes.push("away");
    if (peer.verified === false) notes.push("unverified");
    if (where !== null) notes.push(`in ${where}`);
    this.description = notes.join(" · ");
    this.contextValue = you ? "self" : `peer ${peer.role}`;
    this.iconPath = new vscode.ThemeIcon(peer.role === "host" ? "broadcast" : "person");
    this.tooltip = `${shown(peer.name)}: peer ${peer.peerId}`;
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

interface PeerDecorations {
  readonly label: string;
  readonly colour: string;
  readonly caret: vscode.TextEditorDecorationType;
  readonly selection: vscode.TextEditorDecorationType;
}

/** Draws the others' cursors in the visible editors of shared files, follows one
 *  of them if asked, and sends this peer's cursor. */
export class Cursors implements vscode.Disposable {
  /** By peer id: a peer's label and colour, and the decoration types drawing them. */
  private readonly decorations = new Map<number, PeerDecorations>();
  private readonly subscriptions: vscode.Disposable[] = [];
  private readonly stops: (() => void)[] = [];
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
    this.stops.push(
      session.awareness.on("change", ({ peerId, cursor }) => {
        redraw();
        if (peerId === this.following && cursor !== null) void this.reveal(cursor);
      }),
      session.peer.on("peer_left", ({ peer }) => {
        if (peer.peerId === this.following) void this.follow(null);
      }),
    );
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
    const head = positionIn(doc.getText(TEXT_NAME).toString(), position.head);
    editor.revealRange(new vscode.Range(head, head), vscode.TextEditorRevealType.InCenterIfOutsideViewport);
  }

  private sendCursor(editor: vscode.TextEditor): void {
    const path = this.session.pathOf(editor.document.uri);
    if (path === null || this.session.docOf(path) === undefined) return;
    const selection = editor.selection;
    try {
      this.session.awareness.setCursor({
        path,
        anchor: sharedOffset(editor.document, selection.anchor),
        head: sharedOffset(editor.document, selection.active),
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

  /** A peer's decoration types, made again when its label or colour changed. The
   *  label is the name the server stamped for that peer id, so nobody can label
   *  a cursor with someone else's name. */
  private decorationsOf(cursor: RemoteCursor): PeerDecorations {
    const label = this.session.peer.peers.get(cursor.peerId)?.name ?? cursor.name;
    const known = this.decorations.get(cursor.peerId);
    if (known !== undefined && known.label === label && known.colour === cursor.colour) return known;
    this.forget(cursor.peerId);
    const made: PeerDecorations = {
      label,
      colour: cursor.colour,
      caret: vscode.window.createTextEditorDecorationType({
        border: `solid ${cursor.colour}`,
        borderWidth: "0 0 0 2px",
        // Drawn as CSS content: text, never markup.
        after: { contentText: ` ${label} `, color: "#ffffff", backgroundColor: cursor.colour, fontWeight: "bold", margin: "0 0 0 1px" },
      }),
      selection: vscode.window.createTextEditorDecorationType({ backgroundColor: `${cursor.colour}40` }),
    };
    this.decorations.set(cursor.peerId, made);
    return made;
  }

  private forget(peerId: number): void {
    const known = this.decorations.get(peerId);
    known?.caret.dispose();
    known?.selection.dispose();
    this.decorations.delete(peerId);
  }

  /** Redraws every visible shared editor: each remote cursor at its place now. */
  redraw(): void {
    const remote = this.session.awareness.remote;
    for (const peerId of [...this.decorations.keys()]) if (!remote.has(peerId)) this.forget(peerId);
    for (const editor of vscode.window.visibleTextEditors) {
      const path = this.session.pathOf(editor.document.uri);
      const doc = path === null ? undefined : this.session.docOf(path);
      const drawn = new Map<number, { carets: vscode.Range[]; selections: vscode.Range[] }>();
      if (doc !== undefined) {
        const text = doc.getText(TEXT_NAME).toString();
        for (const cursor of remote.values()) {
          if (cursor.path !== path || cursor.peerId === this.session.peer.peerId) continue;
          const position = resolveCursor(cursor, doc);
          if (position === null) continue;
          this.decorationsOf(cursor);
          const head = positionIn(text, position.head);
          const anchor = positionIn(text, position.anchor);
          drawn.set(cursor.peerId, {
            carets: [new vscode.Range(head, head)],
            selections: position.anchor === position.head ? [] : [new vscode.Range(anchor, head)],
          });
        }
      }
      for (const [peerId, types] of this.decorations) {
        const lists = drawn.get(peerId);
        editor.setDecorations(types.caret, lists?.carets ?? []);
        editor.setDecorations(types.selection, lists?.selections ?? []);
      }
    }
  }

  dispose(): void {
    if (this.redrawTimer !== null) clearTimeout(this.redrawTimer);
    for (const stop of this.stops.splice(0)) stop();
    for (const peerId of [...this.decorations.keys()]) this.forget(peerId);
    for (const subscription of this.subscriptions.splice(0)) subscription.dispose();
  }
}
