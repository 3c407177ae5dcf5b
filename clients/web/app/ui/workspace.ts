// The admitted guest's screen, laid out like an IDE: a top bar (session, follow
// the host, leave), the files and the people on the left, tabs and the editor on
// the right, notices above the editor and the status bar at the bottom.

import { h } from "./dom.js";
import type { Editor } from "./editor.js";
import type { Participants } from "./participants.js";
import type { StatusBar } from "./status.js";
import type { Tabs } from "./tabs.js";
import type { FileTree } from "./tree.js";

export type BannerKind = "reconnecting" | "host_away" | "refused" | "waiting_for_host";

export interface WorkspaceParts {
  readonly sessionId: string;
  readonly name: string;
  readonly tree: FileTree;
  readonly tabs: Tabs;
  readonly editor: Editor;
  readonly participants: Participants;
  readonly status: StatusBar;
  readonly onFollow: (on: boolean) => void;
  readonly onLeave: () => void;
}

export class Workspace {
  readonly element: HTMLElement;
  private readonly follow: HTMLButtonElement;
  private readonly banners: HTMLElement;
  private readonly readOnlyNotice: HTMLElement;

  constructor(parts: WorkspaceParts) {
    this.follow = h("button", {
      id: "follow-host",
      className: "toggle",
      text: "Follow host",
      attrs: {
        type: "button",
        "aria-pressed": "false",
        title: "Show the file and the place the host is working on (choosing a file yourself stops following)",
      },
      on: { click: () => parts.onFollow(this.follow.getAttribute("aria-pressed") !== "true") },
    });
    this.banners = h("div", { id: "banners", className: "banners", attrs: { "aria-live": "polite" } });
    this.readOnlyNotice = h("div", {
      id: "read-only-notice",
      className: "notice read-only",
      text: "Read-only: the host lets you follow along, not edit.",
    });
    this.readOnlyNotice.hidden = true;
    const header = h("header", { className: "topbar" }, [
      h("span", { className: "brand", text: "ctserver" }),
      h("span", { className: "topbar-session", attrs: { title: "Session id" } }, [
        "Session ",
        h("code", { text: parts.sessionId }),
      ]),
      h("span", { className: "topbar-spacer" }),
      this.follow,
      h("span", { className: "topbar-me", attrs: { title: "Your name" } }, [parts.name]),
      h("button", {
        id: "leave",
        className: "button subtle",
        text: "Leave",
        attrs: { type: "button" },
        on: { click: parts.onLeave },
      }),
    ]);
    const sidebar = h("aside", { className: "sidebar", attrs: { "aria-label": "Files and people" } }, [
      h("section", { className: "panel files-panel", attrs: { "aria-labelledby": "files-title" } }, [
        h("h2", { id: "files-title", className: "panel-title", text: "Files" }),
        parts.tree.element,
      ]),
      parts.participants.element,
    ]);
    const main = h("main", { className: "editor-area" }, [
      parts.tabs.element,
      this.banners,
      this.readOnlyNotice,
      parts.editor.element,
    ]);
    this.element = h("div", { id: "workspace", className: "workspace" }, [header, sidebar, main, parts.status.element]);
  }

  setFollowing(on: boolean): void {
    this.follow.setAttribute("aria-pressed", String(on));
    this.follow.classList.toggle("on", on);
  }

  setReadOnly(readOnly: boolean): void {
    this.readOnlyNotice.hidden = !readOnly;
  }

  /** Shows (text) or hides (null) the non-blocking banner of `kind`. */
  banner(kind: BannerKind, text: string | null): void {
    const existing = this.banners.querySelector<HTMLElement>(`[data-kind="${kind}"]`);
    if (text === null) {
      existing?.remove();
      return;
    }
    if (existing !== null) {
      existing.textContent = text;
      return;
    }
    this.banners.append(
      h("div", { id: `banner-${kind.replace(/_/g, "-")}`, className: `banner ${kind}`, text, attrs: { "data-kind": kind } }),
    );
  }
}
