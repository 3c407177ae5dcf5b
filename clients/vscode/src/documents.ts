// Binds VS Code text documents to the session's Y.Docs (src/binding.ts does the
// merging): a document whose URI is a shared path, with that path's document
// loaded, is kept level with it both ways while it is open.

import * as vscode from "vscode";
import type * as Y from "yjs";

import { TEXT_NAME } from "../../web/core/files.js";
import { TextBinding, type EditorText } from "./binding.js";

export interface SharedDocuments {
  /** The shared path of a URI, or null when it is not one of this session's. */
  pathOf(uri: vscode.Uri): string | null;
  /** The loaded document of a path, if any. */
  docOf(path: string): Y.Doc | undefined;
  /** Whether local edits must be taken back (a read-only guest). */
  readOnly(): boolean;
  /** Said when an edit was taken back. */
  refused(path: string): void;
  /** After the shared text changed in an editor (a guest saves it: nothing on disk). */
  changed?(document: vscode.TextDocument): void;
}

function editorText(document: vscode.TextDocument): EditorText {
  return {
    text: () => document.getText(),
    version: () => document.version,
    apply: async (edits, version) => {
      if (document.isClosed || document.version !== version) return false;
      const edit = new vscode.WorkspaceEdit();
      for (const { start, end, text } of edits) {
        edit.replace(document.uri, new vscode.Range(document.positionAt(start), document.positionAt(end)), text);
      }
      // VS Code refuses the edit if the document changed since `version` (the
      // person typed meanwhile): the binding then tries again.
      return vscode.workspace.applyEdit(edit);
    },
  };
}

export class DocumentBinder implements vscode.Disposable {
  private readonly bindings = new Map<string, { binding: TextBinding; document: vscode.TextDocument }>();
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(private readonly shared: SharedDocuments) {
    this.subscriptions.push(
      vscode.workspace.onDidOpenTextDocument((document) => this.bind(document)),
      vscode.workspace.onDidCloseTextDocument((document) => this.unbind(document.uri)),
      vscode.workspace.onDidChangeTextDocument((event) => {
        const bound = this.bindings.get(event.document.uri.toString());
        if (bound === undefined || event.contentChanges.length === 0) return;
        bound.binding.onEditorChange({
          version: event.document.version,
          edits: event.contentChanges.map((change) => ({
            start: change.rangeOffset,
            end: change.rangeOffset + change.rangeLength,
            text: change.text,
          })),
        });
        this.shared.changed?.(event.document);
      }),
    );
    this.bindOpen();
  }

  /** Binds every open document that has a loaded shared document and no binding. */
  bindOpen(): void {
    for (const document of vscode.workspace.textDocuments) this.bind(document);
  }

  isBound(uri: vscode.Uri): boolean {
    return this.bindings.has(uri.toString());
  }

  bind(document: vscode.TextDocument): void {
    const key = document.uri.toString();
    if (this.bindings.has(key) || document.isClosed) return;
    const path = this.shared.pathOf(document.uri);
    const doc = path === null ? undefined : this.shared.docOf(path);
    if (path === null || doc === undefined) return;
    const binding = new TextBinding(doc.getText(TEXT_NAME), editorText(document), {
      readOnly: () => this.shared.readOnly(),
      onRefused: () => this.shared.refused(path),
      onError: (error) => console.error(`ctserver: ${path}: ${String(error)}`),
    });
    this.bindings.set(key, { binding, document });
  }

  unbind(uri: vscode.Uri): void {
    const key = uri.toString();
    this.bindings.get(key)?.binding.dispose();
    this.bindings.delete(key);
  }

  dispose(): void {
    for (const { binding } of this.bindings.values()) binding.dispose();
    this.bindings.clear();
    for (const subscription of this.subscriptions.splice(0)) subscription.dispose();
  }
}
