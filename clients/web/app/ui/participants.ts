// Who is in the session: name and colour, the host, read-only guests, who is
// away, and which files each has open (the host's `opens`, §10.1).

import type { PeerInfo } from "../../core/index.js";
import { h, replace, swatch } from "./dom.js";

export interface Participant {
  readonly peer: PeerInfo;
  readonly colour: string;
  readonly self: boolean;
  readonly open: readonly string[];
  /** The file this peer's cursor is in, when known. */
  readonly editing: string | null;
}

export class Participants {
  readonly element: HTMLElement;
  /** A file name in the list was chosen. */
  onOpen: (path: string) => void = () => undefined;

  private readonly list: HTMLUListElement;
  private readonly count: HTMLElement;

  constructor() {
    this.count = h("span", { className: "panel-count" });
    this.list = h("ul", { className: "participants", attrs: { "aria-label": "Participants" } });
    this.element = h(
      "section",
      { id: "participants", className: "panel participants-panel", attrs: { "aria-labelledby": "participants-title" } },
      [h("h2", { id: "participants-title", className: "panel-title" }, ["People ", this.count]), this.list],
    );
  }

  render(participants: readonly Participant[]): void {
    const sorted = [...participants].sort(
      (a, b) => Number(b.peer.role === "host") - Number(a.peer.role === "host") || a.peer.peerId - b.peer.peerId,
    );
    this.count.textContent = String(sorted.length);
    replace(
      this.list,
      sorted.map((participant) => this.item(participant)),
    );
  }

  private item({ peer, colour, self, open, editing }: Participant): HTMLLIElement {
    const badges = [
      peer.role === "host" ? h("span", { className: "badge host", text: "host" }) : null,
      peer.readOnly ? h("span", { className: "badge read-only", text: "read-only" }) : null,
      peer.state === "away" ? h("span", { className: "badge away", text: "away" }) : null,
      peer.verified === false
        ? h("span", {
            className: "badge unverified",
            text: "unverified",
            attrs: { title: "Not signed in: the host let this guest in without an account" },
          })
        : null,
    ];
    const files = open.map((path) =>
      h("li", {}, [
        h("button", {
          className: `link${path === editing ? " editing" : ""}`,
          text: path,
          attrs: { type: "button", title: `Open ${path}` },
          on: { click: () => this.onOpen(path) },
        }),
      ]),
    );
    return h(
      "li",
      {
        className: `participant${peer.state === "away" ? " is-away" : ""}`,
        attrs: {
          "data-peer-id": peer.peerId,
          "data-role": peer.role,
          "data-read-only": String(peer.readOnly),
          "data-state": peer.state,
          "data-verified": String(peer.verified),
        },
      },
      [
        h("div", { className: "participant-head" }, [
          swatch(colour),
          h("span", {
            className: "participant-name",
            text: peer.name,
            attrs: peer.email ? { title: peer.email } : {},
          }),
          self ? h("span", { className: "you", text: "(you)" }) : null,
          ...badges,
        ]),
        files.length === 0 ? null : h("ul", { className: "participant-files", attrs: { "aria-label": `${peer.name}'s open files` } }, files),
      ],
    );
  }
}
