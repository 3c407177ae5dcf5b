// The core against the real thing: a ctserver started as the Python tests start
// theirs, `ctclient host` (the reference client) sharing a folder through it, and
// a guest made of this package's Peer and GuestFiles over the npm `ws` WebSocket.
// Skipped when the repository's virtualenv (.venv, made by `make test`) is missing.

import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, it } from "node:test";

import WebSocket from "ws";

import { GuestFiles } from "../files.js";
import { parseJoinLink, type JoinLink } from "../link.js";
import { Peer } from "../peer.js";
import type { WebSocketConstructor } from "../socket.js";
import { until } from "./helpers.js";

const REPO = new URL("../../../../../", import.meta.url).pathname;
const VENV = join(REPO, ".venv", "bin");
const available = existsSync(join(VENV, "python")) && existsSync(join(VENV, "ctclient"));

/** The first line `child` prints. */
function firstLine(child: ChildProcess, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once("line", (line) => resolve(line.trim()));
    child.once("exit", (code) => reject(new Error(`${what} exited (${code}) before saying anything`)));
  });
}

/** `ws` with the stickiness header a load balancer hashes on (§2); browsers send a cookie. */
function stickyWebSocket(link: JoinLink, made: WebSocket[]): WebSocketConstructor {
  return class extends WebSocket {
    constructor(url: string) {
      super(url, { headers: { ctstickiness: link.sessionId } });
      made.push(this);
    }
  } as unknown as WebSocketConstructor;
}

describe("a guest of `ctclient host`, through a real ctserver", { skip: !available && "no .venv: run make test once" }, () => {
  let server: ChildProcess;
  let host: ChildProcess;
  let folder: string;
  let link: JoinLink;

  before(async () => {
    server = spawn(join(VENV, "python"), ["clients/web/core/test/real_server.py"], {
      cwd: REPO,
      env: { ...process.env, PYTHONPATH: REPO },
      stdio: ["pipe", "pipe", "inherit"],
    });
    const url = await firstLine(server, "the server");
    folder = mkdtempSync(join(tmpdir(), "ctserver-web-host-"));
    writeFileSync(join(folder, "hello.txt"), "hello from ctclient\n");
    host = spawn(join(VENV, "ctclient"), ["host", folder, "--server", url, "--auto-admit", "--name", "Py"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    host.stderr!.resume();
    link = parseJoinLink(await firstLine(host, "ctclient host"));
  });

  after(() => {
    host?.kill("SIGINT");
    server?.stdin?.end();
    if (folder) rmSync(folder, { recursive: true, force: true });
  });

  it("joins, opens a file, edits it, survives a dropped connection, and is told the session ended", async () => {
    const sockets: WebSocket[] = [];
    const peer = new Peer({ link, name: "TypeScript", WebSocket: stickyWebSocket(link, sockets) });
    const files = new GuestFiles(peer);
    await peer.start();
    await until(() => peer.status === "admitted", 10_000);
    await until(() => files.treeReceived, 10_000);
    assert.deepEqual([...files.entries.values()], [{ path: "hello.txt", size: 20, kind: "text" }]);

    const doc = files.open("hello.txt");
    await until(() => files.isSynced("hello.txt"), 10_000);
    const text = doc.getText("content");
    assert.equal(text.toString(), "hello from ctclient\n");

    text.insert(0, "TS: ");
    const onDisk = (): string => readFileSync(join(folder, "hello.txt"), "utf8");
    await until(() => onDisk() === "TS: hello from ctclient\n", 10_000);

    // A network failure: the guest resumes, and an edit made meanwhile on the host arrives.
    const resumed = peer.next("resumed");
    sockets.at(-1)!.terminate();
    writeFileSync(join(folder, "hello.txt"), "TS: hello from ctclient\nand from the host\n");
    await resumed;
    await until(() => text.toString() === "TS: hello from ctclient\nand from the host\n", 15_000);

    const closed = peer.next("closed");
    host.kill("SIGINT"); // Ctrl-C: ctclient ends the session for everyone
    assert.equal((await closed).status, "session_ended");
    files.dispose();
  });
});
