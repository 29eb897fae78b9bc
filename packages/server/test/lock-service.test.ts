// LockService over a stub Raft node that commits every proposal at once: acquires answered
// "queued" stay parked until the state machine grants them, times them out, or ends their
// session, and each of those ends exactly the waits it concerns; watchers are told of every
// grant and release of their lock, in log order, once.

import { asIndex, asTerm, asNodeId, type Entry, type ProposeResult } from "@geolock/raft";
import type { ClientPush, MemoryTransport } from "@geolock/transport";
import { afterEach, describe, expect, it } from "vitest";
import type { LockService, LockServiceNode } from "../src/lock-service.js";
import type { RegionApplication } from "../src/region-application.js";
import { regionReplica } from "./region-replica.js";

/** Commits each proposal on the next turn, in proposal order. */
class CommitAtOnce implements LockServiceNode {
  private index = 0;
  constructor(private readonly app: RegionApplication) {}
  propose(data: Uint8Array): ProposeResult {
    this.index += 1;
    const entry: Entry = { index: asIndex(this.index), term: asTerm(1), kind: "normal", data };
    setImmediate(() => this.app.applyEntry(entry));
    return { ok: true, index: entry.index, term: entry.term };
  }
  /** As a region node's drain would: after the turn's requests have all been taken. */
  beforeNextReady(flush: () => void): void {
    queueMicrotask(flush);
  }
  linearizableRead(): Promise<void> {
    return Promise.resolve();
  }
}

let transports: MemoryTransport[] = [];
let services: LockService[] = [];

function service(): LockService {
  const { locks, app, transport } = regionReplica(100);
  transports.push(transport);
  locks.attach(new CommitAtOnce(app));
  locks.onLeadership("leader", asNodeId(1));
  services.push(locks);
  return locks;
}

afterEach(async () => {
  for (const s of services) s.stop();
  await Promise.all(transports.map((t) => t.close()));
  services = [];
  transports = [];
});

/** A client of the service: its own id and sequence numbers, one session. */
async function client(locks: LockService, clientId: string) {
  let seq = 0;
  const opened = await locks.submit({ type: "openSession", clientId, seq: ++seq, ttlMs: 60_000 });
  if (opened.type !== "sessionOpened") throw new Error(JSON.stringify(opened));
  const sessionId = opened.sessionId;
  return {
    acquire: (name: string, waitMs = 0) => locks.submit({ type: "acquire", clientId, seq: ++seq, sessionId, name, mode: "exclusive", waitMs, owner: clientId }),
    release: (name: string) => locks.submit({ type: "release", clientId, seq: ++seq, sessionId, name }),
    close: () => locks.submit({ type: "closeSession", clientId, seq: ++seq, sessionId }),
  };
}

/** Whether a promise has settled, after letting pending turns run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

describe("parked acquires", () => {
  it("end with TIMEOUT when their session withdraws the wait, leaving other sessions' waits parked", async () => {
    const locks = service();
    const [a, b, c] = [await client(locks, "a"), await client(locks, "b"), await client(locks, "c")];
    expect(await a.acquire("us-east:x")).toMatchObject({ type: "granted" });
    const bWaits = b.acquire("us-east:x", 60_000);
    const cWaits = c.acquire("us-east:x", 60_000);
    expect(await settled(bWaits)).toBe(false);
    expect(await b.release("us-east:x")).toMatchObject({ type: "waitCancelled" });
    await expect(bWaits).rejects.toMatchObject({ code: "TIMEOUT" });
    expect(await settled(cWaits)).toBe(false);
    await a.release("us-east:x");
    await expect(cWaits).resolves.toMatchObject({ type: "granted", name: "us-east:x" });
  });

  it("all end with SESSION_EXPIRED when their session closes, and only that session's", async () => {
    const locks = service();
    const [a, b, c] = [await client(locks, "a"), await client(locks, "b"), await client(locks, "c")];
    await a.acquire("us-east:x");
    await a.acquire("us-east:y");
    const bOnX = b.acquire("us-east:x", 60_000);
    const bOnY = b.acquire("us-east:y", 60_000);
    const cOnY = c.acquire("us-east:y", 60_000);
    expect(await settled(Promise.race([bOnX, bOnY, cOnY]))).toBe(false);
    expect(await b.close()).toMatchObject({ type: "sessionClosed" });
    await expect(bOnX).rejects.toMatchObject({ code: "SESSION_EXPIRED" });
    await expect(bOnY).rejects.toMatchObject({ code: "SESSION_EXPIRED" });
    expect(await settled(cOnY)).toBe(false);
    await a.release("us-east:y");
    await expect(cOnY).resolves.toMatchObject({ type: "granted", name: "us-east:y" });
  });
});

describe("watches", () => {
  /** A watch sink that keeps what it is pushed. */
  function sink() {
    const pushed: ClientPush[] = [];
    return { pushed, push: (message: ClientPush) => void pushed.push(message) };
  }

  /** "acquired b#2@7" for each lockChanged push: what changed, who, which token, at which index. */
  function changes(pushed: readonly ClientPush[]): string[] {
    return pushed.map((p) => (p.push === "lockChanged" ? `${p.change} ${p.owner}#${p.token}@${p.index}${p.change === "released" ? ` ${p.reason}` : ""}` : p.push));
  }

  it("starts with the status at an index, then pushes every grant and release after it in log order", async () => {
    const locks = service();
    const [a, b, c] = [await client(locks, "a"), await client(locks, "b"), await client(locks, "c")];
    await a.acquire("us-east:x");
    const watcher = sink();
    const started = await locks.watch(watcher, 7, "us-east:x");
    expect(started.status).toMatchObject({ name: "us-east:x", token: 1, holders: [{ owner: "a" }] });
    const bWaits = b.acquire("us-east:x", 60_000);
    await settled(bWaits);
    await a.release("us-east:x");
    await expect(bWaits).resolves.toMatchObject({ type: "granted", token: 2 });
    await b.close();
    await c.acquire("us-east:x");
    await c.acquire("us-east:other");
    const seen = changes(watcher.pushed);
    // The release and the grant to the waiter come from one command, so they share an index.
    expect(seen.map((s) => s.replace(/@\d+/, ""))).toEqual(["released a#1 released", "acquired b#2", "released b#2 closed", "acquired c#3"]);
    const indexes = watcher.pushed.map((p) => (p.push === "lockChanged" ? p.index : 0));
    expect(indexes.every((index) => index > started.index)).toBe(true);
    expect(indexes[0]).toBe(indexes[1]);
    expect([...indexes].sort((x, y) => x - y)).toEqual(indexes);
    expect(watcher.pushed.every((p) => p.push === "lockChanged" && p.watchId === 7 && p.name === "us-east:x")).toBe(true);
  });

  it("does not announce a retried acquire's repeated grant as a new one", async () => {
    const locks = service();
    const a = await client(locks, "a");
    const watcher = sink();
    await locks.watch(watcher, 1, "us-east:x");
    await a.acquire("us-east:x");
    // The same session asks again: the machine answers granted with the same token.
    expect(await a.acquire("us-east:x")).toMatchObject({ type: "granted", token: 1 });
    expect(changes(watcher.pushed).map((s) => s.replace(/@\d+/, ""))).toEqual(["acquired a#1"]);
  });

  it("does not announce a grant the dedup table replays to a retried acquire after the lock was freed", async () => {
    const locks = service();
    const opened = await locks.submit({ type: "openSession", clientId: "r", seq: 1, ttlMs: 60_000 });
    if (opened.type !== "sessionOpened") throw new Error(JSON.stringify(opened));
    const sessionId = opened.sessionId;
    const acquire = { type: "acquire", clientId: "r", seq: 2, sessionId, name: "us-east:x", mode: "exclusive", waitMs: 0, owner: "r" } as const;
    expect(await locks.submit(acquire)).toMatchObject({ type: "granted", token: 1 });
    await locks.submit({ type: "release", clientId: "r", seq: 3, sessionId, name: "us-east:x" });
    const watcher = sink();
    await locks.watch(watcher, 1, "us-east:x");
    // The retry gets its first answer again; nobody holds the lock.
    expect(await locks.submit(acquire)).toMatchObject({ type: "granted", token: 1 });
    expect(watcher.pushed).toEqual([]);
  });

  it("pushes nothing once unwatched, and ends every watch with watchEnded when a snapshot replaces the state", async () => {
    const locks = service();
    const a = await client(locks, "a");
    const [one, two] = [sink(), sink()];
    await locks.watch(one, 1, "us-east:x");
    await locks.watch(two, 2, "us-east:y");
    expect(locks.watches.unwatch(one, 1)).toBe(true);
    await a.acquire("us-east:x");
    expect(one.pushed).toEqual([]);
    locks.restore(locks.snapshot());
    expect(two.pushed).toEqual([{ push: "watchEnded", watchId: 2, name: "us-east:y", reason: expect.stringContaining("snapshot") }]);
    await a.release("us-east:x");
    await a.acquire("us-east:y");
    expect(two.pushed).toHaveLength(1);
    expect(locks.watches.size).toBe(0);
  });
});
