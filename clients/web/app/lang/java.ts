// Loaded on demand by languages.ts: one chunk per language.
export { java } from "@codemirror/lang-java";
