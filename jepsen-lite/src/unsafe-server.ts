// A deliberately UNSAFE lock server, kept so that jepsen-lite can prove it catches one. It
// is the naive Redis lock (SET key value NX PX ttl; DEL key): one process, a TTL and
// nothing else. A holder paused past its TTL loses the lock without being told, nothing
// fences its late writes, and release deletes the key without checking who holds it, so a
// woken-up former holder frees the lock of the next one. The token it returns only
// counts grants; the naive user it models does not use it.
//
// Protocol: TCP, one JSON object per line each way.
//   {"id":1,"op":"acquire","key":"k","owner":"w1-7","ttlMs":1000} -> {"id":1,"ok":true,"token":3} | {"id":1,"ok":false,"error":"HELD"}
//   {"id":2,"op":"release","key":"k"}                             -> {"id":2,"ok":true,"released":true}
//   {"id":3,"op":"status","key":"k"}                              -> {"id":3,"ok":true,"holder":"w1-7","token":3}

import { createServer, type Server, type Socket } from "node:net";

interface Entry {
  owner: string | null;
  expiresAtMs: number;
  token: number;
}

const LINE_CHARS_MAX = 4_096;
const KEYS_MAX = 10_000;
const CONNECTIONS_MAX = 256;
const TTL_MS_MAX = 3_600_000;

export type UnsafeRequest =
  | { readonly id: number; readonly op: "acquire"; readonly key: string; readonly owner: string; readonly ttlMs: number }
  | { readonly id: number; readonly op: "release"; readonly key: string }
  | { readonly id: number; readonly op: "status"; readonly key: string };

export class UnsafeLockServer {
  private readonly locks = new Map<string, Entry>();

  constructor(private readonly now: () => number = () => performance.now()) {}

  handle(request: UnsafeRequest): Record<string, unknown> {
    const entry = this.entry(request.key);
    if (entry === undefined) return { id: request.id, ok: false, error: "OVERLOADED" };
    const held = entry.owner !== null && entry.expiresAtMs > this.now();
    switch (request.op) {
      case "acquire":
        if (held) return { id: request.id, ok: false, error: "HELD" };
        entry.owner = request.owner;
        entry.expiresAtMs = this.now() + request.ttlMs;
        entry.token++;
        return { id: request.id, ok: true, token: entry.token };
      case "release":
        // The flaw: no check that the caller is the holder.
        entry.owner = null;
        return { id: request.id, ok: true, released: held };
      case "status":
        return { id: request.id, ok: true, holder: held ? entry.owner : null, token: held ? entry.token : null };
    }
  }

  private entry(key: string): Entry | undefined {
    let entry = this.locks.get(key);
    if (entry === undefined && this.locks.size < KEYS_MAX) {
      entry = { owner: null, expiresAtMs: 0, token: 0 };
      this.locks.set(key, entry);
    }
    return entry;
  }
}

/** Decodes one request line; null if it is not a valid request. */
export function decodeUnsafeRequest(line: string): UnsafeRequest | null {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof raw !== "object" || raw === null) return null;
  const r = raw as Record<string, unknown>;
  const { id, op, key } = r;
  if (typeof id !== "number" || !Number.isSafeInteger(id) || typeof key !== "string" || key.length === 0 || key.length > 256) return null;
  if (op === "release" || op === "status") return { id, op, key };
  const { owner, ttlMs } = r;
  if (op !== "acquire" || typeof owner !== "string" || owner.length > 256) return null;
  if (typeof ttlMs !== "number" || !Number.isSafeInteger(ttlMs) || ttlMs < 1 || ttlMs > TTL_MS_MAX) return null;
  return { id, op, key, owner, ttlMs };
}

/** Serves the unsafe lock on host:port until the server is closed. */
export function serveUnsafe(host: string, port: number): Promise<Server> {
  const locks = new UnsafeLockServer();
  const server = createServer((socket) => serveConnection(socket, locks));
  server.maxConnections = CONNECTIONS_MAX;
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}

function serveConnection(socket: Socket, locks: UnsafeLockServer): void {
  let buffer = "";
  socket.setEncoding("utf8");
  socket.on("error", () => socket.destroy());
  socket.on("data", (chunk: string) => {
    buffer += chunk;
    for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
      const request = decodeUnsafeRequest(buffer.slice(0, nl));
      buffer = buffer.slice(nl + 1);
      if (request === null) {
        socket.end(`${JSON.stringify({ ok: false, error: "BAD_REQUEST" })}\n`);
        return;
      }
      socket.write(`${JSON.stringify(locks.handle(request))}\n`);
    }
    if (buffer.length > LINE_CHARS_MAX) socket.destroy();
  });
}
