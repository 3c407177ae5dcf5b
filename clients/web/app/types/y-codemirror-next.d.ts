// y-codemirror.next 0.3.6 ships no type declarations; this is the part app/ uses.
declare module "y-codemirror.next" {
  import type { Extension } from "@codemirror/state";
  import type { KeyBinding } from "@codemirror/view";
  import type * as Y from "yjs";

  /** Binds the editor to `ytext` (both ways) and, unless false, to `undoManager`.
   *  `awareness` is y-protocols' Awareness, which ctserver does not use: null. */
  export function yCollab(ytext: Y.Text, awareness: null, options?: { undoManager?: Y.UndoManager | false }): Extension;
  export const yUndoManagerKeymap: readonly KeyBinding[];
}
