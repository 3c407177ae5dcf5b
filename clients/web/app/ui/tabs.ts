// The open files as tabs above the editor (WAI-ARIA tabs): click or arrow keys
// to switch, the × button or Delete to close.

import { h, replace } from "./dom.js";

export class Tabs {
  readonly element: HTMLElement;
  onSelect: (path: string) => void = () => undefined;
  onClose: (path: string) => void = () => undefined;

  private paths: string[] = [];
  private active: string | null = null;

  constructor() {
    this.element = h("div", {
      id: "tabs",
      className: "tabs",
      attrs: { role: "tablist", "aria-label": "Open files" },
      on: { keydown: (event) => this.key(event) },
    });
  }

  get open(): readonly string[] {
    return this.paths;
  }

  add(path: string): void {
    if (!this.paths.includes(path)) this.paths.push(path);
  }

  remove(path: string): string | null {
    const index = this.paths.indexOf(path);
    if (index < 0) return this.active;
    this.paths.splice(index, 1);
    if (this.active === path) this.active = this.paths[Math.min(index, this.paths.length - 1)] ?? null;
    this.render();
    return this.active;
  }

  setActive(path: string | null): void {
    this.active = path;
    this.render();
  }

  private render(): void {
    const hadFocus = this.element.contains(document.activeElement);
    replace(
      this.element,
      this.paths.map((path) => this.tab(path)),
    );
    if (hadFocus) this.element.querySelector<HTMLElement>("[aria-selected=true]")?.focus();
  }

  private tab(path: string): HTMLElement {
    const selected = path === this.active;
    const name = path.slice(path.lastIndexOf("/") + 1);
    const close = h("button", {
      className: "tab-close",
      text: "×",
      attrs: { type: "button", "aria-label": `Close ${path}`, tabindex: -1, title: `Close ${path}` },
      on: {
        click: (event) => {
          event.stopPropagation();
          this.onClose(path);
        },
      },
    });
    return h(
      "div",
      {
        className: `tab${selected ? " active" : ""}`,
        attrs: {
          role: "tab",
          "aria-selected": String(selected),
          "aria-controls": "editor",
          "aria-label": path,
          "data-path": path,
          title: path,
          tabindex: selected ? 0 : -1,
        },
        on: {
          click: () => this.onSelect(path),
          auxclick: (event) => {
            if (event.button === 1) this.onClose(path);
          },
        },
      },
      [h("span", { className: "tab-name", text: name }), close],
    );
  }

  private key(event: KeyboardEvent): void {
    const index = this.active === null ? -1 : this.paths.indexOf(this.active);
    let next: string | undefined;
    switch (event.key) {
      case "ArrowRight":
        next = this.paths[(index + 1) % this.paths.length];
        break;
      case "ArrowLeft":
        next = this.paths[(index - 1 + this.paths.length) % this.paths.length];
        break;
      case "Home":
        next = this.paths[0];
        break;
      case "End":
        next = this.paths[this.paths.length - 1];
        break;
      case "Delete":
        if (this.active !== null) this.onClose(this.active);
        event.preventDefault();
        return;
      default:
        return;
    }
    event.preventDefault();
    if (next !== undefined) this.onSelect(next);
  }
}
