// Each peer's colour: the one its awareness messages carry (§10.2), or, until one
// arrives, one picked from its peer id, so everyone starts with the same colour
// for the same peer.

const PALETTE = [
  "#d9480f", // host (peer 1): orange
  "#1c7ed6",
  "#2b8a3e",
  "#ae3ec9",
  "#c2255c",
  "#0c8599",
  "#5f3dc4",
  "#e67700",
  "#364fc7",
  "#087f5b",
] as const;

export function colourFor(peerId: number): string {
  return PALETTE[(Math.max(peerId, 1) - 1) % PALETTE.length] ?? PALETTE[0];
}
