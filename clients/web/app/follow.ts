// "Follow host": the guest's view goes where the host's cursor is (the host's
// awareness messages, §10.2): the same file, scrolled to the same place.

import { HOST_PEER_ID, type RemoteCursor } from "../core/index.js";

export interface FollowTarget {
  /** The host's latest cursor, if any. */
  hostCursor(): RemoteCursor | undefined;
  /** Shows `path` (opening it if needed) without stopping following. */
  show(path: string): boolean;
  /** Scrolls the shown file to the host's cursor, once its text is there. */
  reveal(cursor: RemoteCursor): void;
  /** Whether follow is on has changed. */
  changed(on: boolean): void;
}

export class Follow {
  on = false;

  constructor(private readonly target: FollowTarget) {}

  set(on: boolean): void {
    if (this.on === on) return;
    this.on = on;
    this.target.changed(on);
    if (on) this.go();
  }

  /** A peer's cursor moved. */
  cursorMoved(peerId: number): void {
    if (this.on && peerId === HOST_PEER_ID) this.go();
  }

  /** A file's text arrived: the host's cursor may be resolvable now. */
  synced(path: string): void {
    const cursor = this.target.hostCursor();
    if (this.on && cursor?.path === path) this.target.reveal(cursor);
  }

  private go(): void {
    const cursor = this.target.hostCursor();
    if (cursor === undefined || cursor.path === null) return;
    if (this.target.show(cursor.path)) this.target.reveal(cursor);
  }
}
