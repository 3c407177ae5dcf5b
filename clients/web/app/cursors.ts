// Remote cursors and selections (docs/protocol.md §10.2) drawn in CodeMirror.
//
// The peer's colour is arbitrary (#rrggbb from the wire), and the page's
// Content-Security-Policy refuses style attributes, so nothing here is a
// decoration with a `style` attribute: selections and carets are layer markers
// whose colour is set through CSSOM (a custom property) when they are drawn.

import { EditorSelection, StateEffect, type Extension } from "@codemirror/state";
import { layer, RectangleMarker, type EditorView, type LayerMarker, type ViewUpdate } from "@codemirror/view";

export interface DrawnCursor {
  readonly peerId: number;
  readonly name: string;
  readonly colour: string;
  readonly anchor: number;
  readonly head: number;
  /** The peer's connection dropped: it may come back, its cursor is drawn faded. */
  readonly away: boolean;
}

/** Dispatch it when the cursors changed without the document changing. */
export const cursorsChanged = StateEffect.define<null>();

class PeerMarker implements LayerMarker {
  constructor(
    readonly inner: RectangleMarker,
    readonly colour: string,
    readonly label: string | null,
    readonly away: boolean,
  ) {}

  private same(other: LayerMarker): other is PeerMarker {
    return (
      other instanceof PeerMarker &&
      other.colour === this.colour &&
      other.label === this.label &&
      other.away === this.away
    );
  }

  eq(other: LayerMarker): boolean {
    return this.same(other) && this.inner.eq(other.inner);
  }

  draw(): HTMLElement {
    const element = this.inner.draw();
    element.style.setProperty("--peer-colour", this.colour);
    element.classList.toggle("ct-away", this.away);
    if (this.label !== null) {
      const label = document.createElement("span");
      label.className = "ct-caret-label";
      label.textContent = this.label; // a peer's name: text, never markup
      element.classList.toggle("ct-label-below", this.inner.top < 16);
      element.append(label);
    }
    return element;
  }

  update(dom: HTMLElement, old: LayerMarker): boolean {
    if (!this.same(old)) return false;
    // A caret that moved is drawn anew, so that its name shows again (the label
    // fades out a while after the last move, not to hide the text under it).
    if (this.label !== null && !this.inner.eq(old.inner)) return false;
    return this.inner.update(dom, old.inner);
  }
}

function redraw(update: ViewUpdate): boolean {
  return (
    update.docChanged ||
    update.viewportChanged ||
    update.geometryChanged ||
    update.transactions.some((tr) => tr.effects.some((effect) => effect.is(cursorsChanged)))
  );
}

function clamp(view: EditorView, cursor: DrawnCursor): { anchor: number; head: number } {
  const length = view.state.doc.length;
  return { anchor: Math.min(cursor.anchor, length), head: Math.min(cursor.head, length) };
}

/** Draws the cursors `source` returns (resolved against the current document). */
export function remoteCursors(source: () => readonly DrawnCursor[]): Extension {
  return [
    layer({
      above: false,
      class: "ct-remote-selections",
      update: redraw,
      markers(view) {
        return source().flatMap((cursor) => {
          const { anchor, head } = clamp(view, cursor);
          if (anchor === head) return [];
          const range = EditorSelection.range(anchor, head);
          return RectangleMarker.forRange(view, "ct-remote-selection", range).map(
            (marker) => new PeerMarker(marker, cursor.colour, null, cursor.away),
          );
        });
      },
    }),
    layer({
      above: true,
      class: "ct-remote-carets",
      update: redraw,
      markers(view) {
        return source().flatMap((cursor) => {
          const { head } = clamp(view, cursor);
          const [marker] = RectangleMarker.forRange(view, "ct-remote-caret", EditorSelection.cursor(head));
          return marker === undefined ? [] : [new PeerMarker(marker, cursor.colour, cursor.name, cursor.away)];
        });
      },
    }),
  ];
}
