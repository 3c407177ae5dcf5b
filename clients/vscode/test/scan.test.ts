// What a VS Code host shares of its folder (src/scan.ts): the same rules as
// ctclient's tree.py, checked on a folder made here.

import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";

import { scan } from "../src/scan.js";

const root = mkdtempSync(join(tmpdir(), "ctserver-scan-"));
after(() => rmSync(root, { recursive: true, force: true }));

function put(path: string, content: string | Uint8Array): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), content);
}

describe("scanning the host's folder", () => {
  put("README.md", "# hello\n");
  put("src/main.py", "print('hi')\n");
  put(".gitignore", "*.log\nbuild/\n!keep.log\n");
  put("debug.log", "noise\n");
  put("keep.log", "kept by a negation\n");
  put("build/out.txt", "built\n");
  put("src/.gitignore", "generated.py\n");
  put("src/generated.py", "# generated\n");
  put("docs/generated.py", "# not below src: shared\n");
  put(".ctignore", "secrets/\n");
  put("secrets/token.txt", "s3cret\n");
  put(".git/config", "[core]\n");
  put("pkg/.ctclient/status.json", "{}\n");
  put("image.png", new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 0, 1]));
  put("latin1.txt", new Uint8Array([0x63, 0x61, 0x66, 0xe9])); // not UTF-8
  put("big.txt", "x".repeat(1024 * 1024 + 1));
  symlinkSync("/etc", join(root, "link-to-etc"));
  symlinkSync(join(root, "README.md"), join(root, "link-to-readme"));

  it("lists what git and .ctignore leave, with each file's kind", async () => {
    const entries = await scan(root);
    assert.deepEqual(
      entries.map((entry) => [entry.path, entry.kind]),
      [
        [".ctignore", "text"],
        [".gitignore", "text"],
        ["README.md", "text"],
        ["big.txt", "too_large"],
        ["docs/generated.py", "text"],
        ["image.png", "binary"],
        ["keep.log", "text"],
        ["latin1.txt", "binary"],
        ["src/.gitignore", "text"],
        ["src/main.py", "text"],
      ],
    );
    assert.equal(entries.find((entry) => entry.path === "README.md")?.size, 8);
  });
});
