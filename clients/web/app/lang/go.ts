// Loaded on demand by languages.ts: one chunk per language.
export { go } from "@codemirror/lang-go";
