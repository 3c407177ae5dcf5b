// Loaded on demand by languages.ts: one chunk per language.
export { rust } from "@codemirror/lang-rust";
