// The durable log's contract, one behaviour at a time, mostly on the in-memory twin (same
// code as the LevelDB log): a fresh directory, what a restart recovers, the updates it
// refuses (and that it then refuses everything, because its staged state can no longer be
// trusted), write failures, close, the pending-call bound, and the directory lock.

import { asIndex } from "@geolock/raft";
import { describe, expect, it } from "vitest";
import {
  DurableLog,
  MemoryDisk,
  MemoryDurableLog,
  StorageClosedError,
  StorageFailedError,
  StorageOverloadedError,
} from "../src/index.js";
import { chunkKey, entryKey, keyHex } from "../src/keys.js";
import { bytes, CONF, entries, entry, hard, IDENTITY, snapshotAt, withTempDir } from "./helpers.js";

describe("opening", () => {
  it("initialises an empty directory with the initial membership and recovers it as not fresh", async () => {
    await withTempDir(async (dir) => {
      const log = await DurableLog.open(dir, IDENTITY, { initialConfState: CONF });
      expect(log.recovered).toMatchObject({ fresh: true, firstIndex: 1, lastIndex: 0, hardState: hard(0, 0, 0) });
      expect(log.view.initialState().confState).toEqual(CONF);
      await log.close();
      const again = await DurableLog.open(dir, IDENTITY, { initialConfState: { voters: [], learners: [] } });
      expect(again.recovered.fresh).toBe(false);
      expect(again.view.initialState().confState).toEqual(CONF);
      await again.close();
    });
  });

  it("hands the server what it needs to restart: hard state, snapshot, first and last index", async () => {
    const disk = new MemoryDisk();
    const log = await MemoryDurableLog.open(disk, IDENTITY, { initialConfState: CONF });
    await log.persist({ entries: entries(1, 12, 3), hardState: hard(3, 2, 9) });
    await log.saveSnapshot(snapshotAt(8, 3, bytes(5, 1)));
    await log.compact(asIndex(8), 3);
    await log.close();
    const again = await MemoryDurableLog.open(disk, IDENTITY);
    expect(again.recovered).toEqual({
      fresh: false,
      hardState: hard(3, 2, 9),
      snapshot: snapshotAt(8, 3, bytes(5, 1)),
      firstIndex: 6,
      lastIndex: 12,
    });
    expect(again.view.term(asIndex(5))).toBe(3);
    await again.close();
  });

  it("refuses a second opener of the same LevelDB directory while the first holds it", async () => {
    await withTempDir(async (dir) => {
      const log = await DurableLog.open(dir, IDENTITY);
      await expect(DurableLog.open(dir, IDENTITY)).rejects.toThrow();
      await log.close();
    });
  });

  it("refuses an invalid identity before touching the disk", async () => {
    const disk = new MemoryDisk();
    await expect(MemoryDurableLog.open(disk, { ...IDENTITY, region: "" })).rejects.toThrow(/region/);
    expect(disk.size).toBe(0);
  });
});

describe("writing", () => {
  it("deletes the keys of a replaced suffix beyond the new last index", async () => {
    const disk = new MemoryDisk();
    const log = await MemoryDurableLog.open(disk, IDENTITY);
    await log.persist({ entries: entries(1, 8, 1), hardState: hard(1, 1, 3) });
    await log.persist({ entries: entries(5, 6, 2), hardState: hard(2, 0, 3) });
    expect(disk.read(entryKey(6))).toBeDefined();
    expect(disk.read(entryKey(7))).toBeUndefined();
    expect(disk.read(entryKey(8))).toBeUndefined();
    expect(log.view.lastIndex()).toBe(6);
    expect(log.view.term(asIndex(5))).toBe(2);
    await log.close();
  });

  it("deletes the chunks of a larger previous snapshot", async () => {
    const disk = new MemoryDisk();
    const log = await MemoryDurableLog.open(disk, IDENTITY, { snapshotChunkBytes: 4 });
    await log.persist({ entries: entries(1, 4, 1), hardState: hard(1, 1, 4) });
    await log.saveSnapshot(snapshotAt(2, 1, bytes(16, 1)));
    expect(disk.read(chunkKey(3))).toBeDefined();
    await log.saveSnapshot(snapshotAt(3, 1, bytes(5, 2)));
    expect(disk.read(chunkKey(1))).toBeDefined();
    expect(disk.read(chunkKey(2))).toBeUndefined();
    expect(disk.read(chunkKey(3))).toBeUndefined();
    await log.close();
  });

  it("compacts only up to index - keepTail and keeps the compacted term for the core", async () => {
    const disk = new MemoryDisk();
    const log = await MemoryDurableLog.open(disk, IDENTITY);
    await log.persist({ entries: [...entries(1, 5, 1), ...entries(6, 10, 2)], hardState: hard(2, 1, 10) });
    await log.saveSnapshot(snapshotAt(9, 2, bytes(3, 3)));
    await log.compact(asIndex(9), 4);
    expect(log.view.firstIndex()).toBe(6);
    expect(log.view.term(asIndex(5))).toBe(1);
    expect(disk.keys().map(keyHex)).not.toContain(keyHex(entryKey(5)));
    await log.compact(asIndex(9), 4);
    expect(log.view.firstIndex()).toBe(6);
    await log.close();
  });
});

describe("a commit index without a write", () => {
  it("advances the commit index in the view without writing, and a snapshot makes it durable", async () => {
    const disk = new MemoryDisk();
    const log = await MemoryDurableLog.open(disk, IDENTITY, { initialConfState: CONF });
    await log.persist({ hardState: hard(1, 1, 0), entries: entries(1, 5, 1) });
    const batches = disk.writeBatches;
    log.advanceCommit(hard(1, 1, 4));
    expect(log.view.hardState().commit).toBe(4);
    expect(disk.writeBatches).toBe(batches);
    await log.saveSnapshot(snapshotAt(4, 1, bytes(10, 1)));
    await log.close();
    const reopened = await MemoryDurableLog.open(disk, IDENTITY);
    expect(reopened.view.hardState().commit).toBe(4);
    expect(reopened.view.snapshot().metadata.index).toBe(4);
    await reopened.close();
  });

  it("refuses to move the term or vote, to go back, or to pass the last entry", async () => {
    const log = await MemoryDurableLog.open(new MemoryDisk(), IDENTITY, { initialConfState: CONF });
    await log.persist({ hardState: hard(2, 1, 2), entries: entries(1, 3, 2) });
    expect(() => log.advanceCommit(hard(3, 1, 3))).toThrow(/may only move the commit index/);
    expect(() => log.advanceCommit(hard(2, 2, 3))).toThrow(/may only move the commit index/);
    expect(() => log.advanceCommit(hard(2, 1, 1))).toThrow(/outside/);
    expect(() => log.advanceCommit(hard(2, 1, 4))).toThrow(/outside/);
    expect(log.view.hardState()).toEqual(hard(2, 1, 2));
    await log.close();
  });

  it("refuses while a write that sets the hard state is queued, whose mirror would move the commit back", async () => {
    const log = await MemoryDurableLog.open(new MemoryDisk(), IDENTITY, { initialConfState: CONF });
    await log.persist({ hardState: hard(1, 1, 0), entries: entries(1, 3, 1) });
    const pending = log.persist({ hardState: hard(1, 1, 1), entries: [] });
    expect(() => log.advanceCommit(hard(1, 1, 2))).toThrow(/queued/);
    await pending;
    log.advanceCommit(hard(1, 1, 2));
    expect(log.view.hardState().commit).toBe(2);
    await log.close();
  });
});

describe("refusals", () => {
  it("refuses to overwrite a committed entry and then refuses every later call", async () => {
    const log = await MemoryDurableLog.open(new MemoryDisk(), IDENTITY);
    await log.persist({ entries: entries(1, 5, 1), hardState: hard(1, 1, 4) });
    await expect(log.persist({ entries: [entry(4, 2)], hardState: hard(2, 0, 4) })).rejects.toThrow(/entry 4 is committed/);
    await expect(log.persist({ entries: [entry(6, 1)] })).rejects.toBeInstanceOf(StorageFailedError);
    expect(log.view.lastIndex()).toBe(5);
    await log.close();
  });

  it("accepts a committed entry appended again unchanged", async () => {
    const log = await MemoryDurableLog.open(new MemoryDisk(), IDENTITY);
    await log.persist({ entries: entries(1, 5, 1), hardState: hard(1, 1, 4) });
    await log.persist({ entries: entries(4, 7, 1) });
    expect(log.view.lastIndex()).toBe(7);
    await log.close();
  });

  it("refuses a commit index beyond the last entry", async () => {
    const log = await MemoryDurableLog.open(new MemoryDisk(), IDENTITY);
    await expect(log.persist({ entries: entries(1, 2, 1), hardState: hard(1, 1, 3) })).rejects.toThrow(/commit 3 is beyond the last index 2/);
    await log.close();
  });

  it("refuses a snapshot of entries that are not committed", async () => {
    const log = await MemoryDurableLog.open(new MemoryDisk(), IDENTITY);
    await log.persist({ entries: entries(1, 5, 1), hardState: hard(1, 1, 2) });
    await expect(log.saveSnapshot(snapshotAt(3, 1, bytes(1, 1)))).rejects.toThrow(/beyond the commit index 2/);
    await log.close();
  });

  it("refuses a snapshot whose term disagrees with the log", async () => {
    const log = await MemoryDurableLog.open(new MemoryDisk(), IDENTITY);
    await log.persist({ entries: entries(1, 5, 1), hardState: hard(1, 1, 5) });
    await expect(log.saveSnapshot(snapshotAt(3, 2, bytes(1, 1)))).rejects.toThrow(/term 2 at index 3/);
    await log.close();
  });

  it("refuses a compaction beyond the snapshot", async () => {
    const log = await MemoryDurableLog.open(new MemoryDisk(), IDENTITY);
    await log.persist({ entries: entries(1, 5, 1), hardState: hard(1, 1, 5) });
    await expect(log.compact(asIndex(3), 0)).rejects.toThrow(/beyond the snapshot index 0/);
    await log.close();
  });

  it("refuses a malformed entry before anything is written", async () => {
    const disk = new MemoryDisk();
    const log = await MemoryDurableLog.open(disk, IDENTITY);
    const batchesBefore = disk.writeBatches;
    await expect(log.persist({ entries: [entry(1, 0)] })).rejects.toThrow(/entry term 0/);
    expect(disk.writeBatches).toBe(batchesBefore);
    await log.close();
  });
});

describe("failures and lifecycle", () => {
  it("a failed write rejects every waiting caller, changes nothing visible, and refuses later calls", async () => {
    const disk = new MemoryDisk();
    const log = await MemoryDurableLog.open(disk, IDENTITY);
    await log.persist({ entries: entries(1, 2, 1), hardState: hard(1, 1, 2) });
    disk.failWrites = new Error("EIO: injected");
    const first = log.persist({ entries: [entry(3, 1)] });
    const second = log.persist({ entries: [entry(4, 1)] });
    await expect(first).rejects.toBeInstanceOf(StorageFailedError);
    await expect(second).rejects.toThrow(/EIO: injected/);
    expect(log.view.lastIndex()).toBe(2);
    disk.failWrites = null;
    await expect(log.persist({ entries: [entry(3, 1)] })).rejects.toBeInstanceOf(StorageFailedError);
    await log.close();
    const again = await MemoryDurableLog.open(disk, IDENTITY);
    expect(again.view.lastIndex()).toBe(2);
    await again.close();
  });

  it("close waits for queued calls to become durable, then refuses new ones", async () => {
    const disk = new MemoryDisk();
    const log = await MemoryDurableLog.open(disk, IDENTITY);
    const pending = log.persist({ entries: entries(1, 3, 1), hardState: hard(1, 1, 3) });
    const closed = log.close();
    await expect(log.persist({ entries: [entry(4, 1)] })).rejects.toBeInstanceOf(StorageClosedError);
    await pending;
    await closed;
    const again = await MemoryDurableLog.open(disk, IDENTITY);
    expect(again.view.lastIndex()).toBe(3);
    await again.close();
  });

  it("refuses calls beyond pendingCallsMax without failing the log", async () => {
    const log = await MemoryDurableLog.open(new MemoryDisk(), IDENTITY, { pendingCallsMax: 2 });
    const first = log.persist({ entries: [entry(1, 1)], hardState: hard(1, 1, 0) });
    const second = log.persist({ entries: [entry(2, 1)] });
    await expect(log.persist({ entries: [entry(3, 1)] })).rejects.toBeInstanceOf(StorageOverloadedError);
    await Promise.all([first, second]);
    await log.persist({ entries: [entry(3, 1)] });
    expect(log.view.lastIndex()).toBe(3);
    await log.close();
  });

  it("refuses a second opener of the same memory disk while the first holds it", async () => {
    const disk = new MemoryDisk();
    const log = await MemoryDurableLog.open(disk, IDENTITY);
    await expect(MemoryDurableLog.open(disk, IDENTITY)).rejects.toThrow(/already open/);
    await log.close();
  });
});
