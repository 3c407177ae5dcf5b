// Loaded on demand by languages.ts: one chunk per language.
export { sql } from "@codemirror/lang-sql";
