// The host's problems (docs/protocol.md §10.3): what a receiver accepts, what a
// sender makes of an editor's list, how often it sends, and the guest's side.

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { encodeAppMessage } from "../messages.js";
import {
  clampRange,
  DiagnosticsSender,
  diagnosticsMessage,
  GuestDiagnostics,
  parseDiagnostics,
  type Diagnostic,
  type GuestDiagnosticsEvents,
} from "../diagnostics.js";
import { GuestFiles } from "../files.js";
import { PathError } from "../paths.js";
import { FakeClock, FakePeer } from "./helpers.js";

const GOOD = { range: [1, 2, 3, 4], severity: "error", message: "'x' is not defined" };

function parsed(diagnostics: unknown, path: unknown = "src/a.py"): ReturnType<typeof parseDiagnostics> {
  return parseDiagnostics({ path, diagnostics });
}

function kept(items: unknown[]): number {
  const result = parsed(items);
  assert.ok(result.ok);
  assert.equal(result.diagnostics.length + result.dropped, items.length);
  return result.diagnostics.length;
}

function diagnostic(severity: Diagnostic["severity"], message: string, line = 0): Diagnostic {
  return { range: { startLine: line, startCharacter: 0, endLine: line, endCharacter: 1 }, severity, message };
}

describe("receiving diagnostics", () => {
  it("takes a valid list, with optional members and unknown ones ignored", () => {
    const result = parsed([
      GOOD,
      { range: [0, 0, 0, 0], severity: "hint", message: "unused\n\tnote", source: "pyright", code: "reportUnused", tags: [1] },
      { range: [5, 9, 7, 0], severity: "warning", message: "w", code: 2304 },
      { range: [0, 0, 0, 1], severity: "information", message: "i", code: -1, source: "s" },
    ]);
    assert.deepEqual(result, {
      ok: true,
      path: "src/a.py",
      dropped: 0,
      diagnostics: [
        { range: { startLine: 1, startCharacter: 2, endLine: 3, endCharacter: 4 }, severity: "error", message: "'x' is not defined" },
        {
          range: { startLine: 0, startCharacter: 0, endLine: 0, endCharacter: 0 },
          severity: "hint",
          message: "unused\n\tnote",
          source: "pyright",
          code: "reportUnused",
        },
        { range: { startLine: 5, startCharacter: 9, endLine: 7, endCharacter: 0 }, severity: "warning", message: "w", code: 2304 },
        { range: { startLine: 0, startCharacter: 0, endLine: 0, endCharacter: 1 }, severity: "information", message: "i", code: -1, source: "s" },
      ],
    });
  });

  it("drops each bad range and keeps the rest", () => {
    const ranges = [
      [0, 0, 0],
      [0, 0, 0, 0, 0],
      [-1, 0, 0, 0],
      [0, 1.5, 0, 2],
      ["0", 0, 0, 0],
      [0, 0, null, 0],
      [2, 0, 1, 9], // start line after end line
      [1, 5, 1, 4], // start character after end character on one line
      [2 ** 53, 0, 2 ** 53, 0],
      { start: 0 },
      null,
    ];
    assert.equal(kept([...ranges.map((range) => ({ ...GOOD, range })), GOOD]), 1);
  });

  it("drops bad severities, messages, sources and codes", () => {
    const bad: Record<string, unknown>[] = [
      { severity: "fatal" },
      { severity: "Error" },
      { severity: 1 },
      { severity: undefined },
      { message: "" },
      { message: "x".repeat(2001) },
      { message: "carriage\rreturn" },
      { message: "nul\u0000" },
      { message: "del\u007f" },
      { message: "c1\u0085" },
      { message: "escape\u001b[31m" },
      { message: 5 },
      { message: undefined },
      { source: "py\nright" },
      { source: "t\tab" },
      { source: "s".repeat(101) },
      { source: "" },
      { source: 5 },
      { source: null },
      { code: "c".repeat(101) },
      { code: "" },
      { code: "E\u001b[31m" },
      { code: "E\n1" },
      { code: 1.5 },
      { code: 2 ** 60 },
      { code: true },
      { code: null },
      { code: ["E501"] },
    ];
    assert.equal(kept([...bad.map((change) => ({ ...GOOD, ...change })), GOOD]), 1);
  });

  it("counts characters, not UTF-16 units, against the limits", () => {
    const astral = "𝔘";
    assert.equal(kept([{ ...GOOD, message: astral.repeat(2000), source: astral.repeat(100), code: astral.repeat(100) }]), 1);
    assert.equal(kept([{ ...GOOD, message: astral.repeat(2001) }]), 0);
    assert.equal(kept([{ ...GOOD, message: "x".repeat(2000), source: "s".repeat(100), code: "c".repeat(100) }]), 1);
  });

  it("drops entries that are not objects", () => {
    assert.equal(kept([null, "error", 5, [GOOD], GOOD]), 1);
  });

  it("keeps at most 500", () => {
    const result = parsed(Array.from({ length: 600 }, () => GOOD));
    assert.ok(result.ok);
    assert.equal(result.diagnostics.length, 500);
    assert.equal(result.dropped, 100);
  });

  it("refuses a whole message with a bad path or no list, without throwing", () => {
    for (const path of ["../a.py", "/etc/passwd", ".git/config", "a\\b", "", 5, null, undefined]) {
      const result = parseDiagnostics({ path, diagnostics: [GOOD] });
      assert.equal(result.ok, false, String(path));
    }
    for (const list of [undefined, null, {}, "[]", 3, { length: 1, 0: GOOD }]) {
      const result = parsed(list);
      assert.deepEqual(result, { ok: false, problem: "'diagnostics' is not a list" });
    }
  });

  it("clamps a range past the end of the receiver's copy", () => {
    const range = (a: number, b: number, c: number, d: number) => ({ startLine: a, startCharacter: b, endLine: c, endCharacter: d });
    const text = "one\r\ntwo\nthree\rfour";
    assert.deepEqual(clampRange(range(0, 1, 1, 2), text), range(0, 1, 1, 2));
    assert.deepEqual(clampRange(range(0, 9, 1, 9), text), range(0, 3, 1, 3));
    assert.deepEqual(clampRange(range(2, 0, 9, 9), text), range(2, 0, 3, 4));
    assert.deepEqual(clampRange(range(7, 7, 9, 9), text), range(3, 4, 3, 4));
    assert.deepEqual(clampRange(range(0, 5, 0, 5), ""), range(0, 0, 0, 0));
  });
});

describe("making a diagnostics message", () => {
  it("sends the most severe first, keeping the editor's order within a severity", () => {
    const list = [
      diagnostic("hint", "h1"),
      diagnostic("error", "e1"),
      diagnostic("warning", "w1"),
      diagnostic("error", "e2"),
      diagnostic("information", "i1"),
      diagnostic("hint", "h2"),
      diagnostic("error", "e3"),
    ];
    const message = diagnosticsMessage("a.ts", list);
    assert.equal(message.type, "diagnostics");
    assert.equal(message.fields.path, "a.ts");
    const sent = message.fields.diagnostics as { message: string }[];
    assert.deepEqual(sent.map((item) => item.message), ["e1", "e2", "e3", "w1", "i1", "h1", "h2"]);
  });

  it("keeps the 500 most severe", () => {
    const list = [
      ...Array.from({ length: 300 }, (_, i) => diagnostic("hint", `h${i}`)),
      ...Array.from({ length: 300 }, (_, i) => diagnostic("error", `e${i}`)),
    ];
    const sent = diagnosticsMessage("a.ts", list).fields.diagnostics as { message: string; severity: string }[];
    assert.equal(sent.length, 500);
    assert.equal(sent.filter((item) => item.severity === "error").length, 300);
    assert.deepEqual(sent.slice(298, 302).map((item) => item.message), ["e298", "e299", "h0", "h1"]);
  });

  it("makes every diagnostic valid: texts cut and cleaned, ranges in order", () => {
    const list: Diagnostic[] = [
      { ...diagnostic("error", "m".repeat(5000)), source: "s".repeat(300), code: "c".repeat(300) },
      { ...diagnostic("warning", `${"x".repeat(1998)}𝔘𝔘`) }, // a cut inside the pair would leave half a character
      diagnostic("warning", "line one\r\nline two\rthree\u0000\u001b[0m\u0085"),
      { ...diagnostic("hint", ""), source: "eslint\n", code: 1.5 },
      { range: { startLine: 4, startCharacter: 9, endLine: 2, endCharacter: 0 }, severity: "information", message: "backwards" },
      { range: { startLine: -3, startCharacter: 2.7, endLine: Number.NaN, endCharacter: Infinity }, severity: "information", message: "odd" },
      { ...diagnostic("error", "big code"), code: 2 ** 60 },
      { ...diagnostic("fatal" as never, "unknown severity") },
    ];
    const message = diagnosticsMessage("a.ts", list);
    const result = parseDiagnostics(message.fields);
    assert.ok(result.ok);
    assert.equal(result.dropped, 0);
    assert.equal(result.diagnostics.length, 7, "the unknown severity is left out");
    const [long, bigCode, pair, clean, backwards, odd, empty] = result.diagnostics;
    assert.equal(long!.message.length, 2000);
    assert.ok(long!.message.endsWith("m…"));
    assert.equal(long!.source!.length, 100);
    assert.equal(String(long!.code).length, 100);
    assert.equal(bigCode!.code, String(2 ** 60));
    assert.ok(pair!.message.endsWith("x…"), "the pair is not cut in half");
    assert.equal(clean!.message, "line one\nline two\nthree\ufffd\ufffd[0m\ufffd");
    assert.equal(empty!.message, "(no message)");
    assert.equal(empty!.source, "eslint\ufffd");
    assert.equal(empty!.code, "1.5");
    assert.deepEqual(backwards!.range, { startLine: 4, startCharacter: 9, endLine: 4, endCharacter: 9 });
    assert.deepEqual(odd!.range, { startLine: 0, startCharacter: 2, endLine: 0, endCharacter: 2 });
  });

  it("leaves out an empty source or code rather than send what §10.3 forbids", () => {
    const range = { startLine: 0, startCharacter: 0, endLine: 0, endCharacter: 1 };
    const message = diagnosticsMessage("a.py", [{ range, severity: "error", message: "m", source: "", code: "" }]);
    assert.deepEqual(message.fields.diagnostics, [{ range: [0, 0, 0, 1], severity: "error", message: "m" }]);
  });

  it("stays within the relay's frame limit", () => {
    const list = Array.from({ length: 500 }, () => diagnostic("error", "é\n".repeat(1000)));
    const message = diagnosticsMessage("a.ts", list);
    const size = encodeAppMessage(message.type, message.fields, message.body).length;
    assert.ok(size < 1024 * 1024 - 34, `${size} bytes`);
    assert.ok((message.fields.diagnostics as unknown[]).length > 100);
  });

  it("refuses a path §10.1 refuses", () => {
    assert.throws(() => diagnosticsMessage("../x", []), PathError);
  });
});

describe("sending diagnostics", () => {
  function setup(wanted: (path: string) => boolean = () => true): { peer: FakePeer; clock: FakeClock; sender: DiagnosticsSender } {
    const peer = new FakePeer();
    peer.peerId = 1;
    const clock = new FakeClock();
    clock.time = 10_000;
    return { peer, clock, sender: new DiagnosticsSender(peer, { clock, wanted }) };
  }

  function messages(peer: FakePeer): [string, number, number | undefined][] {
    return peer.take().map(({ message, to }) => [
      message.fields.path as string,
      (message.fields.diagnostics as unknown[]).length,
      to,
    ]);
  }

  it("sends at once, then at most every 500 ms per file, the latest list last", () => {
    const { peer, clock, sender } = setup();
    sender.set("a.ts", [diagnostic("error", "1")]);
    assert.deepEqual(messages(peer), [["a.ts", 1, undefined]]);
    sender.set("a.ts", [diagnostic("error", "1"), diagnostic("error", "2")]);
    sender.set("a.ts", [diagnostic("error", "1"), diagnostic("error", "2"), diagnostic("error", "3")]);
    sender.set("b.ts", []); // another file has its own interval
    assert.deepEqual(messages(peer), [["b.ts", 0, undefined]]);
    clock.advance(499);
    assert.deepEqual(messages(peer), []);
    clock.advance(1);
    assert.deepEqual(messages(peer), [["a.ts", 3, undefined]]);
    clock.advance(5000);
    assert.deepEqual(messages(peer), [], "nothing new to say");
  });

  it("does not send an unchanged list again", () => {
    const { peer, clock, sender } = setup();
    sender.set("a.ts", [diagnostic("error", "same")]);
    clock.advance(1000);
    sender.set("a.ts", [diagnostic("error", "same")]);
    clock.advance(1000);
    assert.equal(peer.take().length, 1);
  });

  it("sends nothing for a file no guest has open, and the list to a guest that opens it", () => {
    const open = new Set<string>();
    const { peer, clock, sender } = setup((path) => open.has(path));
    sender.set("a.ts", [diagnostic("warning", "w")]);
    clock.advance(1000);
    assert.deepEqual(messages(peer), []);
    open.add("a.ts");
    sender.sendTo(3, "a.ts");
    sender.sendTo(3, "b.ts");
    assert.deepEqual(messages(peer), [["a.ts", 1, 3], ["b.ts", 0, 3]]);
    sender.set("a.ts", []);
    assert.deepEqual(messages(peer), [["a.ts", 0, undefined]]);
  });

  it("forgets a file: a pending list is not sent", () => {
    const { peer, clock, sender } = setup();
    sender.set("a.ts", [diagnostic("error", "1")]);
    sender.set("a.ts", [diagnostic("error", "2")]);
    sender.delete("a.ts");
    sender.set("b.ts", [diagnostic("error", "1")]);
    sender.set("b.ts", [diagnostic("error", "2")]);
    sender.dispose();
    peer.take();
    assert.deepEqual(clock.pending, []);
    clock.advance(1000);
    assert.deepEqual(peer.take(), []);
  });

  it("refuses a path §10.1 refuses", () => {
    const { sender } = setup();
    assert.throws(() => sender.set(".ctclient/x", []), PathError);
  });
});

describe("the guest's diagnostics", () => {
  function setup(): { peer: FakePeer; guest: GuestDiagnostics; events: { name: keyof GuestDiagnosticsEvents; event: any }[] } {
    const peer = new FakePeer();
    const guest = new GuestDiagnostics(peer);
    const events: { name: keyof GuestDiagnosticsEvents; event: any }[] = [];
    for (const name of ["change", "cleared", "ignored"] as const) guest.on(name, (event) => events.push({ name, event }));
    return { peer, guest, events };
  }

  it("takes the host's lists, each replacing the one before", () => {
    const { peer, guest, events } = setup();
    peer.deliver(1, "diagnostics", { path: "a.ts", diagnostics: [GOOD, { ...GOOD, severity: "bad" }] });
    assert.equal(guest.get("a.ts").length, 1);
    assert.deepEqual(events.map((entry) => [entry.name, entry.event.path, entry.event.dropped]), [["change", "a.ts", 1]]);
    peer.deliver(1, "diagnostics", { path: "a.ts", diagnostics: [] });
    assert.deepEqual(guest.get("a.ts"), []);
    assert.deepEqual(guest.paths, []);
    assert.deepEqual(events.at(-1), { name: "change", event: { path: "a.ts", diagnostics: [], dropped: 0 } });
  });

  it("drops diagnostics from anyone but the host, and malformed messages", () => {
    const { peer, guest, events } = setup();
    peer.deliver(3, "diagnostics", { path: "a.ts", diagnostics: [GOOD] });
    peer.deliver(1, "diagnostics", { path: "../a.ts", diagnostics: [GOOD] });
    peer.deliver(1, "diagnostics", { path: "a.ts", diagnostics: "all good" });
    peer.deliver(1, "tree", { path: "a.ts", diagnostics: [GOOD] });
    assert.deepEqual(guest.paths, []);
    assert.deepEqual(events.map((entry) => [entry.name, entry.event.sender]), [
      ["ignored", 3],
      ["ignored", 1],
      ["ignored", 1],
    ]);
  });

  it("clears a file that left the tree, and everything when the session closes", () => {
    const { peer, guest, events } = setup();
    for (const path of ["a.ts", "b.ts", "c.ts"]) peer.deliver(1, "diagnostics", { path, diagnostics: [GOOD] });
    events.length = 0;
    guest.clear("b.ts");
    guest.clear("never.ts");
    assert.deepEqual(guest.paths, ["a.ts", "c.ts"]);
    peer.emit("closed", { code: 4005, reason: "", status: "ended", words: "" } as never);
    assert.deepEqual(guest.paths, []);
    assert.deepEqual(events.map((entry) => [entry.name, entry.event.path]), [
      ["cleared", "b.ts"],
      ["cleared", "a.ts"],
      ["cleared", "c.ts"],
    ]);
  });

  it("clears everything and stops following on dispose", () => {
    const { peer, guest, events } = setup();
    peer.deliver(1, "diagnostics", { path: "a.ts", diagnostics: [GOOD] });
    guest.dispose();
    peer.deliver(1, "diagnostics", { path: "b.ts", diagnostics: [GOOD] });
    assert.deepEqual(guest.paths, []);
    assert.deepEqual(events.map((entry) => entry.name), ["change", "cleared"]);
  });

  it("lets a GuestFiles say it shows them", async () => {
    const peer = new FakePeer();
    const files = new GuestFiles(peer, "ctserver-vscode/0.1", ["awareness", "diagnostics"]);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(peer.take()[0]?.message.fields, { client: "ctserver-vscode/0.1", features: ["awareness", "diagnostics"] });
    files.dispose();
  });
});
