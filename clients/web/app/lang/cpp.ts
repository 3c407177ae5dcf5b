// Loaded on demand by languages.ts: one chunk per language.
export { cpp } from "@codemirror/lang-cpp";
