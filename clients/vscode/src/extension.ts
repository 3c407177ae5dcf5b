// ctserver for VS Code: host the open folder or join a session, from the command
// palette. One session at a time; everything it holds lives in memory and goes
// when it ends (the key only ever in the join link).

import { userInfo } from "node:os";

import * as vscode from "vscode";

import { checkText } from "../../web/core/control.js";
import { LinkError } from "../../web/core/link.js";
import type { LiveStatus, PeerStatus } from "../../web/core/status.js";
import { HostSession } from "./hosting.js";
import { GuestSession, SCHEME, SharedFileSystem, SharedFilesView } from "./joining.js";
import type { LiveSession } from "./live.js";
import { trustedCertificates } from "./net.js";
import { Cursors, ParticipantsView, PeerItem } from "./presence.js";
import { shown } from "./words.js";

let current: LiveSession | null = null;
let cursors: Cursors | null = null;

interface Settings {
  readonly serverUrl: string;
  readonly name: string;
  readonly ca: string | undefined;
  readonly autoAdmit: boolean;
}

function settings(): Settings {
  const config = vscode.workspace.getConfiguration("ctserver");
  const chosen = config.get<string>("displayName", "").trim();
  const fallback = userInfo().username || "VS Code";
  const name = checkText(chosen || fallback, "the name");
  return {
    serverUrl: config.get<string>("serverUrl", "").trim(),
    name: name.ok ? name.text : "VS Code",
    ca: trustedCertificates(config.get<string>("caFile", "")),
    autoAdmit: config.get<boolean>("autoAdmit", false),
  };
}

function problem(thrown: unknown): string {
  return thrown instanceof LinkError || thrown instanceof Error ? thrown.message : String(thrown);
}

export function activate(context: vscode.ExtensionContext): void {
  const fileSystem = new SharedFileSystem();
  const sharedFiles = new SharedFilesView();
  const participants = new ParticipantsView();
  const status = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 100);
  status.name = "ctserver";

  const showStatus = (): void => {
    const session = current;
    if (session === null) {
      status.hide();
      return;
    }
    const peer = session.peer;
    const words: Record<LiveStatus, string> = {
      connecting: "connecting",
      lobby: "waiting to be admitted",
      admitted: session.role === "host" ? "hosting" : "joined",
      reconnecting: "reconnecting",
    };
    const others = [...peer.peers.values()].filter((other) => other.peerId !== peer.peerId && other.state !== "away");
    const icon = peer.status === "reconnecting" ? "$(sync~spin)" : "$(lock)";
    const state = (words as Record<PeerStatus, string | undefined>)[peer.status] ?? "ended";
    status.text = `${icon} ctserver: ${state} · ${others.length} other${others.length === 1 ? "" : "s"}`;
    status.tooltip = new vscode.MarkdownString(
      `**End-to-end encrypted** (AES-256-GCM, key only in the join link): the server relays ciphertext only.` +
        `\n\nKey ${peer.keyConfirmed ? "confirmed: others' messages decrypt" : "not confirmed yet"}.` +
        `\n\nServer: ${peer.link.serverUrl.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, "\\$&")}`,
    );
    status.command = session.role === "host" ? "ctserver.copyLink" : "ctserver.leaveSession";
    status.show();
  };

  let sharedEditor: boolean | null = null;
  const sharedEditorContext = async (): Promise<void> => {
    const editor = vscode.window.activeTextEditor;
    const shared = editor !== undefined && current !== null && current.isShared(editor.document.uri);
    if (shared === sharedEditor) return;
    sharedEditor = shared;
    await vscode.commands.executeCommand("setContext", "ctserver.sharedEditor", shared);
  };

  const use = async (session: LiveSession | null): Promise<void> => {
    cursors?.dispose();
    cursors = null;
    current = session;
    fileSystem.use(session instanceof GuestSession ? session : null);
    sharedFiles.show(session instanceof GuestSession ? session : null);
    participants.show(session);
    await vscode.commands.executeCommand("setContext", "ctserver.role", session?.role ?? "");
    await vscode.commands.executeCommand("setContext", "ctserver.following", false);
    await sharedEditorContext();
    if (session === null) {
      showStatus();
      return;
    }
    cursors = new Cursors(session);
    const refresh = (): void => {
      if (current !== session) return;
      showStatus();
      participants.refresh();
    };
    for (const event of ["status", "welcome", "admitted", "peer_joined", "peer_left", "peer_away", "peer_back", "host_away", "host_back", "host_joined", "read_only", "message"] as const) {
      session.peer.on(event, refresh);
    }
    session.awareness.on("change", refresh);
    // Documents are bound as they open or sync: look again when that may have happened.
    session.peer.on("message", () => void sharedEditorContext());
    session.onEnded((words) => {
      if (current !== session) return;
      void vscode.window.showInformationMessage(`ctserver: the session ended: ${shown(words)}`);
      void use(null);
    });
    refresh();
  };

  const startSession = async (): Promise<void> => {
    if (current !== null) throw new Error("you are in a session already: end or leave it first");
    const folders = vscode.workspace.workspaceFolders ?? [];
    const folder =
      folders.length <= 1 ? folders[0] : await vscode.window.showWorkspaceFolderPick({ placeHolder: "The folder to share" });
    if (folder === undefined) throw new Error("open the folder to share first (File → Open Folder)");
    const chosen = settings();
    const serverUrl =
      chosen.serverUrl ||
      (await vscode.window.showInputBox({ prompt: "The ctserver to host on", placeHolder: "https://ctserver.example.com", ignoreFocusOut: true }));
    if (!serverUrl) return;
    const session = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: "ctserver: starting the session…" },
      () => HostSession.start({ ...chosen, serverUrl, folder }),
    );
    await use(session);
    await vscode.env.clipboard.writeText(session.link);
    void vscode.window.showInformationMessage(`ctserver: session started; its join link is copied: ${session.link}`, "Copy again").then((again) => {
      if (again) void vscode.env.clipboard.writeText(session.link);
    });
  };

  const joinSession = async (given?: string): Promise<void> => {
    if (current !== null) throw new Error("you are in a session already: end or leave it first");
    const link =
      typeof given === "string"
        ? given
        : await vscode.window.showInputBox({
            prompt: "The join link, with its key after '#'",
            placeHolder: "https://server/join/<session>#<key>",
            ignoreFocusOut: true,
            password: false,
          });
    if (!link) return;
    const chosen = settings();
    const session = await GuestSession.join({
      link,
      name: chosen.name,
      ca: chosen.ca,
      waitInLobby: (admitted, leave) =>
        vscode.window.withProgress(
          {
            location: vscode.ProgressLocation.Notification,
            title: "ctserver: waiting for the host to admit you…",
            cancellable: true,
          },
          (_progress, cancelled) => {
            cancelled.onCancellationRequested(leave);
            return admitted;
          },
        ),
    });
    await use(session);
    await vscode.commands.executeCommand("ctserver.sharedFiles.focus");
    void vscode.window.showInformationMessage(`ctserver: joined ${shown(session.hostName)}'s session: the shared files are in the Explorer.`);
  };

  const guestFrom = async (item: unknown, verb: string): Promise<number | undefined> => {
    if (item instanceof PeerItem) return item.peer.peerId;
    const session = current;
    if (session === null) return undefined;
    const guests = [...session.peer.peers.values()].filter((peer) => peer.role === "guest");
    const picked = await vscode.window.showQuickPick(
      guests.map((guest) => ({ label: shown(guest.name), description: guest.readOnly ? "read-only" : "", peerId: guest.peerId })),
      { placeHolder: `The guest to ${verb}` },
    );
    return picked?.peerId;
  };

  const guarded =
    <A extends unknown[]>(run: (...args: A) => Promise<void>) =>
    async (...args: A): Promise<void> => {
      try {
        await run(...args);
      } catch (thrown) {
        void vscode.window.showErrorMessage(`ctserver: ${shown(problem(thrown))}`);
      }
    };

  context.subscriptions.push(
    vscode.workspace.registerFileSystemProvider(SCHEME, fileSystem, { isCaseSensitive: true }),
    vscode.window.registerTreeDataProvider("ctserver.sharedFiles", sharedFiles),
    vscode.window.registerTreeDataProvider("ctserver.participants", participants),
    status,
    sharedFiles,
    participants,
    fileSystem,
    vscode.commands.registerCommand("ctserver.startSession", guarded(startSession)),
    vscode.commands.registerCommand("ctserver.joinSession", guarded(joinSession)),
    vscode.commands.registerCommand(
      "ctserver.copyLink",
      guarded(async () => {
        if (current?.role !== "host") return;
        await vscode.env.clipboard.writeText(current.link);
        void vscode.window.showInformationMessage(`ctserver: join link copied: ${current.link}`);
      }),
    ),
    vscode.commands.registerCommand(
      "ctserver.endSession",
      guarded(async () => {
        if (current?.role === "host") await current.finish();
      }),
    ),
    vscode.commands.registerCommand(
      "ctserver.leaveSession",
      guarded(async () => {
        if (current?.role === "guest") await current.finish();
      }),
    ),
    vscode.commands.registerCommand(
      "ctserver.removeGuest",
      guarded(async (item?: unknown) => {
        const peerId = await guestFrom(item, "remove");
        if (peerId !== undefined) current?.peer.remove(peerId);
      }),
    ),
    vscode.commands.registerCommand(
      "ctserver.toggleReadOnly",
      guarded(async (item?: unknown) => {
        const peerId = await guestFrom(item, "make read-only or let edit");
        const guest = peerId === undefined ? undefined : current?.peer.peers.get(peerId);
        if (guest !== undefined) current?.peer.setReadOnly(guest.peerId, !guest.readOnly);
      }),
    ),
    vscode.commands.registerCommand(
      "ctserver.follow",
      guarded(async (item?: unknown) => {
        const session = current;
        if (session === null) return;
        let peerId = item instanceof PeerItem ? item.peer.peerId : undefined;
        if (peerId === undefined) {
          const others = [...session.peer.peers.values()].filter((peer) => peer.peerId !== session.peer.peerId);
          const picked = await vscode.window.showQuickPick(
            others.map((other) => ({ label: shown(other.name), peerId: other.peerId })),
            { placeHolder: "Follow whom?" },
          );
          peerId = picked?.peerId;
        }
        if (peerId !== undefined) await cursors?.follow(peerId);
      }),
    ),
    vscode.commands.registerCommand(
      "ctserver.unfollow",
      guarded(async () => {
        await cursors?.follow(null);
      }),
    ),
    vscode.commands.registerCommand("ctserver.undo", () => {
      const editor = vscode.window.activeTextEditor;
      if (editor !== undefined) current?.undo(editor.document.uri);
    }),
    vscode.commands.registerCommand("ctserver.redo", () => {
      const editor = vscode.window.activeTextEditor;
      if (editor !== undefined) current?.redo(editor.document.uri);
    }),
    // Undo and redo in a shared document are the session's: one's own changes only.
    vscode.window.onDidChangeActiveTextEditor(() => void sharedEditorContext()),
    vscode.workspace.onDidChangeTextDocument(() => void sharedEditorContext()),
    { dispose: () => current?.dispose() },
  );
  void use(null);
}

export function deactivate(): void {
  cursors?.dispose();
  current?.dispose();
  current = null;
}
