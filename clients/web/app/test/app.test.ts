// The browser page's parts that need no browser: languages by file name, the
// full-page states, colours, and "Follow host". The rest is tested in a real
// browser against a real server (tests/test_web_client.py).

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { HOST_PEER_ID, type RemoteCursor } from "../../core/index.js";
import { colourFor } from "../colours.js";
import { Follow, type FollowTarget } from "../follow.js";
import { languageFor } from "../languages.js";
import { pageStateFor, retriesByItself } from "../ui/states.js";

describe("languages", () => {
  it("picks a language by extension, ignoring case", () => {
    assert.equal(languageFor("src/main.py").name, "Python");
    assert.equal(languageFor("web/App.TSX").name, "TypeScript (TSX)");
    assert.equal(languageFor("lib.rs").name, "Rust");
    assert.equal(languageFor("include/x.hpp").name, "C/C++");
    assert.equal(typeof languageFor("a.json").load, "function");
  });

  it("falls back to plain text, with nothing to load", () => {
    for (const path of ["Makefile", "docs/.env", "notes.unknown", "dir.py/README"]) {
      assert.deepEqual(languageFor(path), { name: "Plain text", load: null }, path);
    }
  });
});

describe("full-page states", () => {
  it("names each final status as the testing hooks say", () => {
    assert.equal(pageStateFor("session_ended"), "ended");
    assert.equal(pageStateFor("session_not_found"), "not_found");
    assert.equal(pageStateFor("server_unreachable"), "unreachable");
    assert.equal(pageStateFor("server_busy"), "busy");
    assert.equal(pageStateFor("denied"), "denied");
    assert.equal(pageStateFor("removed"), "removed");
    assert.equal(pageStateFor("license_full"), "license_full");
  });

  it("retries by itself only when the server could not be reached or was busy", () => {
    assert.ok(retriesByItself("unreachable"));
    assert.ok(retriesByItself("busy"));
    for (const state of ["denied", "removed", "ended", "not_found", "wrong_key", "license_full"] as const) {
      assert.ok(!retriesByItself(state), state);
    }
  });
});

describe("colours", () => {
  it("gives a peer the same colour everywhere, #rrggbb", () => {
    assert.equal(colourFor(HOST_PEER_ID), colourFor(1));
    assert.notEqual(colourFor(2), colourFor(3));
    for (let peer = 1; peer < 30; peer++) assert.match(colourFor(peer), /^#[0-9a-f]{6}$/);
  });
});

function cursor(path: string | null): RemoteCursor {
  return { peerId: HOST_PEER_ID, path, anchor: null, head: null, name: "Ada", colour: "#d9480f" };
}

function fakeTarget(shows = true): FollowTarget & { log: string[]; host: RemoteCursor | undefined } {
  const target = {
    log: [] as string[],
    host: undefined as RemoteCursor | undefined,
    hostCursor: () => target.host,
    show: (path: string) => {
      target.log.push(`show ${path}`);
      return shows;
    },
    reveal: (c: RemoteCursor) => target.log.push(`reveal ${c.path ?? ""}`),
    changed: (on: boolean) => target.log.push(`changed ${on}`),
  };
  return target;
}

describe("Follow host", () => {
  it("goes to the host's file and place when turned on, and as the host moves", () => {
    const target = fakeTarget();
    const follow = new Follow(target);
    target.host = cursor("a.py");
    follow.cursorMoved(HOST_PEER_ID); // off: nothing happens
    follow.set(true);
    target.host = cursor("b.py");
    follow.cursorMoved(HOST_PEER_ID);
    follow.cursorMoved(2); // another guest's cursor is not followed
    assert.deepEqual(target.log, ["changed true", "show a.py", "reveal a.py", "show b.py", "reveal b.py"]);
  });

  it("reveals the host's place once the file's text arrives, and stops when turned off", () => {
    const target = fakeTarget();
    const follow = new Follow(target);
    follow.set(true); // no host cursor yet: nothing to show
    target.host = cursor("a.py");
    follow.synced("b.py");
    follow.synced("a.py");
    follow.set(false);
    follow.set(false);
    follow.cursorMoved(HOST_PEER_ID);
    assert.deepEqual(target.log, ["changed true", "reveal a.py", "changed false"]);
  });

  it("stays put when the host has no cursor or its file cannot be shown", () => {
    const target = fakeTarget(false);
    const follow = new Follow(target);
    target.host = cursor(null);
    follow.set(true);
    target.host = cursor("logo.png");
    follow.cursorMoved(HOST_PEER_ID);
    assert.deepEqual(target.log, ["changed true", "show logo.png"]);
  });
});
