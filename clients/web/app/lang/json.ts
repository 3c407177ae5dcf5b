// Loaded on demand by languages.ts: one chunk per language.
export { json } from "@codemirror/lang-json";
