// Full-page states: why the guest is not (or no longer) in the session, in words,
// with what can be done about it. `#state-page[data-state]` names the state.

import { describe, type FinalStatus } from "../../core/index.js";
import { h } from "./dom.js";

/** The stable names of the full-page states (`data-state`). */
export type PageState =
  | "denied"
  | "removed"
  | "ended"
  | "not_found"
  | "license_full"
  | "no_license"
  | "unreachable"
  | "busy"
  | "wrong_key"
  | "left"
  | "lobby_timeout"
  | "session_full"
  | "retry_later"
  | "too_many_connections"
  | "not_authenticated"
  | "replaced"
  | "protocol_error"
  | "refused"
  | "closed";

const RENAMED: Partial<Record<FinalStatus, PageState>> = {
  session_ended: "ended",
  session_not_found: "not_found",
  server_unreachable: "unreachable",
  server_busy: "busy",
};

export function pageStateFor(status: FinalStatus): PageState {
  return RENAMED[status] ?? (status as PageState);
}

/** Whether the page tries again by itself. */
export function retriesByItself(state: PageState): boolean {
  return state === "unreachable" || state === "busy";
}

export interface Action {
  readonly label: string;
  readonly run: () => void;
  readonly primary?: boolean;
  readonly id?: string;
}

export interface StateSpec {
  readonly state: PageState;
  readonly title: string;
  readonly detail: string;
  readonly actions: readonly Action[];
  /** When the page retries by itself: in how many milliseconds. */
  readonly retryInMs?: number;
  readonly tone?: "error" | "info";
}

const DETAILS: Partial<Record<PageState, string>> = {
  denied: "You can ask again; the host decides who joins.",
  removed: "The host took you out of the session. Nothing of it is left in this tab's memory once you close it.",
  ended: "The host ended the session, or everyone left. Ask the host for a new link to code together again.",
  not_found: "The link may be old, or the session ended. Ask the host for a new link.",
  license_full: "Nothing is wrong with your link: try again in a little while.",
  no_license: "Ask the server's operator to renew its license.",
  unreachable: "Check your network connection. This page tries again by itself.",
  busy: "The server has too many connections right now. This page tries again by itself.",
  wrong_key:
    "The key in the link (the part after #) is missing, cut short, or not this session's. Ask the host for the link again and paste the whole of it.",
  left: "You can join again with the same link.",
  lobby_timeout: "The host did not answer. You can ask again.",
  session_full: "The session has as many participants as it allows.",
  retry_later: "Wait a little before asking again.",
  not_authenticated: "You were away too long to rejoin where you were. You can ask to join again.",
  replaced: "This tab is no longer connected. Use the other one, or join again here.",
};

export function titleFor(state: PageState, status: FinalStatus | null): string {
  if (state === "wrong_key") return "Cannot decrypt: check the link";
  return status === null ? state : describe(status);
}

export function detailFor(state: PageState, reason: string): string {
  return DETAILS[state] ?? (reason === "" ? "" : reason);
}

function seconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

export function statePage(spec: StateSpec): HTMLElement {
  const countdown = h("p", { id: "retry-countdown", className: "retry", attrs: { "aria-live": "polite" } });
  if (spec.retryInMs !== undefined) {
    const until = Date.now() + spec.retryInMs;
    const tick = (): void => {
      if (!countdown.isConnected && Date.now() > until) return;
      countdown.textContent = `Trying again in ${seconds(until - Date.now())} s…`;
      if (Date.now() < until) setTimeout(tick, 250);
    };
    tick();
  }
  return h("main", { className: "screen centred" }, [
    h(
      "section",
      {
        id: "state-page",
        className: `card state ${spec.tone ?? "error"}`,
        attrs: { "data-state": spec.state, "data-testid": "state-page", role: "alert", "aria-labelledby": "state-title" },
      },
      [
        h("div", { className: `state-icon ${spec.tone ?? "error"}`, attrs: { "aria-hidden": "true" } }),
        h("h1", { id: "state-title", text: spec.title }),
        spec.detail === "" ? null : h("p", { className: "lead", text: spec.detail }),
        spec.retryInMs === undefined ? null : countdown,
        spec.actions.length === 0
          ? null
          : h(
              "div",
              { className: "actions" },
              spec.actions.map((action) =>
                h("button", {
                  id: action.id,
                  className: `button${action.primary === true ? " primary" : ""}`,
                  text: action.label,
                  attrs: { type: "button" },
                  on: { click: action.run },
                }),
              ),
            ),
      ],
    ),
  ]);
}
