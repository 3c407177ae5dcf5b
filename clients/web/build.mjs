// Builds the browser client (app/) into static/web/, or into the folder given:
//
//   node build.mjs [OUTDIR]
//
// app.js (with each language's highlighting as a chunk loaded on demand), app.css,
// THIRD-PARTY-LICENSES.txt for the bundled packages, and a .gz of each script
// and style sheet. The output is committed,
// so it must be the same on every machine: no timestamps, no absolute paths, no
// source maps, files and licenses in a fixed order. `make web-test` builds into a
// temporary folder and fails if it differs from static/web/.

import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const outdir = resolve(process.argv[2] ?? join(here, "..", "..", "static", "web"));
const LICENSES = "THIRD-PARTY-LICENSES.txt";

const common = {
  absWorkingDir: here,
  bundle: true,
  minify: true,
  outdir,
  charset: "utf8",
  legalComments: "none", // gathered whole into THIRD-PARTY-LICENSES.txt instead
  logLevel: "warning",
  metafile: true,
};

async function build() {
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  const js = await esbuild.build({
    ...common,
    entryPoints: { app: "app/main.ts" },
    format: "esm",
    splitting: true,
    chunkNames: "chunks/[name]-[hash]",
    platform: "browser",
    target: ["es2022", "chrome105", "firefox110", "safari16"],
    banner: { js: `/* ctserver web client. Bundled third-party code: see ${LICENSES} */` },
  });
  await esbuild.build({ ...common, entryPoints: { app: "app/app.css" }, target: ["chrome105", "firefox110", "safari16"] });
  writeFileSync(join(outdir, LICENSES), licenses(Object.keys(js.metafile.inputs)));
  precompress();
}

/** A .gz beside each script and style sheet: WhiteNoise serves it to browsers that
 *  accept gzip (all do), about a third of the bytes. gzip's header holds no time
 *  here (Node writes 0), so the output stays the same on every machine. */
function precompress() {
  for (const path of files(outdir)) {
    if (path.endsWith(".js") || path.endsWith(".css")) {
      writeFileSync(`${path}.gz`, gzipSync(readFileSync(path), { level: 9 }));
    }
  }
}

/** The package each bundled node_modules file belongs to, as its folder. */
function packageFolder(input) {
  const parts = input.split("/");
  const at = parts.lastIndexOf("node_modules");
  if (at < 0) return null;
  const length = parts[at + 1]?.startsWith("@") ? 2 : 1;
  return parts.slice(0, at + 1 + length).join("/");
}

function licenseText(folder) {
  const names = readdirSync(join(here, folder))
    .filter((name) => /^(licen[cs]e|copying)(\.(md|txt))?$/i.test(name))
    .sort();
  if (names.length === 0) throw new Error(`${folder}: no license file to bundle`);
  return names.map((name) => readFileSync(join(here, folder, name), "utf8").trim()).join("\n\n");
}

function licenses(inputs) {
  const folders = [...new Set(inputs.map(packageFolder).filter((folder) => folder !== null))];
  const packages = folders
    .map((folder) => {
      const meta = JSON.parse(readFileSync(join(here, folder, "package.json"), "utf8"));
      return { name: meta.name, version: meta.version, license: meta.license, text: licenseText(folder) };
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const rule = "=".repeat(78);
  const sections = packages.map(
    (p) => `${rule}\n${p.name} ${p.version} (${p.license})\n${rule}\n\n${p.text}\n`,
  );
  return `Third-party code bundled in ctserver's web client (app.js and chunks/)\n\n${sections.join("\n")}`;
}

function files(folder) {
  return readdirSync(folder)
    .sort()
    .flatMap((name) => {
      const path = join(folder, name);
      return statSync(path).isDirectory() ? files(path) : [path];
    });
}

function report() {
  let total = 0;
  for (const path of files(outdir)) {
    const data = readFileSync(path);
    if (path.endsWith(".gz")) continue;
    if (!path.endsWith(".txt")) total += data.length;
    const gzip = gzipSync(data, { level: 9 }).length;
    console.log(`${relative(outdir, path).padEnd(40)} ${String(data.length).padStart(8)} B  gzip ${String(gzip).padStart(7)} B`);
  }
  console.log(`${"all code".padEnd(40)} ${String(total).padStart(8)} B`);
}

await build();
if (existsSync(outdir) && process.env.CT_BUILD_QUIET !== "1") report();
