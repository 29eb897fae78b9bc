// Group commit: calls made while a batch is being written share the next batch and its one
// fsync; every caller resolves in call order, and only once the batch holding its data has
// been written (checked against a store that records which writes completed), and all of it
// is there after a reopen.

import { asIndex } from "@geolock/raft";
import { describe, expect, it } from "vitest";
import { DurableLog, LevelRecordStore } from "../src/index.js";
import type { RecordStore, StoreOp } from "../src/index.js";
import { entryKey, keyHex } from "../src/keys.js";
import { CONF, entry, hard, IDENTITY, payload, withTempDir } from "./helpers.js";

/** Wraps a store: remembers the keys of completed writes, and can hold writes until released. */
class ObservedStore implements RecordStore {
  readonly durableKeys = new Set<string>();
  /** The ops of every write handed to this store, completed or not, in order. */
  readonly startedWrites: (readonly StoreOp[])[] = [];
  writes = 0;
  /** The sync flag of every completed write, in order. */
  readonly syncFlags: boolean[] = [];
  private held: (() => void)[] = [];
  holding = false;

  constructor(private readonly inner: RecordStore) {}

  async write(ops: readonly StoreOp[], sync = true): Promise<void> {
    this.startedWrites.push(ops);
    if (this.holding) await new Promise<void>((resolve) => this.held.push(resolve));
    await this.inner.write(ops, sync);
    this.writes += 1;
    this.syncFlags.push(sync);
    for (const op of ops) if (op.type === "put") this.durableKeys.add(keyHex(op.key));
  }

  release(): void {
    this.holding = false;
    for (const go of this.held.splice(0)) go();
  }

  get(key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.inner.get(key);
  }

  scan(): AsyncIterable<readonly [Uint8Array, Uint8Array]> {
    return this.inner.scan();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

async function expectAllDurable(dir: string, last: number): Promise<void> {
  const reopened = await DurableLog.open(dir, IDENTITY);
  try {
    expect(reopened.view.lastIndex()).toBe(last);
    expect(reopened.view.hardState().commit).toBe(last);
    const all = reopened.view.entries(asIndex(1), asIndex(last + 1), Number.MAX_SAFE_INTEGER);
    all.forEach((found, i) => expect(found.data).toEqual(payload(i + 1)));
  } finally {
    await reopened.close();
  }
}

describe("group commit", () => {
  it("coalesces every call made during an in-flight write into the next batch", async () => {
    await withTempDir(async (dir) => {
      const store = new ObservedStore(await LevelRecordStore.open(dir));
      const log = await DurableLog.openStore(store, IDENTITY, { initialConfState: CONF });
      const writesAtStart = store.writes;
      store.holding = true;
      const calls = 200;
      const resolved: number[] = [];
      const promises: Promise<void>[] = [];
      for (let index = 1; index <= calls; index++) {
        const call = log.persist({ entries: [entry(index, 1)], hardState: hard(1, 1, index) });
        promises.push(
          call.then(() => {
            expect(store.durableKeys.has(keyHex(entryKey(index)))).toBe(true);
            expect(log.view.lastIndex()).toBeGreaterThanOrEqual(index);
            resolved.push(index);
          }),
        );
        // Let the first call start its write, so the rest arrive while it is in flight.
        if (index === 1) await new Promise((resolve) => setImmediate(resolve));
      }
      await new Promise((resolve) => setImmediate(resolve));
      expect(resolved).toEqual([]);
      expect(log.view.lastIndex()).toBe(0);
      store.release();
      await Promise.all(promises);
      expect(resolved).toEqual(Array.from({ length: calls }, (_, i) => i + 1));
      expect(store.writes - writesAtStart).toBe(2);
      expect(log.stats()).toEqual({ syncBatches: 2, unsyncedBatches: 0, syncedCalls: calls });
      await log.close();
      await expectAllDurable(dir, calls);
    });
  });

  it("startWriting hands the calls queued so far to the store at once; a call after it waits for the next batch", async () => {
    await withTempDir(async (dir) => {
      const store = new ObservedStore(await LevelRecordStore.open(dir));
      const log = await DurableLog.openStore(store, IDENTITY, { initialConfState: CONF });
      const before = store.startedWrites.length;
      const first = log.persist({ entries: [entry(1, 1)], hardState: hard(1, 1, 0) });
      const second = log.persist({ entries: [entry(2, 1)], hardState: hard(1, 1, 0) });
      // Left alone, the write would start on the next microtask.
      expect(store.startedWrites.length).toBe(before);
      log.startWriting();
      expect(store.startedWrites.length).toBe(before + 1);
      const keysOf = (ops: readonly StoreOp[] | undefined) => (ops ?? []).filter((op) => op.type === "put").map((op) => keyHex(op.key));
      expect(keysOf(store.startedWrites[before])).toEqual(expect.arrayContaining([keyHex(entryKey(1)), keyHex(entryKey(2))]));
      const third = log.persist({ entries: [entry(3, 1)], hardState: hard(1, 1, 0) });
      log.startWriting();
      // One write at a time: the third call waits for the one in flight.
      expect(store.startedWrites.length).toBe(before + 1);
      await Promise.all([first, second, third]);
      expect(store.startedWrites.length).toBe(before + 2);
      expect(keysOf(store.startedWrites[before + 1])).toContain(keyHex(entryKey(3)));
      log.startWriting();
      expect(store.startedWrites.length).toBe(before + 2);
      await log.close();
      const reopened = await DurableLog.open(dir, IDENTITY);
      expect(reopened.view.lastIndex()).toBe(3);
      await reopened.close();
    });
  });

  it("concurrent writers each waiting for their own call share fsyncs", async () => {
    await withTempDir(async (dir) => {
      const store = new ObservedStore(await LevelRecordStore.open(dir));
      const log = await DurableLog.openStore(store, IDENTITY, { initialConfState: CONF });
      const writers = 8;
      const callsPerWriter = 25;
      let next = 1;
      const writer = async (): Promise<void> => {
        for (let call = 0; call < callsPerWriter; call++) {
          const index = next++;
          await log.persist({ entries: [entry(index, 1)], hardState: hard(1, 1, index) });
          expect(store.durableKeys.has(keyHex(entryKey(index)))).toBe(true);
        }
      };
      await Promise.all(Array.from({ length: writers }, writer));
      const calls = writers * callsPerWriter;
      const { syncBatches, syncedCalls } = log.stats();
      expect(syncedCalls).toBe(calls);
      // Writers resume together after each batch, so each batch carries about one call per writer.
      expect(syncBatches).toBeLessThanOrEqual(calls / 2);
      await log.close();
      await expectAllDurable(dir, calls);
    });
  });

  it("bounds a batch by calls: beyond batchCallsMax the rest waits for the next fsync", async () => {
    await withTempDir(async (dir) => {
      const store = new ObservedStore(await LevelRecordStore.open(dir));
      const log = await DurableLog.openStore(store, IDENTITY, { initialConfState: CONF, batchCallsMax: 10 });
      const promises: Promise<void>[] = [];
      for (let index = 1; index <= 35; index++) promises.push(log.persist({ entries: [entry(index, 1)], hardState: hard(1, 1, index) }));
      await Promise.all(promises);
      expect(log.stats()).toEqual({ syncBatches: 4, unsyncedBatches: 0, syncedCalls: 35 });
      await log.close();
      await expectAllDurable(dir, 35);
    });
  });

  it("writes a commit-only hard state without an fsync, unless it shares a batch with one that needs it", async () => {
    await withTempDir(async (dir) => {
      const observed = new ObservedStore(await LevelRecordStore.open(dir));
      const log = await DurableLog.openStore(observed, IDENTITY, { initialConfState: CONF });
      await log.persist({ hardState: hard(1, 0, 0), entries: [entry(1, 1), entry(2, 1)] });
      await log.persist({ hardState: hard(1, 0, 1), entries: [] }, { sync: false });
      expect(observed.syncFlags.slice(-1)).toEqual([false]);
      expect(log.stats().unsyncedBatches).toBe(1);
      const writesBefore = observed.writes;
      // Three calls of one turn share one batch, synced because two of them need it.
      const first = log.persist({ hardState: hard(1, 0, 1), entries: [entry(3, 1)] });
      const unsynced = log.persist({ hardState: hard(1, 0, 2), entries: [] }, { sync: false });
      const synced = log.persist({ entries: [entry(4, 1)] });
      await Promise.all([first, unsynced, synced]);
      expect(observed.writes - writesBefore).toBe(1);
      expect(observed.syncFlags.slice(-1)).toEqual([true]);
      expect(log.stats().unsyncedBatches).toBe(1);
      expect(log.view.hardState().commit).toBe(2);
      await log.close();
    });
  });
});
