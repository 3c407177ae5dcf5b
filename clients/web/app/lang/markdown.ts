// Loaded on demand by languages.ts: one chunk per language.
export { markdown } from "@codemirror/lang-markdown";
