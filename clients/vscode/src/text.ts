// Text changes as quill-delta Deltas (retain / insert / delete over a string), the
// format Yjs reports Y.Text changes in: what the binding transforms and composes.

import Delta from "quill-delta";

/** One replacement in a text: [start, end) replaced by `text`, in UTF-16 code units. */
export interface OffsetEdit {
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

/** A change event's replacements, each relative to the text before the event
 *  (VS Code's contentChanges: non-overlapping, in any order), as one Delta. */
export function deltaOfEdits(edits: readonly OffsetEdit[]): Delta {
  const sorted = [...edits].sort((a, b) => a.start - b.start || a.end - b.end);
  const delta = new Delta();
  let at = 0;
  for (const edit of sorted) {
    if (edit.start < at || edit.end < edit.start) throw new RangeError("overlapping or reversed edits");
    delta.retain(edit.start - at);
    if (edit.end > edit.start) delta.delete(edit.end - edit.start);
    if (edit.text.length > 0) delta.insert(edit.text);
    at = edit.end;
  }
  return delta.chop();
}

/** A change event's replacements applied one after another, each relative to the
 *  text the ones before it left (as VS Code reports and applies contentChanges),
 *  as one Delta over the text before the event. */
export function deltaOfSequence(edits: readonly OffsetEdit[]): Delta {
  let delta = new Delta();
  for (const edit of edits) delta = delta.compose(deltaOfEdits([edit]));
  return delta;
}

/** A Delta as replacements relative to the text it applies to. */
export function editsOfDelta(delta: Delta): OffsetEdit[] {
  const edits: OffsetEdit[] = [];
  let at = 0;
  let pending: { start: number; end: number; text: string } | null = null;
  const close = (): void => {
    if (pending !== null) edits.push(pending);
    pending = null;
  };
  for (const op of delta.ops) {
    if (typeof op.retain === "number") {
      close();
      at += op.retain;
    } else if (typeof op.delete === "number") {
      pending ??= { start: at, end: at, text: "" };
      pending.end += op.delete;
      at += op.delete;
    } else if (typeof op.insert === "string") {
      pending ??= { start: at, end: at, text: "" };
      pending.text += op.insert;
    }
  }
  close();
  return edits;
}

/** `text` with `delta` applied. */
export function applyDelta(text: string, delta: Delta): string {
  const parts: string[] = [];
  let at = 0;
  for (const op of delta.ops) {
    if (typeof op.retain === "number") {
      parts.push(text.slice(at, at + op.retain));
      at += op.retain;
    } else if (typeof op.delete === "number") {
      at += op.delete;
    } else if (typeof op.insert === "string") {
      parts.push(op.insert);
    }
  }
  if (at > text.length) throw new RangeError("a delta longer than its text");
  parts.push(text.slice(at));
  return parts.join("");
}

/** The smallest single replacement turning `before` into `after` (common prefix and
 *  suffix kept), as a Delta. */
export function diffDelta(before: string, after: string): Delta {
  let prefix = 0;
  const shorter = Math.min(before.length, after.length);
  while (prefix < shorter && before.charCodeAt(prefix) === after.charCodeAt(prefix)) prefix++;
  let suffix = 0;
  while (
    suffix < shorter - prefix &&
    before.charCodeAt(before.length - 1 - suffix) === after.charCodeAt(after.length - 1 - suffix)
  ) {
    suffix++;
  }
  // Never split a surrogate pair: widen the replaced part to whole characters.
  if (prefix > 0 && isHighSurrogate(before.charCodeAt(prefix - 1))) prefix--;
  if (suffix > 0 && isLowSurrogate(before.charCodeAt(before.length - suffix))) suffix--;
  return deltaOfEdits([
    { start: prefix, end: before.length - suffix, text: after.slice(prefix, after.length - suffix) },
  ]);
}

/** Whether a Delta changes nothing (no ops, or retains only). */
export function isNoop(delta: Delta): boolean {
  return delta.ops.every((op) => typeof op.retain === "number");
}

/** A Yjs Y.Text event delta as a plain-text Delta (formatting attributes dropped). */
export function plainDelta(ops: readonly { insert?: unknown; retain?: number; delete?: number }[]): Delta {
  const delta = new Delta();
  for (const op of ops) {
    if (typeof op.retain === "number") delta.retain(op.retain);
    else if (typeof op.delete === "number") delta.delete(op.delete);
    else if (typeof op.insert === "string") delta.insert(op.insert);
  }
  return delta;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}
