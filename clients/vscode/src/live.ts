// What a hosted or joined session offers the rest of the extension: the views,
// the cursors and the commands work on this, whichever side we are on.

import * as vscode from "vscode";
import type * as Y from "yjs";

import type { Awareness } from "../../web/core/awareness.js";
import type { Peer } from "../../web/core/peer.js";
import type { DocumentBinder } from "./documents.js";

export interface LiveSession extends vscode.Disposable {
  readonly role: "host" | "guest";
  readonly peer: Peer;
  readonly awareness: Awareness;
  /** The join link (with the key): the host's to copy; a guest's stays in memory. */
  readonly link: string;
  /** The editor URI of a shared path. */
  uriOf(path: string): vscode.Uri;
  /** The shared path of an editor URI, or null when it is not one of this session's. */
  pathOf(uri: vscode.Uri): string | null;
  /** The loaded document of a shared path, if any. */
  docOf(path: string): Y.Doc | undefined;
  /** Load a shared path's document (to draw a cursor in it or follow someone there). */
  load(path: string): Promise<Y.Doc | null>;
  /** Whether `uri` is a shared document bound to the session here. */
  isShared(uri: vscode.Uri): boolean;
  /** Undo or redo this peer's own last change in a shared document (never others'). */
  undo(uri: vscode.Uri): boolean;
  redo(uri: vscode.Uri): boolean;
  /** Host: end the session for everyone. Guest: leave it. */
  finish(): Promise<void>;
  /** Told when the session ended, whoever ended it. */
  onEnded(listener: (words: string) => void): void;
}

/** What the host's and the guest's sessions do alike: their bound documents, who is
 *  told when the session ends, and warnings said once each. */
export abstract class SessionEditors {
  protected abstract readonly binder: DocumentBinder;
  private readonly endedListeners: ((words: string) => void)[] = [];
  private readonly warned = new Set<string>();

  isShared(uri: vscode.Uri): boolean {
    return this.binder.isBound(uri);
  }

  undo(uri: vscode.Uri): boolean {
    return this.binder.undo(uri);
  }

  redo(uri: vscode.Uri): boolean {
    return this.binder.redo(uri);
  }

  onEnded(listener: (words: string) => void): void {
    this.endedListeners.push(listener);
  }

  /** Tell everyone listening that the session ended, once. */
  protected tellEnded(words: string): void {
    for (const listener of this.endedListeners.splice(0)) listener(words);
  }

  protected warnOnce(words: string): void {
    if (this.warned.has(words)) return;
    this.warned.add(words);
    void vscode.window.showWarningMessage(words);
  }
}
