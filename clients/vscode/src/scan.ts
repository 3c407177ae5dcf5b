// What a host shares of its folder: names always, contents only of text files (as
// ctclient's tree.py decides). A file is left out when git would ignore it (the
// `.gitignore` files at any depth) or the root's `.ctignore` says so; `.git` and
// `.ctclient` always are (docs/protocol.md §10.1). Symbolic links are never
// followed, so nothing outside the folder is shared.

import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";

import ignore, { type Ignore } from "ignore";

import type { EntryKind, TreeEntry } from "../../web/core/files.js";
import { pathProblem } from "../../web/core/paths.js";

/** ctclient's limit: a larger file is shared by name only (`too_large`). */
export const MAX_FILE_BYTES = 1024 * 1024;
const SNIFF_BYTES = 8192;
const UTF8 = new TextDecoder("utf-8", { fatal: true });

/** A folder's `.gitignore` rules, matched relative to that folder. */
interface Rules {
  readonly folder: string; // "" for the root, else "a/b/"
  readonly rules: Ignore;
}

async function rulesIn(root: string, folder: string, name: string): Promise<Ignore | null> {
  try {
    const text = await readFile(join(root, folder, name), "utf8");
    return ignore().add(text.replace(/^\uFEFF/, ""));
  } catch {
    return null; // none there, or unreadable: no rules
  }
}

/** Whether the last rule that speaks about `path` (deepest `.gitignore` last) ignores it. */
function gitIgnores(chain: readonly Rules[], path: string): boolean {
  let ignored = false;
  for (const { folder, rules } of chain) {
    const result = rules.test(path.slice(folder.length));
    if (result.ignored) ignored = true;
    else if (result.unignored) ignored = false;
  }
  return ignored;
}

export async function classify(file: string, size: number, maxBytes = MAX_FILE_BYTES): Promise<EntryKind> {
  if (size > maxBytes) return "too_large";
  let data: Uint8Array;
  try {
    data = await readFile(file);
  } catch {
    return "binary";
  }
  if (data.subarray(0, SNIFF_BYTES).includes(0)) return "binary";
  try {
    UTF8.decode(data);
  } catch {
    return "binary";
  }
  return "text";
}

/** Every shareable file below `root`, sorted by path. */
export async function scan(root: string, maxBytes = MAX_FILE_BYTES): Promise<TreeEntry[]> {
  const ctignore = (await rulesIn(root, "", ".ctignore")) ?? ignore();
  const entries: TreeEntry[] = [];
  const walk = async (folder: string, chain: readonly Rules[]): Promise<void> => {
    const own = await rulesIn(root, folder, ".gitignore");
    const rules = own === null ? chain : [...chain, { folder, rules: own }];
    let items;
    try {
      items = await readdir(join(root, folder), { withFileTypes: true });
    } catch {
      return; // unreadable, or gone since its parent was read: nothing of it is shared
    }
    items.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const item of items) {
      if (item.isSymbolicLink()) continue;
      const path = folder + item.name;
      const isDir = item.isDirectory();
      const candidate = isDir ? `${path}/` : path;
      if (pathProblem(path) !== null) continue; // .git, .ctclient, names §10.1 refuses
      if (gitIgnores(rules, candidate) || ctignore.ignores(candidate)) continue;
      if (isDir) {
        await walk(`${path}/`, rules);
      } else if (item.isFile()) {
        const file = join(root, path);
        const size = await stat(file).then(
          (found) => found.size,
          () => null, // deleted since the folder was read
        );
        if (size !== null) entries.push({ path, size, kind: await classify(file, size, maxBytes) });
      }
    }
  };
  await walk("", []);
  return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
