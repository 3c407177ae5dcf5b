// Loaded on demand by languages.ts: one chunk per language.
export { javascript } from "@codemirror/lang-javascript";
