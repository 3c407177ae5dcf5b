// The page's flow: the name, then a Session; when a Session ends, the state page
// that says why, and what comes next (trying again by itself when the server
// could not be reached, joining again, or nothing).

import type { ClosedEvent, JoinLink } from "../core/index.js";
import { Session, type Carried } from "./session.js";
import { namePrompt } from "./ui/prompt.js";
import {
  detailFor,
  pageStateFor,
  retriesByItself,
  statePage,
  titleFor,
  type Action,
  type PageState,
} from "./ui/states.js";

const RETRY_DELAYS_MS = [2_000, 4_000, 8_000, 15_000, 30_000] as const;
// After these, joining again is pointless or not allowed.
const NO_REJOIN: ReadonlySet<PageState> = new Set(["ended", "not_found", "no_license"]);

// The host decides about these: joining again asks it again.
const ASKS_HOST: ReadonlySet<PageState> = new Set(["denied", "removed", "lobby_timeout", "not_authenticated"]);

function rejoinLabel(state: PageState): string {
  if (state === "left") return "Join again";
  return ASKS_HOST.has(state) ? "Ask to join again" : "Try again";
}

export class App {
  private name = "";
  private session: Session | null = null;
  private carried: Carried | null = null;
  private retries = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly root: HTMLElement,
    private readonly link: JoinLink,
    private readonly nonce: string | null,
  ) {
    // Closing the tab leaves the session at once, instead of after the reconnect grace.
    addEventListener("pagehide", () => this.session?.leave());
  }

  start(): void {
    this.show(namePrompt(this.link.sessionId, this.name, (name) => this.join(name)));
  }

  private join(name: string): void {
    this.name = name;
    this.connect();
  }

  private connect(): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.session?.dispose();
    const session = new Session(
      { show: (screen) => this.show(screen), ended: (closed) => this.ended(session, closed) },
      { link: this.link, name: this.name, nonce: this.nonce, carried: this.carried },
    );
    this.session = session;
    session.start();
  }

  private ended(session: Session, closed: ClosedEvent): void {
    if (session !== this.session) return;
    this.carried = session.dispose();
    this.session = null;
    const state = pageStateFor(closed.status);
    if (state !== "unreachable" && state !== "busy") this.retries = 0;
    const actions: Action[] = [];
    let retryInMs: number | undefined;
    if (retriesByItself(state)) {
      retryInMs = RETRY_DELAYS_MS[Math.min(this.retries, RETRY_DELAYS_MS.length - 1)];
      this.retries += 1;
      this.retryTimer = setTimeout(() => this.connect(), retryInMs);
      actions.push({ id: "retry-now", label: "Try now", primary: true, run: () => this.connect() });
    } else if (!NO_REJOIN.has(state)) {
      actions.push({ id: "join-again", label: rejoinLabel(state), run: () => this.connect() });
    }
    document.title = `${titleFor(state, closed.status)} · ctserver`;
    this.show(
      statePage({
        state,
        title: titleFor(state, closed.status),
        detail: detailFor(state, closed.reason),
        actions,
        retryInMs,
        tone: state === "left" ? "info" : "error",
      }),
    );
  }

  /** Puts `screen` on the page and moves the focus to its first control. */
  show(screen: HTMLElement): void {
    if (this.root.firstElementChild === screen) return;
    this.root.replaceChildren(screen);
    const target = screen.querySelector<HTMLElement>("input, .button.primary, button");
    if (target !== null && !screen.classList.contains("workspace")) target.focus();
  }
}
