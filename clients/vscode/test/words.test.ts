// What others wrote, as VS Code shows it (src/words.ts): never a command link or an icon.

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { shown } from "../src/words.js";

describe("text from others", () => {
  it("breaks the link syntax VS Code's notifications turn into commands", () => {
    const name = "[Admit](command:workbench.action.closeWindow)";
    assert.ok(!/\]\(/.test(shown(name)));
    assert.equal(shown(name).replace(/\u2060/g, ""), name); // shown as written
  });

  it("breaks the icon syntax of labels", () => {
    assert.ok(!shown("$(warning) Eve").includes("$("));
  });

  it("leaves ordinary text alone", () => {
    assert.equal(shown("Ada Lovelace <ada@example.com>"), "Ada Lovelace <ada@example.com>");
  });
});
