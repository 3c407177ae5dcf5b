// Waiting for the host (connecting, then the lobby).

import { describe } from "../../core/index.js";
import { h } from "./dom.js";

export function connectingScreen(sessionId: string): HTMLElement {
  return h("main", { className: "screen centred" }, [
    h("section", { id: "connecting", className: "card waiting", attrs: { "aria-busy": "true" } }, [
      h("div", { className: "spinner", attrs: { "aria-hidden": "true" } }),
      h("h1", { text: describe("connecting") }),
      h("p", { className: "session-line" }, ["Session ", h("code", { text: sessionId })]),
    ]),
  ]);
}

export function lobbyScreen(sessionId: string, name: string, onCancel: () => void): HTMLElement {
  return h("main", { className: "screen centred" }, [
    h("section", { id: "lobby", className: "card waiting", attrs: { "aria-labelledby": "lobby-title", "data-testid": "lobby" } }, [
      h("div", { className: "spinner", attrs: { "aria-hidden": "true" } }),
      h("h1", { id: "lobby-title", text: describe("lobby") }),
      h("p", { className: "lead" }, ["You are asking to join as ", h("strong", { text: name }), ". The host has been told."]),
      h("button", {
        id: "lobby-cancel",
        className: "button",
        text: "Cancel",
        attrs: { type: "button" },
        on: { click: onCancel },
      }),
      h("p", { className: "session-line" }, ["Session ", h("code", { text: sessionId })]),
    ]),
  ]);
}
