// Checks that the committed dist/ctserver-vscode.vsix is what the sources build
// today: a fresh build packaged into a temporary folder, then each member of the
// two packages compared by content (a zip's dates differ from build to build).
//
//   node check-package.mjs

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import yauzl from "yauzl";

const here = dirname(fileURLToPath(import.meta.url));
const committed = join(here, "dist", "ctserver-vscode.vsix");

function members(file) {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(readFileSync(file), { lazyEntries: true }, (error, zip) => {
      if (error) return reject(error);
      const found = new Map();
      zip.on("entry", (entry) => {
        zip.openReadStream(entry, (failed, stream) => {
          if (failed) return reject(failed);
          const chunks = [];
          stream.on("data", (chunk) => chunks.push(chunk));
          stream.on("end", () => {
            found.set(entry.fileName, Buffer.concat(chunks).toString("utf8"));
            zip.readEntry();
          });
        });
      });
      zip.on("end", () => resolve(found));
      zip.readEntry();
    });
  });
}

const scratch = mkdtempSync(join(tmpdir(), "ctserver-vsix-"));
try {
  const out = join(scratch, "fresh.vsix");
  execFileSync("npm", ["run", "--silent", "package", "--", "--out", out], { cwd: here, stdio: ["ignore", "ignore", "inherit"] });
  const fresh = await members(out);
  const kept = await members(committed);
  const names = [...new Set([...fresh.keys(), ...kept.keys()])].sort();
  const differing = names.filter((name) => fresh.get(name) !== kept.get(name));
  if (differing.length > 0) {
    console.error(`clients/vscode/dist/ctserver-vscode.vsix differs from a fresh build in: ${differing.join(", ")}`);
    console.error("run 'npm run package:base' in clients/vscode and commit dist/ctserver-vscode.vsix");
    process.exit(1);
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
