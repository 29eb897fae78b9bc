// The client endpoint routes a sessionExpired push to every connection that carried requests
// of that client id. Clients that share one connection (GeolockClient.fork) are many ids on
// one socket: each must still hear of its own session's expiry. A watcher that stops reading
// is dropped before its pushes pile up without bound.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { decodePlain, encodeValue, type ClientRequest, type ClientResponse } from "@geolock/transport";
import pino from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import WebSocket from "ws";
import { ClientEndpoint, DEFAULT_CLIENT_LIMITS } from "../src/client-endpoint.js";
import type { WatchSink } from "../src/lock-watches.js";
import type { RequestRouter } from "../src/request-router.js";

/** The sinks of the watches it was asked for, and of those it was told to drop. */
const watchSinks: WatchSink[] = [];
const droppedSinks: WatchSink[] = [];

/** Answers every request at once with ok; keeps the sink of each watch. */
const answeringRouter = {
  handle: (request: ClientRequest): Promise<ClientResponse> => Promise.resolve({ id: request.id, ok: true, result: { type: "keptAlive" } }),
  serveWatch: (request: ClientRequest, sink: WatchSink): Promise<ClientResponse> => {
    watchSinks.push(sink);
    return Promise.resolve({ id: request.id, ok: true, result: { index: 0, status: {} } });
  },
  dropWatches: (sink: WatchSink): void => void droppedSinks.push(sink),
} as unknown as RequestRouter;

let server: Server | undefined;
let endpoint: ClientEndpoint | undefined;
let socket: WebSocket | undefined;

afterEach(async () => {
  watchSinks.length = 0;
  droppedSinks.length = 0;
  socket?.terminate();
  endpoint?.close();
  await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
  server = endpoint = socket = undefined;
});

async function connectedEndpoint(limits = DEFAULT_CLIENT_LIMITS): Promise<{ endpoint: ClientEndpoint; socket: WebSocket; frames: unknown[][] }> {
  const ep = new ClientEndpoint(answeringRouter, pino({ level: "silent" }), limits);
  const http = createServer();
  http.on("upgrade", (req, sock, head: Buffer) => ep.handleUpgrade(req, sock, head));
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", () => resolve()));
  const ws = new WebSocket(`ws://127.0.0.1:${(http.address() as AddressInfo).port}/client`);
  const frames: unknown[][] = [];
  ws.on("message", (data: Buffer) => {
    const decoded = decodePlain(data, 8);
    if (decoded.ok && Array.isArray(decoded.value)) frames.push(decoded.value);
  });
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  server = http;
  endpoint = ep;
  socket = ws;
  return { endpoint: ep, socket: ws, frames };
}

describe("client endpoint pushes", () => {
  it("routes a push to the connection of each of many client ids sharing it, and answers a turn's requests in one frame", async () => {
    const { endpoint: ep, socket: ws, frames } = await connectedEndpoint();
    const ids = Array.from({ length: 100 }, (_, i) => `fork-${i}`);
    const requests = ids.map((clientId, i) => ({ id: i + 1, op: "keepAlive", region: "us-east", sessionId: i + 1, clientId, seq: 1 }));
    ws.send(encodeValue(requests));
    await vi.waitFor(() => expect(frames.flat()).toHaveLength(100), { timeout: 5_000, interval: 10 });
    expect(frames).toHaveLength(1);
    for (const i of [0, 50, 99]) ep.push(`fork-${i}`, { push: "sessionExpired", region: "us-east", sessionId: i + 1, lost: [] });
    ep.push("never-seen", { push: "sessionExpired", region: "us-east", sessionId: 7, lost: [] });
    // A marker through the same connection: once it is in, every push before it is too.
    ep.push("fork-1", { push: "sessionExpired", region: "us-east", sessionId: 2, lost: [] });
    await vi.waitFor(() => expect(frames.flat()).toHaveLength(104), { timeout: 5_000, interval: 10 });
    expect(frames.flat().slice(100)).toMatchObject([{ sessionId: 1 }, { sessionId: 51 }, { sessionId: 100 }, { sessionId: 2 }]);
  });

  it("remembers at most clientIdsPerConnectionMax ids per connection", async () => {
    const { endpoint: ep, socket: ws, frames } = await connectedEndpoint();
    const max = DEFAULT_CLIENT_LIMITS.clientIdsPerConnectionMax;
    const requests = Array.from({ length: max + 1 }, (_, i) => ({ id: i + 1, op: "keepAlive", region: "us-east", sessionId: i + 1, clientId: `c-${i}`, seq: 1 }));
    for (let from = 0; from < requests.length; from += 512) ws.send(encodeValue(requests.slice(from, from + 512)));
    await vi.waitFor(() => expect(frames.flat()).toHaveLength(max + 1), { timeout: 5_000, interval: 10 });
    ep.push(`c-${max}`, { push: "sessionExpired", region: "us-east", sessionId: max + 1, lost: [] });
    ep.push(`c-${max - 1}`, { push: "sessionExpired", region: "us-east", sessionId: max, lost: [] });
    await vi.waitFor(() => expect(frames.flat()).toHaveLength(max + 2), { timeout: 5_000, interval: 10 });
    expect(frames.flat()[max + 1]).toMatchObject({ sessionId: max });
  });

  it("remembers at most clientIdsMax ids over all connections, so made-up ids cannot grow its memory without bound", async () => {
    const { endpoint: ep, socket: ws, frames } = await connectedEndpoint({ ...DEFAULT_CLIENT_LIMITS, clientIdsPerConnectionMax: 100, clientIdsMax: 10 });
    const requests = Array.from({ length: 11 }, (_, i) => ({ id: i + 1, op: "keepAlive", region: "us-east", sessionId: i + 1, clientId: `c-${i}`, seq: 1 }));
    ws.send(encodeValue(requests));
    await vi.waitFor(() => expect(frames.flat()).toHaveLength(11), { timeout: 5_000, interval: 10 });
    ep.push("c-10", { push: "sessionExpired", region: "us-east", sessionId: 11, lost: [] });
    ep.push("c-9", { push: "sessionExpired", region: "us-east", sessionId: 10, lost: [] });
    await vi.waitFor(() => expect(frames.flat()).toHaveLength(12), { timeout: 5_000, interval: 10 });
    expect(frames.flat()[11]).toMatchObject({ sessionId: 10 });
  });
});

describe("client endpoint watch pushes", () => {
  it("drops a connection that does not read its watch pushes once its send buffer passes the limit, and ends its watches", async () => {
    const limit = 64 << 10;
    const { socket: ws, frames } = await connectedEndpoint({ ...DEFAULT_CLIENT_LIMITS, pushBufferBytesMax: limit });
    ws.send(encodeValue([{ id: 1, op: "watch", name: "us-east:x", watchId: 1 }]));
    await vi.waitFor(() => expect(frames.flat()).toHaveLength(1), { timeout: 5_000, interval: 10 });
    const sink = watchSinks[0] as WatchSink;
    const closed = new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)));
    // The client stops reading: the kernel's buffers fill, then the node's.
    (ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const push = { push: "lockChanged", watchId: 1, name: "us-east:x", index: 1, change: "acquired", sessionId: 1, owner: "o".repeat(200), mode: "exclusive", token: 1 } as const;
    // Bounded: 64 MiB of pushes is far beyond any loopback buffer plus the limit.
    for (let turn = 0; turn < 2_000 && droppedSinks.length === 0; turn++) {
      for (let i = 0; i < 128; i++) sink.push({ ...push, index: turn * 128 + i + 1 });
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(droppedSinks).toEqual([sink]);
    (ws as unknown as { _socket: { resume(): void } })._socket.resume();
    expect(await closed).toBe(1006);
  });
});
