// Loaded on demand by languages.ts: one chunk per language.
export { python } from "@codemirror/lang-python";
