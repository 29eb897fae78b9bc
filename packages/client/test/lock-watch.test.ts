// A lock watch against a stand-in pool whose answers and pushes the test hands out one by
// one: which changes reach the listener around the status's index, how the watch starts
// again (watchEnded, a closed connection, a connection lost during the start), and that a
// closed watch hears nothing more. No timing is asserted; every wait is bounded.

import type { ClientRequestBody, GlobalLockChangedPush, LockChangedPush, WatchEndedPush } from "@geolock/transport";
import { describe, expect, it } from "vitest";
import type { AttemptOutcome } from "../src/connection.js";
import { LockWatch, REGIONAL_WATCH, type WatchConnection, type WatchEvent, type WatchPool } from "../src/lock-watch.js";
import { SILENT_LOGGER } from "../src/logger.js";

const NAME = "us-east:x";
const FREE = { name: NAME, mode: null, token: null, holders: [], waiters: [] };

interface Sent {
  readonly body: ClientRequestBody;
  readonly answer: (outcome: AttemptOutcome) => void;
}

class FakeConnection implements WatchConnection {
  isOpen = true;
  readonly sent: Sent[] = [];

  request(body: ClientRequestBody): Promise<AttemptOutcome> {
    return new Promise((resolve) => this.sent.push({ body, answer: resolve }));
  }
}

class FakePool implements WatchPool {
  current = new FakeConnection();
  private nextId = 1;
  private readonly handlers = new Map<number, (push: LockChangedPush | GlobalLockChangedPush | WatchEndedPush) => void>();
  private readonly closeListeners = new Set<(connection: WatchConnection) => void>();

  connection(): Promise<WatchConnection | undefined> {
    return Promise.resolve(this.current);
  }

  takeWatchId(handler: (push: LockChangedPush | GlobalLockChangedPush | WatchEndedPush) => void): { readonly watchId: number; readonly stop: () => void } {
    const watchId = this.nextId++;
    this.handlers.set(watchId, handler);
    return { watchId, stop: () => this.handlers.delete(watchId) };
  }

  onConnectionClosed(listener: (connection: WatchConnection) => void): () => void {
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  push(push: LockChangedPush | WatchEndedPush): void {
    this.handlers.get(push.watchId)?.(push);
  }

  /** The current connection closes; the next one asked for is a new one. */
  closeCurrent(): FakeConnection {
    const closed = this.current;
    closed.isOpen = false;
    this.current = new FakeConnection();
    for (const listener of this.closeListeners) listener(closed);
    return closed;
  }

  routedWatches(): number {
    return this.handlers.size;
  }
}

function change(watchId: number, index: number, change: "acquired" | "released", token: number): LockChangedPush {
  const holder = { push: "lockChanged", watchId, name: NAME, index, sessionId: 3, owner: "o", mode: "exclusive", token } as const;
  return change === "acquired" ? { ...holder, change } : { ...holder, change, reason: "released" };
}

/** Waits (bounded: 2,000 waits of a millisecond; a retry backs off 50 ms) until the connection has sent `count` requests; returns the last. */
async function sentRequest(connection: FakeConnection, count = 1): Promise<Sent> {
  for (let turn = 0; turn < 2_000 && connection.sent.length < count; turn++) await new Promise((resolve) => setTimeout(resolve, 1));
  const sent = connection.sent[count - 1];
  if (sent === undefined) throw new Error(`only ${connection.sent.length} request(s) sent, expected ${count}`);
  return sent;
}

function watchIdOf(sent: Sent): number {
  if (sent.body.op !== "watch") throw new Error(`expected a watch request, got ${sent.body.op}`);
  return sent.body.watchId;
}

function start(pool: FakePool, events: WatchEvent[]): Promise<LockWatch> {
  return LockWatch.start(NAME, (e: WatchEvent) => events.push(e), { pool, clock: { now: () => performance.now() }, logger: SILENT_LOGGER, requestTimeoutMs: 5_000 }, REGIONAL_WATCH);
}

const describeEvents = (events: readonly WatchEvent[]): string[] => events.map((e) => (e.type === "status" ? `status@${e.index}` : `${e.type} #${e.token}@${e.index}`));

describe("LockWatch", () => {
  it("delivers the status, then the changes pushed before it that are newer, then the rest", async () => {
    const pool = new FakePool();
    const events: WatchEvent[] = [];
    const starting = start(pool, events);
    const sent = await sentRequest(pool.current);
    const watchId = watchIdOf(sent);
    // Pushed while the status read was being confirmed: one is in the status already.
    pool.push(change(watchId, 5, "acquired", 1));
    pool.push(change(watchId, 7, "released", 1));
    sent.answer({ kind: "ok", result: { index: 6, status: { ...FREE, mode: "exclusive", token: 1, holders: [{ sessionId: 3, clientId: "c", owner: "o", mode: "exclusive", token: 1, heldForMs: 5 }] } } });
    await starting;
    pool.push(change(watchId, 9, "acquired", 2));
    expect(describeEvents(events)).toEqual(["status@6", "released #1@7", "acquired #2@9"]);
  });

  it("starts again after watchEnded, under a new watch id, with a fresh status; the old id is heard no more", async () => {
    const pool = new FakePool();
    const events: WatchEvent[] = [];
    const starting = start(pool, events);
    const first = await sentRequest(pool.current);
    first.answer({ kind: "ok", result: { index: 4, status: FREE } });
    await starting;
    const oldId = watchIdOf(first);
    pool.push({ push: "watchEnded", watchId: oldId, name: NAME, reason: "snapshot" });
    const second = await sentRequest(pool.current, 2);
    const newId = watchIdOf(second);
    expect(newId).not.toBe(oldId);
    second.answer({ kind: "ok", result: { index: 20, status: FREE } });
    for (let turn = 0; turn < 100 && events.length < 2; turn++) await new Promise((resolve) => setImmediate(resolve));
    pool.push(change(oldId, 21, "acquired", 8));
    pool.push(change(newId, 22, "acquired", 9));
    expect(describeEvents(events)).toEqual(["status@4", "status@20", "acquired #9@22"]);
  });

  it("retries on another connection when its connection closes during the start, and starts once", async () => {
    const pool = new FakePool();
    const events: WatchEvent[] = [];
    const starting = start(pool, events);
    const first = await sentRequest(pool.current);
    const closed = pool.closeCurrent();
    first.answer({ kind: "unknown", reason: "connection closed" });
    const second = await sentRequest(pool.current);
    second.answer({ kind: "ok", result: { index: 3, status: FREE } });
    await starting;
    expect(closed.sent).toHaveLength(1);
    expect(pool.current.sent).toHaveLength(1);
    expect(describeEvents(events)).toEqual(["status@3"]);
    expect(pool.routedWatches()).toBe(1);
  });

  it("starts again when its connection closes after the start", async () => {
    const pool = new FakePool();
    const events: WatchEvent[] = [];
    const starting = start(pool, events);
    (await sentRequest(pool.current)).answer({ kind: "ok", result: { index: 2, status: FREE } });
    await starting;
    pool.closeCurrent();
    (await sentRequest(pool.current)).answer({ kind: "ok", result: { index: 12, status: FREE } });
    for (let turn = 0; turn < 100 && events.length < 2; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(describeEvents(events)).toEqual(["status@2", "status@12"]);
  });

  it("refuses at once what retrying cannot fix, and leaves no watch routed", async () => {
    const pool = new FakePool();
    const starting = start(pool, []);
    (await sentRequest(pool.current)).answer({ kind: "error", error: { code: "INVALID_ARGUMENT", message: "a node of region eu-west cannot watch us-east:x" } });
    await expect(starting).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    expect(pool.routedWatches()).toBe(0);
  });

  it("sends unwatch on close and delivers nothing after", async () => {
    const pool = new FakePool();
    const events: WatchEvent[] = [];
    const starting = start(pool, events);
    const sent = await sentRequest(pool.current);
    sent.answer({ kind: "ok", result: { index: 1, status: FREE } });
    const watch = await starting;
    // close() does not wait for the node's answer, which never comes here.
    await watch.close();
    const unwatch = await sentRequest(pool.current, 2);
    expect(unwatch.body).toEqual({ op: "unwatch", watchId: watchIdOf(sent) });
    pool.push(change(watchIdOf(sent), 2, "acquired", 1));
    expect(describeEvents(events)).toEqual(["status@1"]);
    expect(pool.routedWatches()).toBe(0);
  });
});
