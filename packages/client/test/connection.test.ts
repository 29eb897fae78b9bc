// A connection's request deadlines: every unanswered request settles "unknown" at its own
// timeout, whichever order the deadlines come in, and an answered one never does.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { decodePlain, encodeValue } from "@geolock/transport";
import { WebSocketServer, type RawData } from "ws";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Connection, DEFAULT_CONNECTION_LIMITS, type AttemptOutcome } from "../src/connection.js";
import { SILENT_LOGGER } from "../src/logger.js";

let server: Server | undefined;
let connection: Connection | undefined;

afterEach(async () => {
  connection?.close("test over");
  await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
  server = undefined;
});

/** A node that answers keepAlive requests at once and leaves every other request unanswered. */
async function answeringOnlyKeepAlives(): Promise<string> {
  server = createServer();
  const wss = new WebSocketServer({ server });
  wss.on("connection", (socket) => {
    socket.on("message", (data: RawData) => {
      const decoded = decodePlain(data as Buffer, 8);
      if (!decoded.ok || !Array.isArray(decoded.value)) return;
      const answers = (decoded.value as { id: number; op: string; sessionId?: number }[])
        .filter((r) => r.op === "keepAlive")
        .map((r) => ({ id: r.id, ok: true, result: { type: "keptAlive", sessionId: r.sessionId, ttlMs: 1000 } }));
      if (answers.length > 0) socket.send(encodeValue(answers));
    });
  });
  await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
  return `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

const keepAlive = { op: "keepAlive", region: "r", sessionId: 1, clientId: "c", seq: 1 } as const;
const status = { op: "status", name: "r:k" } as const;

describe("connection request deadlines", () => {
  it("settles each unanswered request unknown at its own timeout, the shorter first, and an answered one ok", async () => {
    const url = await answeringOnlyKeepAlives();
    connection = await Connection.open(url, DEFAULT_CONNECTION_LIMITS, { onPush: () => undefined, onClose: () => undefined }, SILENT_LOGGER);
    const settled: string[] = [];
    const track = (name: string, p: Promise<AttemptOutcome>): Promise<AttemptOutcome> => p.then((o) => (settled.push(name), o));
    // The first deadline armed is the long one; the short one, asked later, must re-arm it.
    const long = track("long", connection.request(status, 1_000));
    const answered = track("answered", connection.request(keepAlive, 30_000));
    const short = track("short", connection.request(status, 200));
    expect(await answered).toMatchObject({ kind: "ok" });
    expect(await short).toEqual({ kind: "unknown", reason: `no answer from ${url} within 200 ms` });
    expect(await long).toEqual({ kind: "unknown", reason: `no answer from ${url} within 1000 ms` });
    expect(settled.filter((name) => name !== "answered")).toEqual(["short", "long"]);
    expect(connection.inFlight).toBe(0);
  });

  it("waits out a deadline beyond setTimeout's range without spinning", async () => {
    const url = await answeringOnlyKeepAlives();
    connection = await Connection.open(url, DEFAULT_CONNECTION_LIMITS, { onPush: () => undefined, onClose: () => undefined }, SILENT_LOGGER);
    // Node fires a timer of more than 2^31 - 1 ms after 1 ms: re-armed so, it would spin.
    const far = connection.request(status, 2 ** 31 + 1_000);
    const timers = vi.spyOn(globalThis, "setTimeout");
    try {
      expect(await connection.request(status, 100)).toMatchObject({ kind: "unknown" });
      await new Promise((resolve) => setImmediate(resolve));
      const afterShort = timers.mock.calls.length;
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(timers.mock.calls.length - afterShort).toBeLessThanOrEqual(1); // the test's own wait
      expect(connection.inFlight).toBe(1);
    } finally {
      timers.mockRestore();
    }
    connection.close("test over");
    expect(await far).toEqual({ kind: "unknown", reason: "test over" });
  });

  it("settles what is pending unknown when it closes", async () => {
    const url = await answeringOnlyKeepAlives();
    connection = await Connection.open(url, DEFAULT_CONNECTION_LIMITS, { onPush: () => undefined, onClose: () => undefined }, SILENT_LOGGER);
    const pending = connection.request(status, 60_000);
    connection.close("closed by the test");
    expect(await pending).toEqual({ kind: "unknown", reason: "closed by the test" });
  });
});
