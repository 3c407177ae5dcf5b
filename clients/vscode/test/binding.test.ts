// The editor binding (src/binding.ts): several replicas, each an asynchronous fake
// editor bound to its own Y.Doc, typing at once while updates cross a network with
// random delays. No character may be lost or doubled, and all must end alike.

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import * as Y from "yjs";

import { TextBinding, type EditorChange, type EditorText } from "../src/binding.js";
import { applyDelta, deltaOfEdits, deltaOfSequence, diffDelta, editsOfDelta, type OffsetEdit } from "../src/text.js";

/** A deterministic random source (mulberry32), so a failure can be replayed. */
function randomSource(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const tick = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** An editor like VS Code's: `apply` answers later and fails if the document
 *  changed meanwhile; an edit that changes nothing makes no event and keeps the
 *  version; every change fires one event whose replacements apply one after
 *  another. With `lateOwnEvents`, the event of an applied edit comes after the
 *  answer (still before anything typed later). */
class FakeEditor implements EditorText {
  private content: string;
  private versionNumber = 1;
  private readonly late: EditorChange[] = [];
  binding: TextBinding | null = null;
  applied = 0;
  refusedForVersion = 0;

  constructor(
    text: string,
    private readonly random: () => number,
    private readonly rewrite: (text: string) => string = (text) => text,
    private readonly lateOwnEvents = false,
  ) {
    this.content = text;
  }

  text(): string {
    return this.content;
  }

  version(): number {
    return this.versionNumber;
  }

  async apply(edits: readonly OffsetEdit[], version: number): Promise<boolean> {
    await tick(Math.floor(this.random() * 3));
    this.deliverLate();
    if (version !== this.versionNumber) {
      this.refusedForVersion++;
      return false;
    }
    // VS Code reports (and applies) an edit's replacements last first.
    const rewritten = edits.map((edit) => ({ ...edit, text: this.rewrite(edit.text) }));
    const sequence = [...rewritten].sort((a, b) => b.start - a.start);
    if (applyDelta(this.content, deltaOfSequence(sequence)) === this.content) return true; // no-op
    this.applied++;
    this.change(sequence, this.lateOwnEvents);
    if (this.lateOwnEvents) setTimeout(() => this.deliverLate(), 0);
    await tick(Math.floor(this.random() * 2)); // the answer may come a little later
    return true;
  }

  /** The person types: one event with these replacements (applied in this order). */
  type(edits: readonly OffsetEdit[]): void {
    this.deliverLate();
    this.change(edits, false);
  }

  private deliverLate(): void {
    for (const change of this.late.splice(0)) this.binding?.onEditorChange(change);
  }

  private change(edits: readonly OffsetEdit[], late: boolean): void {
    this.content = applyDelta(this.content, deltaOfSequence(edits));
    this.versionNumber++;
    const change: EditorChange = { version: this.versionNumber, edits };
    if (late) this.late.push(change);
    else this.binding?.onEditorChange(change);
  }
}

interface Replica {
  readonly doc: Y.Doc;
  readonly editor: FakeEditor;
  readonly binding: TextBinding;
}

/** Replicas whose Y.Doc updates reach each other after random delays, each
 *  sender's in order (as the relay keeps them). */
function network(
  count: number,
  initial: string,
  seed: number,
  rewrite?: (text: string) => string,
  lateOwnEvents = false,
): Replica[] {
  const random = randomSource(seed);
  const replicas: Replica[] = [];
  const origin = new Y.Doc();
  origin.getText("content").insert(0, initial);
  const start = Y.encodeStateAsUpdate(origin);
  for (let n = 0; n < count; n++) {
    const doc = new Y.Doc();
    Y.applyUpdate(doc, start, "network");
    const editor = new FakeEditor(initial, random, rewrite, lateOwnEvents);
    const binding = new TextBinding(doc.getText("content"), editor);
    editor.binding = binding;
    replicas.push({ doc, editor, binding });
  }
  for (const sender of replicas) {
    let line: Promise<void> = Promise.resolve();
    sender.doc.on("update", (update: Uint8Array, from: unknown) => {
      if (from === "network") return;
      const delay = Math.floor(random() * 4);
      line = line.then(async () => {
        await tick(delay);
        for (const receiver of replicas) if (receiver !== sender) Y.applyUpdate(receiver.doc, update, "network");
      });
    });
  }
  return replicas;
}

async function settle(replicas: Replica[]): Promise<void> {
  for (let round = 0; round < 5; round++) {
    await tick(20);
    for (const replica of replicas) await replica.binding.settled();
  }
}

describe("text deltas", () => {
  it("turn replacements into a delta and back", () => {
    const edits = [
      { start: 6, end: 11, text: "there" },
      { start: 0, end: 0, text: ">" },
    ];
    const delta = deltaOfEdits(edits);
    assert.equal(applyDelta("hello world", delta), ">hello there");
    assert.deepEqual(editsOfDelta(delta), [
      { start: 0, end: 0, text: ">" },
      { start: 6, end: 11, text: "there" },
    ]);
  });

  it("refuse overlapping replacements", () => {
    assert.throws(() => deltaOfEdits([{ start: 0, end: 4, text: "" }, { start: 2, end: 3, text: "" }]), RangeError);
  });

  it("diff into one replacement without splitting a surrogate pair", () => {
    assert.equal(applyDelta("abcdef", diffDelta("abcdef", "abXYef")), "abXYef");
    const before = "a\u{1F600}b";
    const after = "a\u{1F601}b";
    const [edit] = editsOfDelta(diffDelta(before, after));
    assert.deepEqual(edit, { start: 1, end: 3, text: "\u{1F601}" });
  });
});

describe("the editor binding", () => {
  it("brings an editor holding an older text level with the document", async () => {
    const doc = new Y.Doc();
    doc.getText("content").insert(0, "newer text");
    const editor = new FakeEditor("older text", randomSource(1));
    const binding = new TextBinding(doc.getText("content"), editor);
    editor.binding = binding;
    await binding.settled();
    assert.equal(editor.text(), "newer text");
    assert.equal(doc.getText("content").toString(), "newer text");
  });

  it("loses and doubles nothing while three people type at once", async () => {
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      // Half the runs with the edits' own events after VS Code's answer.
      const replicas = network(3, "fn main() {\n}\n", seed, undefined, seed % 2 === 0);
      const random = randomSource(seed * 7919);
      const typed: string[] = [];
      // Each keystroke types its own character (CJK, one UTF-16 unit each): a later
      // insertion cannot land inside it, so each must be there exactly once.
      let next = 0x4e00;
      const unique = (): string => String.fromCharCode(next++);
      for (let step = 0; step < 120; step++) {
        const n = Math.floor(random() * replicas.length);
        const editor = replicas[n]!.editor;
        // At a random place; sometimes two at once, as with several cursors.
        const token = unique();
        typed.push(token);
        const at = Math.floor(random() * (editor.text().length + 1));
        if (random() < 0.2) {
          const other = unique();
          typed.push(other);
          const second = Math.floor(random() * (editor.text().length + 1));
          const [first, last] = at <= second ? [at, second] : [second, at];
          // Two cursors: VS Code reports the later place first.
          const edits = first === last ? [{ start: first, end: first, text: token + other }] : [
            { start: last, end: last, text: other },
            { start: first, end: first, text: token },
          ];
          editor.type(edits);
        } else {
          editor.type([{ start: at, end: at, text: token }]);
        }
        if (random() < 0.3) await tick(Math.floor(random() * 3));
      }
      await settle(replicas);
      const texts = replicas.map((replica) => replica.editor.text());
      const documents = replicas.map((replica) => replica.doc.getText("content").toString());
      for (const text of [...texts, ...documents]) assert.equal(text, texts[0], `seed ${seed}: replicas differ`);
      for (const token of typed) {
        assert.equal(texts[0]!.split(token).length - 1, 1, `seed ${seed}: ${token} is not there exactly once`);
      }
      const refused = replicas.reduce((sum, replica) => sum + replica.editor.refusedForVersion, 0);
      assert.ok(refused > 0, `seed ${seed}: no edit ever met concurrent typing; the test proves nothing`);
    }
  });

  it("converges with deletions and replacements too", async () => {
    for (const seed of [11, 12, 13]) {
      const replicas = network(2, "The quick brown fox jumps over the lazy dog.\n".repeat(4), seed);
      const random = randomSource(seed);
      for (let step = 0; step < 150; step++) {
        const editor = replicas[Math.floor(random() * 2)]!.editor;
        const length = editor.text().length;
        const start = Math.floor(random() * (length + 1));
        const end = Math.min(length, start + Math.floor(random() * 6));
        editor.type([{ start, end, text: random() < 0.5 ? "" : `[${step}]` }]);
        if (random() < 0.3) await tick(1);
      }
      await settle(replicas);
      const [a, b] = replicas;
      assert.equal(a!.editor.text(), b!.editor.text());
      assert.equal(a!.doc.getText("content").toString(), a!.editor.text());
      assert.equal(b!.doc.getText("content").toString(), b!.editor.text());
    }
  });

  it("shares an editor's newer text when told it is the newer", async () => {
    const doc = new Y.Doc();
    doc.getText("content").insert(0, "as shared\n");
    const editor = new FakeEditor("as shared\nand changed on disk\n", randomSource(5));
    const binding = new TextBinding(doc.getText("content"), editor, { editorIsNewer: true });
    editor.binding = binding;
    await binding.settled();
    assert.equal(doc.getText("content").toString(), "as shared\nand changed on disk\n");
    assert.equal(editor.text(), "as shared\nand changed on disk\n");
  });

  it("takes a read-only guest's edit back, and keeps the others' meanwhile", async () => {
    const doc = new Y.Doc();
    doc.getText("content").insert(0, "shared\n");
    const editor = new FakeEditor("shared\n", randomSource(3));
    let refused = 0;
    const binding = new TextBinding(doc.getText("content"), editor, {
      readOnly: () => true,
      onRefused: () => refused++,
    });
    editor.binding = binding;
    editor.type([{ start: 0, end: 0, text: "mine " }]);
    doc.getText("content").insert(7, "theirs\n"); // someone else's edit arrives
    await binding.settled();
    assert.equal(editor.text(), "shared\ntheirs\n");
    assert.equal(doc.getText("content").toString(), "shared\ntheirs\n");
    assert.equal(refused, 1);
  });

  it("shares what an editor rewrote (line endings) instead of drifting", async () => {
    const replicas = network(2, "one\n", 21, (text) => text.replaceAll("\n", "\r\n"));
    const [a, b] = replicas;
    a!.editor.type([{ start: 4, end: 4, text: "two\n" }]);
    await settle(replicas);
    assert.equal(a!.editor.text(), b!.editor.text());
    assert.equal(a!.doc.getText("content").toString(), b!.doc.getText("content").toString());
    assert.equal(a!.editor.text(), a!.doc.getText("content").toString());
  });

  it("does not take a keystroke for an edit that changed nothing", async () => {
    const doc = new Y.Doc();
    const text = doc.getText("content");
    text.insert(0, "abc");
    const editor = new FakeEditor("abc", randomSource(9));
    const binding = new TextBinding(text, editor);
    editor.binding = binding;
    // Someone selects "b" and types "b" over it: a change that changes nothing.
    doc.transact(() => {
      text.delete(1, 1);
      text.insert(1, "b");
    }, "network");
    await binding.settled();
    editor.type([{ start: 3, end: 3, text: "k" }]);
    assert.equal(text.toString(), "abck");
  });

  it("undoes this editor's own changes only, never the others'", async () => {
    const replicas = network(2, "line\n", 31);
    const [a, b] = replicas;
    a!.editor.type([{ start: 5, end: 5, text: "mine\n" }]);
    await settle(replicas);
    b!.editor.type([{ start: 0, end: 0, text: "theirs\n" }]);
    await settle(replicas);
    assert.equal(a!.binding.undo(), true);
    assert.equal(a!.binding.undo(), false); // nothing more of a's own
    await settle(replicas);
    for (const replica of replicas) assert.equal(replica.editor.text(), "theirs\nline\n");
    assert.equal(a!.binding.redo(), true);
    await settle(replicas);
    for (const replica of replicas) assert.equal(replica.editor.text(), "theirs\nline\nmine\n");
  });

  it("stops following the document once disposed", async () => {
    const doc = new Y.Doc();
    const editor = new FakeEditor("", randomSource(4));
    const binding = new TextBinding(doc.getText("content"), editor);
    editor.binding = binding;
    binding.dispose();
    doc.getText("content").insert(0, "later");
    editor.type([{ start: 0, end: 0, text: "mine" }]);
    await tick(10);
    assert.equal(editor.text(), "mine");
    assert.equal(doc.getText("content").toString(), "later");
  });
});
