// Loaded on demand by languages.ts: one chunk per language.
export { html } from "@codemirror/lang-html";
