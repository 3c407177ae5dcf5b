// Data frames (docs/protocol.md §7): one binary WebSocket message, a 6-byte
// routing header the server reads, then the ciphertext it cannot.
//
//   0  version (1)
//   1  kind: 0 = to every other admitted peer, 1 = to one peer
//   2  uint32 BE: the target (sent; 0 for kind 0), or the sender (received)

import { readUint32, writeUint32, type Bytes } from "./bytes.js";
import { MIN_PAYLOAD_BYTES } from "./crypto.js";

export const HEADER_BYTES = 6;
export const FRAME_VERSION = 1;
export const MAX_PEER_ID = 0xffffffff;

export type Route = { readonly kind: "broadcast" } | { readonly kind: "unicast"; readonly to: number };

export const BROADCAST: Route = { kind: "broadcast" };

export function unicast(to: number): Route {
  return { kind: "unicast", to };
}

export function isPeerId(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 1 && value <= MAX_PEER_ID;
}

/** A frame to send. Throws for a route no server would accept (a bug here, not a peer's). */
export function encodeDataFrame(route: Route, payload: Uint8Array): Bytes {
  if (route.kind === "unicast" && !isPeerId(route.to)) {
    throw new RangeError(`not a peer id: ${String(route.to)}`);
  }
  if (payload.length < MIN_PAYLOAD_BYTES) throw new RangeError("a payload has at least 28 bytes");
  const frame = new Uint8Array(HEADER_BYTES + payload.length);
  frame[0] = FRAME_VERSION;
  frame[1] = route.kind === "broadcast" ? 0 : 1;
  writeUint32(frame, 2, route.kind === "broadcast" ? 0 : route.to);
  frame.set(payload, HEADER_BYTES);
  return frame;
}

export interface ReceivedFrame {
  /** How the sender addressed it: to everyone, or to this peer alone. */
  readonly kind: "broadcast" | "unicast";
  /** The sender's peer id, as the server stamped it. */
  readonly sender: number;
  readonly payload: Uint8Array;
}

export type DecodedFrame =
  | { readonly ok: true; readonly frame: ReceivedFrame }
  // `ignore`: a later frame version this client does not read (§11).
  | { readonly ok: false; readonly ignore: boolean; readonly problem: string };

/** A frame from the server. Never throws: a malformed one is a problem to report. */
export function decodeDataFrame(data: Uint8Array): DecodedFrame {
  if (data.length < HEADER_BYTES) {
    return { ok: false, ignore: false, problem: `a data frame of ${data.length} bytes, shorter than its header` };
  }
  if (data[0] !== FRAME_VERSION) {
    return { ok: false, ignore: true, problem: `a data frame of version ${String(data[0])}` };
  }
  const kind = data[1];
  const sender = readUint32(data, 2);
  if (kind !== 0 && kind !== 1) {
    return { ok: false, ignore: false, problem: `a data frame of kind ${String(kind)}` };
  }
  if (sender === 0) {
    return { ok: false, ignore: false, problem: "a data frame from peer 0, which no peer is" };
  }
  return {
    ok: true,
    frame: { kind: kind === 0 ? "broadcast" : "unicast", sender, payload: data.subarray(HEADER_BYTES) },
  };
}
