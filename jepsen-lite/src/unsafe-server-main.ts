#!/usr/bin/env node
// `node jepsen-lite/dist/unsafe-server-main.js --host 127.0.0.11 --port 19211`: the unsafe
// lock server (unsafe-server.ts) as its own process, so the harness can kill and pause it.

import { parseArgs } from "node:util";
import { serveUnsafe } from "./unsafe-server.js";

const { values } = parseArgs({ options: { host: { type: "string", default: "127.0.0.1" }, port: { type: "string" } }, strict: true });
const port = Number(values.port);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  process.stderr.write("usage: unsafe-server-main.js --host 127.0.0.11 --port N\n");
  process.exit(2);
}
const server = await serveUnsafe(values.host, port);
process.stdout.write(`unsafe lock server on ${values.host}:${port}\n`);
const stop = (): void => {
  server.close(() => process.exit(0));
  server.unref();
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
