// Paths in file messages (docs/protocol.md §10.1) come from other peers: each is
// checked before use, as ctclient checks it (ctclient/files.py): relative, "/"
// separators, no empty, "." or ".." part, no backslash or NUL, at most 4096
// characters, and no `.git` or `.ctclient` part at any depth (in any case,
// ignoring trailing dots and spaces, as macOS and Windows see names).

export const MAX_PATH_CHARS = 4096;
const RESERVED = new Set([".git", ".ctclient"]);

export class PathError extends Error {
  override readonly name = "PathError";
}

/** `.git` or `.ctclient` as a case-insensitive file system sees the name. (For
 *  these ASCII names toLowerCase finds what Python's casefold finds.) */
export function isReservedName(part: string): boolean {
  return RESERVED.has(part.toLowerCase().replace(/[. ]+$/, ""));
}

/** Why `path` must be refused, or null when it is usable. */
export function pathProblem(path: unknown): string | null {
  if (typeof path !== "string" || path === "" || [...path].length > MAX_PATH_CHARS || path.includes("\u0000")) {
    return "not a usable path";
  }
  const parts = path.split("/");
  if (path.startsWith("/") || path.includes("\\") || parts.some((part) => part === "" || part === "." || part === "..")) {
    return "path leaves the shared folder";
  }
  if (parts.some(isReservedName)) return "path is reserved";
  return null;
}

/** `path` itself when usable; throws PathError otherwise. */
export function checkPath(path: unknown): string {
  const problem = pathProblem(path);
  if (problem !== null) {
    const shown = typeof path === "string" ? JSON.stringify(path.slice(0, 200)) : typeof path;
    throw new PathError(`${problem}: ${shown}`);
  }
  return path as string;
}
