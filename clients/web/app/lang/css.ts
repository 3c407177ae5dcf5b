// Loaded on demand by languages.ts: one chunk per language.
export { css } from "@codemirror/lang-css";
