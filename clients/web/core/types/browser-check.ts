// Compiled by tsconfig.dom.json only: the browser's WebSocket fits the Peer.
import type { WebSocketConstructor } from "../socket.js";

export const browserWebSocket: WebSocketConstructor = WebSocket;
