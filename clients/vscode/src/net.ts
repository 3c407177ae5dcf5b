// The network, as VS Code's Node.js gives it: the session's WebSocket (npm `ws`,
// with the `ctstickiness` header the balancer routes on, docs/protocol.md §2) and
// `POST /api/v1/sessions`, both trusting `ctserver.caFile` when it is set.

import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import * as http from "node:http";
import * as https from "node:https";

import WebSocket from "ws";

import type { WebSocketConstructor } from "../../web/core/socket.js";

export const USER_AGENT = "ctserver-vscode/0.1.0";
const TIMEOUT_MS = 15_000;

/** The PEM certificates to trust, or undefined for the system's authorities. */
export function trustedCertificates(caFile: string): string | undefined {
  if (caFile.trim() === "") return undefined;
  try {
    return readFileSync(caFile.trim(), "utf8");
  } catch (thrown) {
    throw new Error(`cannot read ctserver.caFile ${caFile}: ${(thrown as Error).message}`);
  }
}

/** A WebSocket class for core's Peer: every connection says which session it is
 *  about and trusts `ca`. */
export function socketFor(sessionId: string, ca: string | undefined): WebSocketConstructor {
  return class SessionSocket extends WebSocket {
    constructor(url: string) {
      super(url, {
        headers: { ctstickiness: sessionId, "User-Agent": USER_AGENT },
        ca,
        handshakeTimeout: TIMEOUT_MS,
        perMessageDeflate: false, // ciphertext does not compress
      });
    }
  } as unknown as WebSocketConstructor;
}

export interface CreatedSession {
  readonly sessionId: string;
  readonly hostSecret: string;
}

/** Create a session on `serverUrl` (docs/protocol.md §3.1). */
export function createSession(
  serverUrl: string,
  name: string,
  autoAdmit: boolean,
  ca: string | undefined,
): Promise<CreatedSession> {
  const url = new URL("/api/v1/sessions", serverUrl);
  const body = JSON.stringify({ name, auto_admit: autoAdmit });
  const client = url.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const request = client.request(
      url,
      {
        method: "POST",
        ca,
        timeout: TIMEOUT_MS,
        headers: {
          "Content-Type": "application/json",
          "Content-Length": Buffer.byteLength(body),
          "User-Agent": USER_AGENT,
          ctstickiness: randomBytes(8).toString("hex"),
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          try {
            const answer = JSON.parse(text) as Record<string, unknown>;
            if (response.statusCode === 201 || response.statusCode === 200) {
              const sessionId = answer.session_id;
              const hostSecret = answer.host_secret;
              if (typeof sessionId !== "string" || typeof hostSecret !== "string") {
                throw new Error("the server's answer has no session");
              }
              resolve({ sessionId, hostSecret });
              return;
            }
            const error = answer.error as { code?: unknown; message?: unknown } | undefined;
            reject(new Error(`${String(error?.message ?? response.statusMessage)} (${String(error?.code ?? response.statusCode)})`));
          } catch (thrown) {
            reject(new Error(`${serverUrl} answered ${response.statusCode ?? "?"}: ${(thrown as Error).message}`));
          }
        });
      },
    );
    request.on("timeout", () => request.destroy(new Error(`${serverUrl} did not answer within 15 s`)));
    request.on("error", (error) => reject(new Error(`cannot reach ${serverUrl}: ${error.message}`)));
    request.end(body);
  });
}
