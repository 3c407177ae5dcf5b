// Loaded on demand by languages.ts: one chunk per language.
export { xml } from "@codemirror/lang-xml";
