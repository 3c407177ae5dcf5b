// The shared folder as a tree (WAI-ARIA tree view): folders collapse, text files
// open, binary and too-large files are listed greyed with why. Keyboard: arrows
// move and fold, Home/End jump, Enter or Space opens.

import type { TreeEntry } from "../../core/index.js";
import { h, replace, swatch } from "./dom.js";

interface Folder {
  readonly path: string;
  readonly name: string;
  readonly folders: Map<string, Folder>;
  readonly files: TreeEntry[];
}

export interface Presence {
  readonly peerId: number;
  readonly name: string;
  readonly colour: string;
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

function byName(a: { name: string }, b: { name: string }): number {
  return a.name.localeCompare(b.name, undefined, { sensitivity: "base", numeric: true }) || (a.name < b.name ? -1 : 1);
}

function build(entries: Iterable<TreeEntry>): Folder {
  const root: Folder = { path: "", name: "", folders: new Map(), files: [] };
  for (const entry of entries) {
    const parts = entry.path.split("/");
    let folder = root;
    for (const part of parts.slice(0, -1)) {
      const path = folder.path === "" ? part : `${folder.path}/${part}`;
      let next = folder.folders.get(part);
      if (next === undefined) {
        next = { path, name: part, folders: new Map(), files: [] };
        folder.folders.set(part, next);
      }
      folder = next;
    }
    folder.files.push(entry);
  }
  return root;
}

function megabytes(size: number): string {
  return `${(size / (1024 * 1024)).toFixed(1)} MB`;
}

export class FileTree {
  readonly element: HTMLElement;
  /** Called with a text file's path when it is chosen. */
  onOpen: (path: string) => void = () => undefined;

  private readonly list: HTMLUListElement;
  private readonly empty: HTMLElement;
  private entries: ReadonlyMap<string, TreeEntry> = new Map();
  private readonly collapsed = new Set<string>();
  private presence: ReadonlyMap<string, readonly Presence[]> = new Map();
  private active: string | null = null;
  private focused: string | null = null;
  private received = false;

  constructor() {
    this.list = h("ul", {
      id: "file-tree",
      className: "tree",
      attrs: { role: "tree", "aria-label": "Shared files", "data-testid": "file-tree" },
      on: { keydown: (event) => this.key(event) },
    });
    this.empty = h("p", { className: "tree-empty", text: "Waiting for the host's files…" });
    this.element = h("div", { className: "tree-wrap" }, [this.empty, this.list]);
  }

  setEntries(entries: ReadonlyMap<string, TreeEntry>): void {
    this.entries = entries;
    this.received = true;
    this.render();
  }

  /** Who has which file open, drawn as small coloured dots. */
  setPresence(presence: ReadonlyMap<string, readonly Presence[]>): void {
    this.presence = presence;
    this.render();
  }

  /** The file shown in the editor. */
  setActive(path: string | null): void {
    this.active = path;
    if (path !== null) this.focused = path;
    this.render();
  }

  private render(): void {
    const hadFocus = this.list.contains(document.activeElement);
    this.empty.textContent = !this.received ? "Waiting for the host's files…" : "The host shares no files yet.";
    this.empty.hidden = this.received && this.entries.size > 0;
    replace(this.list, this.items(build(this.entries.values()), 1));
    const items = this.visibleItems();
    const current = items.find((item) => item.dataset.path === this.focused) ?? items[0];
    if (current !== undefined) {
      current.tabIndex = 0;
      if (hadFocus) current.focus();
    }
  }

  private items(folder: Folder, level: number): HTMLLIElement[] {
    const folders = [...folder.folders.values()].sort(byName);
    const files = [...folder.files].sort((a, b) => byName({ name: basename(a.path) }, { name: basename(b.path) }));
    return [...folders.map((child) => this.folderItem(child, level)), ...files.map((file) => this.fileItem(file, level))];
  }

  private folderItem(folder: Folder, level: number): HTMLLIElement {
    const open = !this.collapsed.has(folder.path);
    const group = h("ul", { attrs: { role: "group" } }, open ? this.items(folder, level + 1) : []);
    const row = h("span", { className: "tree-row", on: { click: () => this.toggle(folder.path) } }, [
      h("span", { className: `tree-twisty${open ? " open" : ""}`, attrs: { "aria-hidden": "true" } }),
      h("span", { className: "tree-icon folder", attrs: { "aria-hidden": "true" } }),
      h("span", { className: "tree-name", text: folder.name }),
    ]);
    row.style.setProperty("--level", String(level));
    return h(
      "li",
      {
        className: "tree-item folder",
        attrs: {
          role: "treeitem",
          "aria-label": folder.path,
          "aria-expanded": String(open),
          "aria-level": level,
          "data-path": folder.path,
          "data-kind": "folder",
          tabindex: -1,
        },
      },
      [row, group],
    );
  }

  private fileItem(entry: TreeEntry, level: number): HTMLLIElement {
    const text = entry.kind === "text";
    const note = entry.kind === "binary" ? "binary" : entry.kind === "too_large" ? "too large" : null;
    const why =
      entry.kind === "binary"
        ? "Binary file: only its name is shared"
        : entry.kind === "too_large"
          ? `Too large to share (${megabytes(entry.size)}): only its name is shared`
          : entry.path;
    const dots = (this.presence.get(entry.path) ?? []).map((peer) => {
      const dot = swatch(peer.colour, "tree-dot");
      dot.title = `${peer.name} has it open`;
      return dot;
    });
    const row = h("span", { className: "tree-row", attrs: { title: why }, on: { click: () => this.choose(entry.path) } }, [
      h("span", { className: "tree-twisty none", attrs: { "aria-hidden": "true" } }),
      h("span", { className: `tree-icon file${text ? "" : " muted"}`, attrs: { "aria-hidden": "true" } }),
      h("span", { className: "tree-name", text: basename(entry.path) }),
      note === null ? null : h("span", { className: "tree-note", text: note }),
      h("span", { className: "tree-dots" }, dots),
    ]);
    row.style.setProperty("--level", String(level));
    return h(
      "li",
      {
        className: `tree-item file${text ? "" : " disabled"}${this.active === entry.path ? " active" : ""}`,
        attrs: {
          role: "treeitem",
          "aria-label": entry.path,
          "aria-level": level,
          "aria-selected": String(this.active === entry.path),
          "aria-disabled": text ? null : "true",
          "aria-description": text ? null : why,
          "data-path": entry.path,
          "data-kind": entry.kind,
          tabindex: -1,
        },
      },
      [row],
    );
  }

  private toggle(path: string): void {
    if (!this.collapsed.delete(path)) this.collapsed.add(path);
    this.focused = path;
    this.render();
    this.focusItem(path);
  }

  private choose(path: string): void {
    this.focused = path;
    if (this.entries.get(path)?.kind === "text") this.onOpen(path);
    else this.focusItem(path);
  }

  private visibleItems(): HTMLLIElement[] {
    return [...this.list.querySelectorAll<HTMLLIElement>("li[role=treeitem]")].filter(
      (item) => item.parentElement?.closest("li[aria-expanded=false]") === null,
    );
  }

  private focusItem(path: string): void {
    const items = this.visibleItems();
    for (const item of items) item.tabIndex = item.dataset.path === path ? 0 : -1;
    items.find((item) => item.dataset.path === path)?.focus();
  }

  private key(event: KeyboardEvent): void {
    const items = this.visibleItems();
    const item = (event.target as Element).closest<HTMLLIElement>("li[role=treeitem]");
    if (item === null) return;
    const index = items.indexOf(item);
    const path = item.dataset.path ?? "";
    const folder = item.dataset.kind === "folder";
    const move = (to: HTMLLIElement | undefined): void => {
      if (to?.dataset.path === undefined) return;
      this.focused = to.dataset.path;
      this.focusItem(to.dataset.path);
    };
    switch (event.key) {
      case "ArrowDown":
        move(items[index + 1]);
        break;
      case "ArrowUp":
        move(items[index - 1]);
        break;
      case "Home":
        move(items[0]);
        break;
      case "End":
        move(items[items.length - 1]);
        break;
      case "ArrowRight":
        if (folder && this.collapsed.has(path)) this.toggle(path);
        else if (folder) move(items[index + 1]);
        break;
      case "ArrowLeft":
        if (folder && !this.collapsed.has(path)) this.toggle(path);
        else move(item.parentElement?.closest<HTMLLIElement>("li[role=treeitem]") ?? undefined);
        break;
      case "Enter":
      case " ":
        if (folder) this.toggle(path);
        else this.choose(path);
        break;
      default:
        return;
    }
    event.preventDefault();
  }
}
