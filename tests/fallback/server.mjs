// A gRPC-only Firestore emulator for machines without Google's (no Java, no gcloud, no
// firebase-tools). Serves writes, queries and listeners; enforces no rules and serves no
// browsers, so the test suite skips, loudly, what needs those.
//   node server.mjs GRPC_PORT CONTROL_PORT
// CONTROL_PORT answers GET / (ready) and DELETE /documents (clear every document).
import { createServer } from "node:http";
import { FirestoreServer } from "@firestore-emulator/server";

const [grpcPort, controlPort] = process.argv.slice(2).map(Number);
let server = new FirestoreServer();
await server.start(grpcPort);

createServer(async (req, res) => {
  if (req.method === "DELETE") {
    await server.stop();
    server = new FirestoreServer();
    await server.start(grpcPort);
  }
  res.writeHead(200, { "Content-Type": "text/plain" });
  res.end("Ok");
}).listen(controlPort, "127.0.0.1", () => console.log(`ready ${grpcPort} ${controlPort}`));

for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0));
