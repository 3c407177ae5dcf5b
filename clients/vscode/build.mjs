// Builds the extension (src/extension.ts with the web client's core) into
// dist/extension.js, one CommonJS file for VS Code's extension host. `npm run
// package` then makes dist/ctserver-vscode.vsix with @vscode/vsce, the base the
// server serves under /clients/vscode/ (with its own URL preset, dashboard/clients.py).
// The output is committed, so it must be the same on every machine: no source
// maps, no timestamps, no absolute paths.

import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const outfile = process.argv[2] ?? join(here, "dist", "extension.js");

const result = await esbuild.build({
  absWorkingDir: here,
  entryPoints: ["src/extension.ts"],
  outfile,
  bundle: true,
  minify: true,
  format: "cjs",
  platform: "node",
  target: "node20",
  charset: "utf8",
  // One Yjs for the extension and the core, or their types would not match.
  alias: { yjs: "./node_modules/yjs" },
  // `vscode` is the host's; ws's optional native helpers are not shipped.
  external: ["vscode", "bufferutil", "utf-8-validate"],
  legalComments: "none",
  logLevel: "warning",
  metafile: true,
  banner: { js: "/* ctserver for VS Code. Bundled third-party code: see THIRD-PARTY-LICENSES.txt */" },
});

// The licences of what went into the bundle, in a fixed order.
const packages = new Set();
for (const input of Object.keys(result.metafile.inputs)) {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
  if (match) packages.add(match[1]);
}
const { readFileSync, existsSync, readdirSync } = await import("node:fs");
const sections = [...packages].sort().map((name) => {
  const folder = join(here, "node_modules", name);
  const file = existsSync(folder) ? readdirSync(folder).find((entry) => /^licen[cs]e/i.test(entry)) : undefined;
  const text = file ? readFileSync(join(folder, file), "utf8").trim() : "(no licence file found)";
  return `${name}\n${"=".repeat(name.length)}\n\n${text}\n`;
});
writeFileSync(join(dirname(outfile), "THIRD-PARTY-LICENSES.txt"), sections.join("\n"));
