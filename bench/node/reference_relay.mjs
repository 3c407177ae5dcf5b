// The second reference: a bare broadcast relay on Node.js's `ws`, with no protocol.
//
// Every binary message on /ws/v1/sessions/<room> goes to the room's other
// connections, as bench/reference_relay.py does in Python. It shows what a relay on
// a faster runtime does on the same core, and it is the one that can make the load
// generator, not the relay, the limit (docs/benchmarks.md).
//
//     node bench/node/reference_relay.mjs PORT
import { WebSocketServer } from "ws";

const rooms = new Map();
const server = new WebSocketServer({
  host: "127.0.0.1",
  port: Number(process.argv[2]),
  backlog: 2048, // uvicorn's, as for the Python reference
  perMessageDeflate: false,
  maxPayload: 0,
});

server.on("connection", (socket, request) => {
  const path = request.url ?? "/";
  let room = rooms.get(path);
  if (room === undefined) {
    room = new Set();
    rooms.set(path, room);
  }
  room.add(socket);
  socket.on("message", (data, isBinary) => {
    for (const other of room) {
      if (other !== socket) other.send(data, { binary: isBinary });
    }
  });
  socket.on("close", () => room.delete(socket));
  socket.on("error", () => {});
});
server.on("listening", () => console.log(`node reference relay on ${process.argv[2]}`));
