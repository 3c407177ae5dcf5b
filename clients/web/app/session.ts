// One connection to the session, from hello to its end: the core's Peer,
// GuestFiles and Awareness, wired to the workspace's parts. When it ends for good,
// the app decides what comes next (a state page, a retry with a new Session).

import * as Y from "yjs";

import {
  Awareness,
  GuestFiles,
  HOST_PEER_ID,
  Peer,
  PathError,
  describe,
  resolveCursor,
  type ClosedEvent,
  type JoinLink,
  type RemoteCursor,
} from "../core/index.js";
import { colourFor } from "./colours.js";
import type { DrawnCursor } from "./cursors.js";
import { Follow } from "./follow.js";
import { languageFor } from "./languages.js";
import { Editor } from "./ui/editor.js";
import { connectingScreen, lobbyScreen } from "./ui/lobby.js";
import { Participants } from "./ui/participants.js";
import { statePage, titleFor, detailFor } from "./ui/states.js";
import { StatusBar } from "./ui/status.js";
import { Tabs } from "./ui/tabs.js";
import { FileTree, type Presence } from "./ui/tree.js";
import { Workspace } from "./ui/workspace.js";

/** What a new Session takes over from the one before it: the open files with
 *  everything typed in them, so that nothing typed while offline is lost. */
export interface Carried {
  readonly open: readonly string[];
  readonly active: string | null;
  readonly states: ReadonlyMap<string, Uint8Array>;
}

export interface SessionHost {
  /** Puts `screen` on the page (the same element again: nothing to do). */
  show(screen: HTMLElement): void;
  /** The session ended for this guest, for good. */
  ended(closed: ClosedEvent): void;
}

export interface SessionOptions {
  readonly link: JoinLink;
  readonly name: string;
  readonly nonce: string | null;
  readonly carried: Carried | null;
  /** How long, admitted with the host there, before nothing decrypted means a wrong key. */
  readonly keyCheckMs?: number;
}

const KEY_CHECK_MS = 10_000;
const TITLE = "Shared session · ctserver";
const REFUSED_BANNER_MS = 8_000;

export class Session {
  readonly peer: Peer;
  private readonly files: GuestFiles;
  private awareness: Awareness | null = null;
  private readonly tree = new FileTree();
  private readonly tabs = new Tabs();
  private readonly editor: Editor;
  private readonly participants = new Participants();
  private readonly status = new StatusBar();
  private readonly workspace: Workspace;
  private readonly follow: Follow;
  private readonly stops: (() => void)[] = [];
  private carried: Carried | null;
  private everAdmitted = false;
  private wrongKey = false;
  private keyTimer: ReturnType<typeof setTimeout> | null = null;
  private screen: HTMLElement | null = null;
  private lobby: HTMLElement | null = null;
  private connecting: HTMLElement | null = null;
  private wrongKeyPage: HTMLElement | null = null;
  private leftover: Carried | null = null;

  constructor(
    private readonly host: SessionHost,
    private readonly options: SessionOptions,
  ) {
    this.carried = options.carried;
    this.peer = new Peer({ link: options.link, name: options.name, WebSocket });
    this.files = new GuestFiles(this.peer);
    this.editor = new Editor({
      nonce: options.nonce,
      cursors: (path) => this.cursorsIn(path),
      onCursor: (path, anchor, head) => this.cursorMoved(path, anchor, head),
    });
    this.editor.onPosition = (position) => this.status.setPosition(position);
    this.follow = new Follow({
      hostCursor: () => this.awareness?.remote.get(HOST_PEER_ID),
      show: (path) => this.showForFollow(path),
      reveal: (cursor) => this.revealCursor(cursor),
      changed: (on) => this.workspace.setFollowing(on),
    });
    this.workspace = new Workspace({
      sessionId: options.link.sessionId,
      name: this.peer.name,
      tree: this.tree,
      tabs: this.tabs,
      editor: this.editor,
      participants: this.participants,
      status: this.status,
      onFollow: (on) => this.follow.set(on),
      onLeave: () => void this.peer.leave(),
    });
    this.tree.onOpen = (path) => this.openFile(path, true);
    this.participants.onOpen = (path) => this.openFile(path, true);
    this.tabs.onSelect = (path) => this.activate(path, true);
    this.tabs.onClose = (path) => this.closeFile(path);
    this.listen();
  }

  /** Connects; the screens follow the peer's status from here on. */
  start(): void {
    this.refreshScreen();
    this.peer.start().catch(() => undefined); // a failed start is the `closed` event
  }

  /** Stops everything; returns the open files and their contents for a next Session. */
  dispose(): Carried {
    if (this.leftover !== null) return this.leftover;
    this.leftover = this.carry();
    for (const stop of this.stops.splice(0)) stop();
    if (this.keyTimer !== null) clearTimeout(this.keyTimer);
    this.awareness?.dispose();
    if (!this.peer.isClosed) this.peer.close();
    this.editor.destroy();
    this.files.dispose();
    return this.leftover;
  }

  /** Leave for good (the page is going away). */
  leave(): void {
    if (!this.peer.isClosed) void this.peer.leave();
  }

  private carry(): Carried {
    if (this.carried !== null) return this.carried; // never taken over: pass it on
    const states = new Map<string, Uint8Array>();
    for (const path of this.tabs.open) {
      const doc = this.files.doc(path);
      if (doc !== undefined) states.set(path, Y.encodeStateAsUpdate(doc));
    }
    return { open: [...this.tabs.open], active: this.editor.current, states };
  }

  // -- wiring ----------------------------------------------------------------------

  private listen(): void {
    const peer = this.peer;
    const files = this.files;
    const people = (): void => this.renderPeople();
    this.stops.push(
      peer.on("status", ({ status }) => this.statusChanged(status)),
      peer.once("welcome", () => this.createAwareness()),
      peer.on("admitted", () => this.admitted()),
      peer.on("resumed", () => this.admitted()),
      peer.on("host_away", () => this.hostPresence()),
      peer.on("host_back", () => this.hostPresence()),
      peer.on("host_joined", () => this.hostPresence()),
      peer.on("read_only", ({ self }) => {
        if (self) this.applyReadOnly();
        people();
      }),
      peer.on("peer_joined", people),
      peer.on("peer_left", people),
      peer.on("peer_away", people),
      peer.on("peer_back", people),
      peer.on("decrypt_error", ({ likelyWrongKey }) => {
        if (likelyWrongKey) this.setWrongKey(true);
      }),
      peer.on("message", () => {
        if (peer.keyConfirmed) this.setWrongKey(false);
      }),
      peer.on("closed", (closed) => this.host.ended(closed)),
      files.on("tree", ({ entries, gone }) => {
        this.tree.setEntries(entries);
        for (const path of gone) this.closeFile(path);
        this.takeCarried();
      }),
      files.on("synced", ({ path }) => {
        if (this.editor.current === path) this.editor.setSynced(true);
        this.follow.synced(path);
      }),
      files.on("opens", people),
      files.on("refused", ({ path, reason }) => this.refused(path, reason)),
    );
  }

  private createAwareness(): void {
    const awareness = new Awareness(this.peer, (path) => this.files.doc(path), {
      name: this.peer.name,
      colour: colourFor(this.peer.peerId),
    });
    this.awareness = awareness;
    this.stops.push(
      awareness.on("change", ({ peerId }) => {
        this.editor.refreshCursors();
        this.renderPeople();
        this.follow.cursorMoved(peerId);
      }),
    );
  }

  private statusChanged(status: string): void {
    if (status === "admitted") {
      this.everAdmitted = true;
      this.status.setConnection("connected");
      this.workspace.banner("reconnecting", null);
    } else if (status === "reconnecting") {
      this.status.setConnection("reconnecting");
      this.workspace.banner(
        "reconnecting",
        `${describe("reconnecting")} You can keep typing: your edits are sent when the connection is back.`,
      );
    } else if (this.peer.isClosed) {
      this.status.setConnection("offline");
    }
    this.refreshScreen();
  }

  private admitted(): void {
    this.applyReadOnly();
    this.hostPresence();
    this.renderPeople();
  }

  private applyReadOnly(): void {
    const readOnly = this.peer.readOnly;
    this.editor.setReadOnly(readOnly);
    this.status.setReadOnly(readOnly);
    this.workspace.setReadOnly(readOnly);
  }

  private hostPresence(): void {
    const present = this.peer.hostPresent;
    this.workspace.banner(
      "host_away",
      present ? null : `${describe("host_away")}. You can keep editing: your changes reach the host when it is back.`,
    );
    this.renderPeople();
    this.checkKeyLater();
  }

  // -- the key -----------------------------------------------------------------------

  /** A wrong key shows only when something fails to decrypt, and the host's own
   *  clients ignore what they cannot decrypt: a guest with a wrong key would wait
   *  forever. Admitted with the host there, the tree comes within a moment; if
   *  nothing decrypts for long, the key is almost certainly wrong. */
  private checkKeyLater(): void {
    if (this.keyTimer !== null) clearTimeout(this.keyTimer);
    this.keyTimer = null;
    if (this.peer.keyConfirmed || this.peer.status !== "admitted" || !this.peer.hostPresent) return;
    this.keyTimer = setTimeout(() => {
      this.keyTimer = null;
      if (!this.peer.keyConfirmed && this.peer.status === "admitted" && this.peer.hostPresent) this.setWrongKey(true);
    }, this.options.keyCheckMs ?? KEY_CHECK_MS);
  }

  private setWrongKey(wrong: boolean): void {
    if (this.wrongKey === wrong) return;
    this.wrongKey = wrong;
    this.refreshScreen();
  }

  // -- screens -----------------------------------------------------------------------

  private refreshScreen(): void {
    if (this.leftover !== null || this.peer.isClosed) return;
    const screen = this.currentScreen();
    if (screen === this.screen) return;
    const first = this.screen === null || !this.screen.contains(this.workspace.element);
    this.screen = screen;
    this.host.show(screen);
    if (screen === this.workspace.element && first) this.focusWorkspace();
  }

  private currentScreen(): HTMLElement {
    const sessionId = this.options.link.sessionId;
    if (this.wrongKey) {
      this.wrongKeyPage ??= statePage({
        state: "wrong_key",
        title: titleFor("wrong_key", null),
        detail: detailFor("wrong_key", ""),
        actions: [{ label: "Leave", run: () => void this.peer.leave() }],
      });
      return this.wrongKeyPage;
    }
    const status = this.peer.status;
    if (status === "admitted" || (status === "reconnecting" && this.everAdmitted)) return this.workspace.element;
    if (status === "lobby" || status === "reconnecting") {
      this.lobby ??= lobbyScreen(sessionId, this.peer.name, () => void this.peer.leave());
      return this.lobby;
    }
    this.connecting ??= connectingScreen(sessionId);
    return this.connecting;
  }

  private focusWorkspace(): void {
    requestAnimationFrame(() => {
      if (this.editor.current !== null) this.editor.focus();
      else this.tree.element.querySelector<HTMLElement>("[tabindex='0']")?.focus();
    });
  }

  // -- files ---------------------------------------------------------------------------

  /** Opens `path` in a tab and shows it; `byUser`: chosen here, which stops following. */
  private openFile(path: string, byUser: boolean): boolean {
    if (byUser) this.follow.set(false);
    try {
      this.files.open(path);
    } catch (thrown) {
      if (!(thrown instanceof PathError)) throw thrown;
      this.refused(path, "not_text");
      return false;
    }
    this.tabs.add(path);
    this.activate(path, false);
    if (byUser) this.editor.focus();
    return true;
  }

  private activate(path: string, byUser: boolean): void {
    const doc = this.files.doc(path);
    if (doc === undefined) return;
    if (byUser && path !== this.editor.current) this.follow.set(false);
    this.editor.show(path, doc, this.files.isSynced(path));
    this.tabs.setActive(path);
    this.tree.setActive(path);
    this.status.setLanguage(languageFor(path).name);
    document.title = `${path.slice(path.lastIndexOf("/") + 1)} · ctserver`;
    this.renderPeople();
  }

  private closeFile(path: string): void {
    if (!this.tabs.open.includes(path)) return;
    this.editor.forget(path);
    this.files.close(path);
    const next = this.tabs.remove(path);
    if (next !== null) {
      this.activate(next, false);
      return;
    }
    this.editor.clear();
    this.tabs.setActive(null);
    this.tree.setActive(null);
    this.status.setLanguage(null);
    document.title = TITLE;
    this.awareness?.setCursor(null);
    this.renderPeople();
  }

  /** The files open before a reconnection that had to start over, with what was
   *  typed in them: reopened, and their edits merged into the host's (Yjs). */
  private takeCarried(): void {
    const carried = this.carried;
    if (carried === null) return;
    this.carried = null;
    for (const path of carried.open) {
      if (this.files.entries.get(path)?.kind !== "text") continue;
      const doc = this.files.open(path);
      const state = carried.states.get(path);
      if (state !== undefined) Y.applyUpdate(doc, state);
      this.tabs.add(path);
    }
    const active = carried.active !== null && this.tabs.open.includes(carried.active) ? carried.active : this.tabs.open[0];
    if (active !== undefined) this.activate(active, false);
  }

  private refused(path: string, reason: string): void {
    const words =
      reason === "read_only"
        ? `Your edit of ${path} was not accepted: you are read-only.`
        : `${path} cannot be opened: the host shares it by name only.`;
    this.workspace.banner("refused", words);
    setTimeout(() => this.workspace.banner("refused", null), REFUSED_BANNER_MS);
  }

  // -- cursors and people ------------------------------------------------------------

  private cursorMoved(path: string, anchor: number, head: number): void {
    try {
      this.awareness?.setCursor({ path, anchor, head });
    } catch {
      // the file closed meanwhile
    }
  }

  private cursorsIn(path: string): DrawnCursor[] {
    const doc = this.files.doc(path);
    if (this.awareness === null || doc === undefined) return [];
    const drawn: DrawnCursor[] = [];
    for (const cursor of this.awareness.remote.values()) {
      if (cursor.path !== path) continue;
      const position = resolveCursor(cursor, doc);
      if (position === null) continue;
      const away = this.peer.peers.get(cursor.peerId)?.state === "away";
      drawn.push({ peerId: cursor.peerId, name: cursor.name, colour: cursor.colour, away, ...position });
    }
    return drawn;
  }

  private showForFollow(path: string): boolean {
    if (this.files.entries.get(path)?.kind !== "text") return false;
    if (this.editor.current === path) return true;
    return this.openFile(path, false);
  }

  private revealCursor(cursor: RemoteCursor): void {
    const doc = cursor.path === null ? undefined : this.files.doc(cursor.path);
    if (doc === undefined || this.editor.current !== cursor.path) return;
    const position = resolveCursor(cursor, doc);
    if (position !== null) this.editor.reveal(position.head);
  }

  private colourOf(peerId: number): string {
    if (peerId === this.peer.peerId) return colourFor(peerId);
    return this.awareness?.remote.get(peerId)?.colour ?? colourFor(peerId);
  }

  private renderPeople(): void {
    const me = this.peer.peerId;
    const opens = this.files.opens;
    const presence = new Map<string, Presence[]>();
    for (const [peerId, paths] of opens) {
      const info = this.peer.peers.get(peerId);
      if (peerId === me || info === undefined) continue;
      for (const path of paths) {
        const list = presence.get(path) ?? [];
        list.push({ peerId, name: info.name, colour: this.colourOf(peerId) });
        presence.set(path, list);
      }
    }
    this.tree.setPresence(presence);
    this.participants.render(
      [...this.peer.peers.values()].map((peer) => {
        const self = peer.peerId === me;
        return {
          peer,
          colour: this.colourOf(peer.peerId),
          self,
          open: self ? this.tabs.open : (opens.get(peer.peerId) ?? []),
          editing: self ? this.editor.current : (this.awareness?.remote.get(peer.peerId)?.path ?? null),
        };
      }),
    );
  }
}
