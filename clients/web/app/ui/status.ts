// The status bar: connection state, encryption, read-only badge, the language and
// cursor position of the file shown.

import { h } from "./dom.js";

export type Connection = "connected" | "reconnecting" | "offline";

const CONNECTION_WORDS: Record<Connection, string> = {
  connected: "Connected",
  reconnecting: "Reconnecting…",
  offline: "Offline",
};

function lockIcon(): SVGSVGElement {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 16 16");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", "icon");
  const body = document.createElementNS(ns, "rect");
  for (const [name, value] of [["x", "3"], ["y", "7"], ["width", "10"], ["height", "7"], ["rx", "1.5"]]) {
    body.setAttribute(name as string, value as string);
  }
  const shackle = document.createElementNS(ns, "path");
  shackle.setAttribute("d", "M5 7V5a3 3 0 0 1 6 0v2");
  shackle.setAttribute("fill", "none");
  svg.append(body, shackle);
  return svg;
}

export class StatusBar {
  readonly element: HTMLElement;
  private readonly connection: HTMLElement;
  private readonly readOnly: HTMLElement;
  private readonly language: HTMLElement;
  private readonly position: HTMLElement;

  constructor() {
    this.connection = h("span", {
      id: "connection-state",
      className: "status-item connection",
      attrs: { role: "status", "data-state": "connected", "aria-live": "polite" },
    });
    this.readOnly = h("span", {
      id: "read-only-badge",
      className: "status-item read-only-badge",
      text: "Read-only",
      attrs: { title: "The host lets you watch but not edit" },
    });
    this.readOnly.hidden = true;
    this.language = h("span", { id: "language", className: "status-item", attrs: { title: "Language of this file" } });
    this.position = h("span", { id: "cursor-position", className: "status-item" });
    this.element = h("footer", { id: "status-bar", className: "status-bar", attrs: { "aria-label": "Status" } }, [
      this.connection,
      h("span", { className: "status-item encryption", attrs: { title: "The server relays only ciphertext: it never sees your code or file names" } }, [
        lockIcon(),
        "End-to-end encrypted (AES-256-GCM)",
      ]),
      this.readOnly,
      h("span", { className: "status-spacer" }),
      this.position,
      this.language,
    ]);
    this.setConnection("connected");
  }

  setConnection(state: Connection): void {
    this.connection.dataset.state = state;
    this.connection.textContent = CONNECTION_WORDS[state];
  }

  setReadOnly(readOnly: boolean): void {
    this.readOnly.hidden = !readOnly;
  }

  setLanguage(name: string | null): void {
    this.language.textContent = name ?? "";
  }

  setPosition(position: { line: number; column: number; selected: number } | null): void {
    if (position === null) {
      this.position.textContent = "";
      return;
    }
    const selected = position.selected > 0 ? ` (${position.selected} selected)` : "";
    this.position.textContent = `Ln ${position.line}, Col ${position.column}${selected}`;
  }
}
