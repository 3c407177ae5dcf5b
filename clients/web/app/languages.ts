// Syntax highlighting by file name. Each language is its own chunk, loaded the
// first time a file needs it, so the page starts with the editor alone.

import type { LanguageSupport } from "@codemirror/language";

export interface Language {
  /** For the status bar. */
  readonly name: string;
  readonly load: (() => Promise<LanguageSupport>) | null;
}

const PLAIN: Language = { name: "Plain text", load: null };

function language(name: string, load: () => Promise<LanguageSupport>): Language {
  return { name, load };
}

const JAVASCRIPT = language("JavaScript", async () => (await import("./lang/javascript.js")).javascript());
const JSX = language("JavaScript (JSX)", async () => (await import("./lang/javascript.js")).javascript({ jsx: true }));
const TYPESCRIPT = language("TypeScript", async () =>
  (await import("./lang/javascript.js")).javascript({ typescript: true }),
);
const TSX = language("TypeScript (TSX)", async () =>
  (await import("./lang/javascript.js")).javascript({ typescript: true, jsx: true }),
);
const PYTHON = language("Python", async () => (await import("./lang/python.js")).python());
const JSON_ = language("JSON", async () => (await import("./lang/json.js")).json());
const HTML = language("HTML", async () => (await import("./lang/html.js")).html());
const CSS = language("CSS", async () => (await import("./lang/css.js")).css());
const MARKDOWN = language("Markdown", async () => (await import("./lang/markdown.js")).markdown());
const JAVA = language("Java", async () => (await import("./lang/java.js")).java());
const RUST = language("Rust", async () => (await import("./lang/rust.js")).rust());
const CPP = language("C/C++", async () => (await import("./lang/cpp.js")).cpp());
const GO = language("Go", async () => (await import("./lang/go.js")).go());
const XML = language("XML", async () => (await import("./lang/xml.js")).xml());
const YAML = language("YAML", async () => (await import("./lang/yaml.js")).yaml());
const SQL = language("SQL", async () => (await import("./lang/sql.js")).sql());

const BY_EXTENSION: ReadonlyMap<string, Language> = new Map([
  ["js", JAVASCRIPT],
  ["mjs", JAVASCRIPT],
  ["cjs", JAVASCRIPT],
  ["jsx", JSX],
  ["ts", TYPESCRIPT],
  ["mts", TYPESCRIPT],
  ["cts", TYPESCRIPT],
  ["tsx", TSX],
  ["py", PYTHON],
  ["pyi", PYTHON],
  ["json", JSON_],
  ["html", HTML],
  ["htm", HTML],
  ["css", CSS],
  ["md", MARKDOWN],
  ["markdown", MARKDOWN],
  ["java", JAVA],
  ["rs", RUST],
  ["c", CPP],
  ["h", CPP],
  ["cc", CPP],
  ["cpp", CPP],
  ["cxx", CPP],
  ["hh", CPP],
  ["hpp", CPP],
  ["hxx", CPP],
  ["go", GO],
  ["xml", XML],
  ["svg", XML],
  ["yml", YAML],
  ["yaml", YAML],
  ["sql", SQL],
]);

/** The language of `path` by its extension; plain text when none fits. */
export function languageFor(path: string): Language {
  const name = path.slice(path.lastIndexOf("/") + 1);
  const dot = name.lastIndexOf(".");
  if (dot <= 0) return PLAIN;
  return BY_EXTENSION.get(name.slice(dot + 1).toLowerCase()) ?? PLAIN;
}
