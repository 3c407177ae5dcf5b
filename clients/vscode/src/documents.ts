// Binds VS Code text documents to the session's Y.Docs (src/binding.ts does the
// merging): a document whose URI is a shared path, with that path's document
// loaded, is kept level with it both ways while it is open.

import * as vscode from "vscode";
import type * as Y from "yjs";

import { TEXT_NAME } from "../../web/core/files.js";
import { TextBinding, type EditorText } from "./binding.js";
import type { OffsetEdit } from "./text.js";

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

const CRLF = /\r\n/g;

function isCrlf(document: vscode.TextDocument): boolean {
  return document.eol === vscode.EndOfLine.CRLF;
}

/** The line and character of `offset` in `text` (line breaks are "\n" there). */
export function positionIn(text: string, offset: number): vscode.Position {
  let line = 0;
  let lineStart = 0;
  for (let at = text.indexOf("\n"); at !== -1 && at < offset; at = text.indexOf("\n", at + 1)) {
    line++;
    lineStart = at + 1;
  }
  return new vscode.Position(line, offset - lineStart);
}

/** A document as the binding sees it. Shared texts break lines with "\n" only
 *  (docs/protocol.md §10.1): a CRLF document is seen with "\n", and VS Code writes
 *  its own line ending into what it is given. Positions are lines and characters,
 *  the same in both. */
function editorText(document: vscode.TextDocument): EditorText {
  const text = (): string => (isCrlf(document) ? document.getText().replace(CRLF, "\n") : document.getText());
  return {
    text,
    version: () => document.version,
    apply: async (edits, version) => {
      if (document.isClosed || document.version !== version) return false;
      const base = text();
      const edit = new vscode.WorkspaceEdit();
      for (const { start, end, text: replacement } of edits) {
        edit.replace(document.uri, new vscode.Range(positionIn(base, start), positionIn(base, end)), replacement);
      }
      // VS Code refuses the edit if the document changed since `version` (the
      // person typed meanwhile): the binding then tries again.
      return vscode.workspace.applyEdit(edit);
    },
  };
}

/** A change event's replacements in "\n" terms: in a CRLF document each line break
 *  before an offset counts two, so the offset less the line number is the one. */
function changesOf(event: vscode.TextDocumentChangeEvent): OffsetEdit[] {
  const crlf = isCrlf(event.document);
  return event.contentChanges.map((change) => {
    const start = change.rangeOffset - (crlf ? change.range.start.line : 0);
    const end = change.rangeOffset + change.rangeLength - (crlf ? change.range.end.line : 0);
    return { start, end, text: crlf ? change.text.replace(CRLF, "\n") : change.text };
  });
}

export class DocumentBinder implements vscode.Disposable {
  private readonly bindings = new Map<string, { binding: TextBinding; text: Y.Text }>();
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(private readonly shared: SharedDocuments) {
    this.subscriptions.push(
      vscode.workspace.onDidOpenTextDocument((document) => this.bind(document)),
      vscode.workspace.onDidCloseTextDocument((document) => this.unbind(document.uri)),
      vscode.workspace.onDidChangeTextDocument((event) => {
        const bound = this.bindings.get(event.document.uri.toString());
        if (bound === undefined || event.contentChanges.length === 0) return;
        bound.binding.onEditorChange({ version: event.document.version, edits: changesOf(event) });
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

  /** Bind `document` to its path's shared document; again if that document is a new
   *  one (the file left the tree and came back). */
  bind(document: vscode.TextDocument, editorIsNewer = false): void {
    const key = document.uri.toString();
    if (document.isClosed) return;
    const path = this.shared.pathOf(document.uri);
    const doc = path === null ? undefined : this.shared.docOf(path);
    if (path === null || doc === undefined) return;
    const text = doc.getText(TEXT_NAME);
    const bound = this.bindings.get(key);
    if (bound?.text === text) return;
    bound?.binding.dispose();
    const binding = new TextBinding(text, editorText(document), {
      editorIsNewer,
      readOnly: () => this.shared.readOnly(),
      onRefused: () => this.shared.refused(path),
      // Never the path: a file name stays inside the ciphertext, and logs are on disk.
      onError: (error) => console.error(`ctserver: a shared document could not be updated: ${String(error)}`),
    });
    this.bindings.set(key, { binding, text });
  }

  /** Undo (or redo) this editor's own last change in `uri`; false when none. */
  undo(uri: vscode.Uri): boolean {
    return this.bindings.get(uri.toString())?.binding.undo() ?? false;
  }

  redo(uri: vscode.Uri): boolean {
    return this.bindings.get(uri.toString())?.binding.redo() ?? false;
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
