// Keeps an editor's text and a shared Y.Text the same, both ways, without losing or
// doubling a character when the person types while others' edits arrive.
//
// The editor is asynchronous: an edit we ask for lands later, or not at all when
// the person typed first (VS Code refuses an edit made against an older version of
// the document). So the binding keeps:
//
//   shadow   the editor's text as its change events have told us;
//   pending  the others' changes already in the Y.Text but not yet in the editor,
//            as a Delta over `shadow`;
//   inflight the part of `pending` we asked the editor to apply, awaiting its answer.
//
// Invariant (between events): Y.Text = shadow ∘ inflight ∘ pending. A local change
// (a Delta over `shadow`) is transformed past `inflight ∘ pending` before it goes
// into the Y.Text, and those are transformed past it, operational-transform style
// (quill-delta's transform). At the same position the others' insert comes first,
// on both sides, so every replica orders them alike.

import Delta from "quill-delta";
import * as Y from "yjs";

import { applyDelta, deltaOfSequence, diffDelta, editsOfDelta, isNoop, plainDelta, type OffsetEdit } from "./text.js";

/** The editor side, as the binding needs it (a VS Code TextDocument, or a test's fake). */
export interface EditorText {
  /** The whole text now. */
  text(): string;
  /** The document's version now; every change raises it by one. */
  version(): number;
  /** Replace, all at once, ranges of the text as it is at `version`. Resolves false,
   *  changing nothing, when the document is no longer at `version`. */
  apply(edits: readonly OffsetEdit[], version: number): Promise<boolean>;
}

/** One change event from the editor: its replacements, applied one after another
 *  (each relative to the text the ones before it left, as VS Code's contentChanges
 *  are), and the document's version after it. */
export interface EditorChange {
  readonly version: number;
  readonly edits: readonly OffsetEdit[];
}

export interface BindingOptions {
  /** Where the two differ at the start, the editor's text is the newer (a file
   *  changed on disk while nothing was bound to it): it goes into the Y.Text as a
   *  local edit. By default the Y.Text's is (the editor read it a moment ago). */
  editorIsNewer?: boolean;
  /** Local edits are undone instead of shared (a read-only guest). */
  readOnly?: () => boolean;
  /** Told when a local edit was undone because of `readOnly`. */
  onRefused?: () => void;
  /** Told when applying to the editor failed for good (the document closed). */
  onError?: (error: unknown) => void;
}

export class TextBinding {
  private shadow: string;
  private pending: Delta;
  private inflight: { delta: Delta; version: number } | null = null;
  private buffered: EditorChange[] = [];
  /** The version our last successful edit produced, when its event has not come yet. */
  private ownVersion: number | null = null;
  private disposed = false;
  private flushing: Promise<void> = Promise.resolve();
  private readonly observer: (event: Y.YTextEvent, transaction: Y.Transaction) => void;
  /** This editor's own changes, to undo and redo: never the others' (their edits
   *  reach the editor as edits too, and VS Code's own undo would take them back). */
  private readonly history: Y.UndoManager;

  constructor(
    private readonly ytext: Y.Text,
    private readonly editor: EditorText,
    private readonly options: BindingOptions = {},
  ) {
    if (options.editorIsNewer === true) {
      this.shadow = ytext.toString();
      this.pending = new Delta();
      this.local(diffDelta(this.shadow, editor.text()));
    } else {
      // The editor may hold an older text than the document (it was read a moment
      // ago): the difference is the others' and goes to the editor.
      this.shadow = editor.text();
      this.pending = diffDelta(this.shadow, ytext.toString());
    }
    this.observer = (event, transaction) => {
      if (transaction.origin === this || this.disposed) return;
      this.pending = this.pending.compose(plainDelta(event.delta as never));
      this.schedule();
    };
    ytext.observe(this.observer);
    this.history = new Y.UndoManager(ytext, { trackedOrigins: new Set([this]) });
    this.schedule();
  }

  /** Undo this editor's last change (typing within half a second is one change);
   *  false when there is none. The result reaches the editor as others' edits do. */
  undo(): boolean {
    return !this.disposed && this.history.undo() !== null;
  }

  redo(): boolean {
    return !this.disposed && this.history.redo() !== null;
  }

  dispose(): void {
    this.disposed = true;
    this.ytext.unobserve(this.observer);
    this.history.destroy();
  }

  /** Resolves once the editor holds every change received so far (for tests). */
  async settled(): Promise<void> {
    for (;;) {
      const flushing = this.flushing;
      await flushing;
      if (this.disposed || (this.inflight === null && isNoop(this.pending))) return;
      if (this.flushing === flushing) this.schedule(); // an edit that failed for good: retry
    }
  }

  /** The editor changed: the person typed, or our own edit landed. */
  onEditorChange(change: EditorChange): void {
    if (this.disposed || change.edits.length === 0) return;
    if (this.inflight !== null) {
      this.buffered.push(change); // sorted out once the editor answers
      return;
    }
    if (change.version === this.ownVersion) {
      this.ownVersion = null; // our edit's own event, after its answer: already counted
      return;
    }
    this.local(deltaOfSequence(change.edits));
    this.schedule();
  }

  /** A local change (a Delta over `shadow`) into the Y.Text, or undone if read-only. */
  private local(change: Delta): void {
    const before = this.shadow;
    const remote = this.pending;
    this.shadow = applyDelta(before, change);
    if (this.options.readOnly?.() === true) {
      // Take it back: the editor gets its inverse, then what the others did.
      const inverse = change.invert(new Delta().insert(before));
      this.pending = inverse.compose(remote);
      this.options.onRefused?.();
      return;
    }
    const forDocument = remote.transform(change, true);
    this.pending = change.transform(remote, false);
    this.ytext.doc?.transact(() => applyToText(this.ytext, forDocument), this);
  }

  private schedule(): void {
    if (this.disposed) return;
    this.flushing = this.flushing.then(() => this.flush()).catch((error: unknown) => this.options.onError?.(error));
  }

  /** Hands `pending` to the editor until nothing is left or the binding stops. */
  private async flush(): Promise<void> {
    while (!this.disposed && this.inflight === null && !isNoop(this.pending)) {
      const version = this.editor.version();
      const sent = { delta: this.pending, version };
      this.pending = new Delta();
      if (applyDelta(this.shadow, sent.delta) === this.shadow) {
        // Changes that cancel out (typed and deleted again): the editor would make
        // no edit and no event of it, and its version would not move.
        continue;
      }
      this.inflight = sent;
      let landed = false;
      try {
        landed = await this.editor.apply(editsOfDelta(sent.delta), version);
      } finally {
        this.inflight = null;
        const changes = this.buffered;
        this.buffered = [];
        this.settle(sent, landed, changes);
      }
    }
    if (!this.disposed && this.inflight === null && isNoop(this.pending)) this.checkLevel();
  }

  /** After the editor answered: count our edit once, and the person's changes made
   *  meanwhile as local ones, against what is still pending. */
  private settle(sent: { delta: Delta; version: number }, landed: boolean, changes: EditorChange[]): void {
    if (landed) {
      // Our edit landed on `sent.version`, so every event before it would have
      // made it fail: its event is the one with the next version.
      this.shadow = applyDelta(this.shadow, sent.delta);
      const own = sent.version + 1;
      const ownSeen = changes.some((change) => change.version === own);
      for (const change of changes) {
        if (change.version === this.ownVersion) this.ownVersion = null; // the last edit's, late
        else if (change.version !== own) this.local(deltaOfSequence(change.edits));
      }
      // Its event may come after the answer: recognised then by its version.
      if (!ownSeen) this.ownVersion = own;
    } else {
      // Nothing of ours landed: what we sent is pending again, before what came since.
      this.pending = sent.delta.compose(this.pending);
      for (const change of changes) {
        if (change.version === this.ownVersion) this.ownVersion = null; // the last edit's, late
        else this.local(deltaOfSequence(change.edits));
      }
    }
  }

  /** The safety net: an editor that rewrote what we gave it (line endings, say)
   *  holds a text other than `shadow`; its text counts as a local edit. */
  private checkLevel(): void {
    if (this.ownVersion !== null) return; // our last edit's event is still to come
    const actual = this.editor.text();
    if (actual !== this.shadow) {
      this.local(diffDelta(this.shadow, actual));
      this.schedule();
    }
  }
}

/** Apply a Delta to a Y.Text op by op. (Y.Text.applyDelta is made for Quill: it
 *  may drop a final line feed of the last insert.) */
function applyToText(ytext: Y.Text, delta: Delta): void {
  let at = 0;
  for (const op of delta.ops) {
    if (typeof op.retain === "number") {
      at += op.retain;
    } else if (typeof op.delete === "number") {
      ytext.delete(at, op.delete);
    } else if (typeof op.insert === "string") {
      ytext.insert(at, op.insert);
      at += op.insert.length;
    }
  }
}
