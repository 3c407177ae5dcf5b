// Loaded on demand by languages.ts: one chunk per language.
export { yaml } from "@codemirror/lang-yaml";
