// The code editor: one CodeMirror view showing one open file at a time.
//
// Each activation builds a fresh EditorState from the file's Y.Text (y-codemirror.next
// keeps the two level both ways while it is shown); what must outlive a switch of
// tabs is kept per file: the Yjs undo history, the selection as Yjs relative
// positions (so it stays on its characters while others edit), the scroll position
// and the loaded language.

import { closeBrackets, closeBracketsKeymap } from "@codemirror/autocomplete";
import { defaultKeymap, indentWithTab } from "@codemirror/commands";
import {
  bracketMatching,
  defaultHighlightStyle,
  foldGutter,
  foldKeymap,
  indentOnInput,
  syntaxHighlighting,
  type LanguageSupport,
} from "@codemirror/language";
import { highlightSelectionMatches, searchKeymap } from "@codemirror/search";
import { Compartment, EditorSelection, EditorState, type Extension } from "@codemirror/state";
import {
  crosshairCursor,
  drawSelection,
  dropCursor,
  EditorView,
  highlightActiveLine,
  highlightActiveLineGutter,
  highlightSpecialChars,
  keymap,
  lineNumbers,
  rectangularSelection,
} from "@codemirror/view";
import { yCollab, yUndoManagerKeymap } from "y-codemirror.next";
import * as Y from "yjs";

import { TEXT_NAME } from "../../core/index.js";
import { cursorsChanged, remoteCursors, type DrawnCursor } from "../cursors.js";
import { languageFor } from "../languages.js";
import { h } from "./dom.js";

interface FileState {
  readonly doc: Y.Doc;
  readonly text: Y.Text;
  readonly undo: Y.UndoManager;
  anchor: Y.RelativePosition | null;
  head: Y.RelativePosition | null;
  scrollTop: number;
  language: LanguageSupport | null;
}

export interface EditorOptions {
  /** The page's CSP nonce, for the style elements CodeMirror adds. */
  readonly nonce: string | null;
  /** The other peers' cursors in `path`, as indexes into its current text. */
  readonly cursors: (path: string) => readonly DrawnCursor[];
  /** This peer's cursor moved in `path` (or the file was shown). */
  readonly onCursor: (path: string, anchor: number, head: number) => void;
}

export interface CursorPosition {
  readonly line: number;
  readonly column: number;
  readonly selected: number;
}

const theme = EditorView.theme({
  "&": { height: "100%" },
  "&.cm-focused": { outline: "none" },
  ".cm-scroller": { fontFamily: "var(--mono)", lineHeight: "1.5" },
});

export class Editor {
  readonly element: HTMLElement;
  current: string | null = null;
  /** Called whenever the shown file's cursor position changes (status bar). */
  onPosition: (position: CursorPosition | null) => void = () => undefined;

  private readonly view: EditorView;
  private readonly placeholder: HTMLElement;
  private readonly loading: HTMLElement;
  private readonly files = new Map<string, FileState>();
  private readonly access = new Compartment();
  private readonly language = new Compartment();
  private readOnly = false;
  private synced = false;
  private focusWhenSynced = false;

  constructor(private readonly options: EditorOptions) {
    this.placeholder = h("div", { className: "editor-empty" }, [
      h("p", { className: "editor-empty-title", text: "No file open" }),
      h("p", { text: "Choose a file in the list on the left. Edits are shared live, end-to-end encrypted." }),
    ]);
    this.loading = h("div", { className: "editor-loading", attrs: { role: "status" } });
    this.view = new EditorView({ state: EditorState.create({ extensions: this.base(null) }) });
    this.element = h("div", { id: "editor", className: "editor is-empty", attrs: { "data-testid": "editor" } }, [
      this.placeholder,
      this.loading,
      this.view.dom,
    ]);
  }

  /** Shows `path`'s document; `synced`: its content has arrived from the host. */
  show(path: string, doc: Y.Doc, synced: boolean): void {
    if (this.current === path && this.files.get(path)?.doc === doc) {
      this.setSynced(synced);
      return;
    }
    this.saveCurrent();
    const file = this.fileFor(path, doc);
    this.current = path;
    this.synced = synced;
    this.focusWhenSynced = false;
    const selection = this.restoredSelection(file);
    this.view.setState(
      EditorState.create({ doc: file.text.toString(), selection, extensions: this.base(path, file) }),
    );
    this.element.classList.remove("is-empty");
    this.updateLoading();
    this.view.requestMeasure({
      read: () => null,
      write: () => {
        this.view.scrollDOM.scrollTop = file.scrollTop;
      },
    });
    void this.loadLanguage(path, file);
    this.cursorMoved();
  }

  /** No file shown. */
  clear(): void {
    this.saveCurrent();
    this.current = null;
    this.view.setState(EditorState.create({ extensions: this.base(null) }));
    this.element.classList.add("is-empty");
    this.updateLoading();
    this.onPosition(null);
  }

  /** Forgets a closed file (its undo history goes with it). */
  forget(path: string): void {
    if (this.current === path) this.clear();
    this.files.get(path)?.undo.destroy();
    this.files.delete(path);
  }

  destroy(): void {
    for (const file of this.files.values()) file.undo.destroy();
    this.files.clear();
    this.current = null;
    this.view.destroy();
  }

  setSynced(synced: boolean): void {
    if (this.synced === synced) return;
    this.synced = synced;
    this.updateAccess();
    if (synced && this.focusWhenSynced) {
      this.focusWhenSynced = false;
      this.view.focus();
    }
  }

  setReadOnly(readOnly: boolean): void {
    if (this.readOnly === readOnly) return;
    this.readOnly = readOnly;
    this.updateAccess();
  }

  /** Redraw the remote cursors (they moved, came or went). */
  refreshCursors(): void {
    if (this.current !== null) this.view.dispatch({ effects: cursorsChanged.of(null) });
  }

  /** Scrolls `index` of the shown file into view, centred (following someone). */
  reveal(index: number): void {
    const position = Math.min(index, this.view.state.doc.length);
    this.view.dispatch({ effects: EditorView.scrollIntoView(position, { y: "center" }) });
  }

  /** Focuses the editor, or, while the file's content has not arrived (the editor
   *  is hidden then), as soon as it has. */
  focus(): void {
    if (this.current === null) return;
    this.focusWhenSynced = !this.synced;
    if (this.synced) this.view.focus();
  }

  get hasFocus(): boolean {
    return this.view.hasFocus;
  }

  private base(path: string | null, file?: FileState): Extension {
    const extensions: Extension[] = [
      theme,
      this.options.nonce === null ? [] : EditorView.cspNonce.of(this.options.nonce),
      this.access.of(this.accessExtension(path !== null)),
    ];
    if (path === null || file === undefined) return extensions;
    return [
      ...extensions,
      lineNumbers(),
      highlightActiveLineGutter(),
      highlightSpecialChars(),
      foldGutter(),
      drawSelection(),
      dropCursor(),
      EditorState.allowMultipleSelections.of(true),
      indentOnInput(),
      syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
      bracketMatching(),
      closeBrackets(),
      rectangularSelection(),
      crosshairCursor(),
      highlightActiveLine(),
      highlightSelectionMatches(),
      keymap.of([
        ...closeBracketsKeymap,
        ...defaultKeymap,
        ...searchKeymap,
        ...yUndoManagerKeymap,
        ...foldKeymap,
        indentWithTab,
      ]),
      this.language.of(file.language ?? []),
      yCollab(file.text, null, { undoManager: file.undo }),
      remoteCursors(() => this.options.cursors(path)),
      EditorView.contentAttributes.of({ "aria-label": `Editor: ${path}` }),
      EditorView.updateListener.of((update) => {
        // Remote edits move the cursor's index but not its Yjs position: only a
        // selection change is news for the others.
        if (update.selectionSet) this.cursorMoved();
        else if (update.docChanged) this.positionChanged();
      }),
    ];
  }

  private accessExtension(open: boolean): Extension {
    const editable = open && this.synced && !this.readOnly;
    return [EditorState.readOnly.of(!editable), EditorView.editable.of(editable)];
  }

  private updateAccess(): void {
    this.view.dispatch({ effects: this.access.reconfigure(this.accessExtension(this.current !== null)) });
    this.updateLoading();
  }

  private updateLoading(): void {
    const waiting = this.current !== null && !this.synced;
    this.element.classList.toggle("is-loading", waiting);
    this.loading.textContent = waiting ? `Opening ${this.current ?? ""}…` : "";
  }

  private fileFor(path: string, doc: Y.Doc): FileState {
    const known = this.files.get(path);
    if (known !== undefined && known.doc === doc) return known;
    known?.undo.destroy();
    const text = doc.getText(TEXT_NAME);
    const file: FileState = {
      doc,
      text,
      undo: new Y.UndoManager(text),
      anchor: null,
      head: null,
      scrollTop: 0,
      language: null,
    };
    this.files.set(path, file);
    return file;
  }

  private saveCurrent(): void {
    const file = this.current === null ? undefined : this.files.get(this.current);
    if (file === undefined) return;
    const main = this.view.state.selection.main;
    file.anchor = Y.createRelativePositionFromTypeIndex(file.text, main.anchor);
    file.head = Y.createRelativePositionFromTypeIndex(file.text, main.head);
    file.scrollTop = this.view.scrollDOM.scrollTop;
  }

  private restoredSelection(file: FileState): EditorSelection | undefined {
    if (file.anchor === null || file.head === null) return undefined;
    const anchor = Y.createAbsolutePositionFromRelativePosition(file.anchor, file.doc);
    const head = Y.createAbsolutePositionFromRelativePosition(file.head, file.doc);
    if (anchor === null || head === null) return undefined;
    const length = file.text.length;
    return EditorSelection.single(Math.min(anchor.index, length), Math.min(head.index, length));
  }

  private async loadLanguage(path: string, file: FileState): Promise<void> {
    const load = languageFor(path).load;
    if (file.language !== null || load === null) return;
    try {
      file.language = await load();
    } catch {
      return; // highlighting is a comfort: plain text still edits
    }
    if (this.current === path && this.files.get(path) === file) {
      this.view.dispatch({ effects: this.language.reconfigure(file.language) });
    }
  }

  private positionChanged(): void {
    const state = this.view.state;
    const main = state.selection.main;
    const line = state.doc.lineAt(main.head);
    this.onPosition({ line: line.number, column: main.head - line.from + 1, selected: main.to - main.from });
  }

  private cursorMoved(): void {
    const path = this.current;
    if (path === null) return;
    this.positionChanged();
    const main = this.view.state.selection.main;
    this.options.onCursor(path, main.anchor, main.head);
  }
}
