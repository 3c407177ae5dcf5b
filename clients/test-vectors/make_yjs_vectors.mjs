// Write yjs-made.json: updates made by Yjs (the library the browser client uses),
// which tests/test_web_vectors.py applies with pycrdt (what ctclient uses).
// Run it with `npm run vectors:yjs` in clients/web, after generate.py: it edits
// the pycrdt document of vectors.json, as a guest edits the host's file.
// Deterministic: fixed client ids, so regenerating changes nothing.

import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(new URL("../web/package.json", import.meta.url));
const Y = require("yjs");
const here = (name) => new URL(name, import.meta.url);
const b64 = (bytes) => Buffer.from(bytes).toString("base64");
const unb64 = (text) => new Uint8Array(Buffer.from(text, "base64"));

const { yjs } = JSON.parse(readFileSync(here("vectors.json"), "utf8"));

// A guest's edit of the host's (pycrdt's) document.
const guest = new Y.Doc();
guest.clientID = 4242;
Y.applyUpdate(guest, unb64(yjs.base.update));
const content = guest.getText("content");
content.delete(0, 5); // UTF-16 units, as Yjs counts; the start is ASCII
content.insert(0, "Hi");
content.insert(content.length, "from Yjs: \u00e9\u2713\u{1d11e}\n");
const guestDelta = Y.encodeStateAsUpdate(guest, unb64(yjs.base.state_vector));

// A document made by Yjs alone.
const own = new Y.Doc();
own.clientID = 99;
own.getText("content").insert(0, "made by Yjs \u{1f600}\nline two\n");
own.getText("content").delete(0, 5);

// A relative position in the guest's copy, for §10.2 cursors.
const position = Y.createRelativePositionFromTypeIndex(content, 2);

const vectors = {
  comment: "Made by clients/test-vectors/make_yjs_vectors.mjs with yjs; do not edit by hand.",
  yjs_version: require("yjs/package.json").version,
  guest_edit: {
    text: content.toString(),
    update_since_base: b64(guestDelta),
    state_vector: b64(Y.encodeStateVector(guest)),
  },
  own_document: {
    text: own.getText("content").toString(),
    update: b64(Y.encodeStateAsUpdate(own)),
    state_vector: b64(Y.encodeStateVector(own)),
  },
  relative_position: { index: 2, encoded: b64(Y.encodeRelativePosition(position)) },
};
writeFileSync(here("yjs-made.json"), JSON.stringify(vectors, null, 1) + "\n");
