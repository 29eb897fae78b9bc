// Recovery refuses damaged data instead of guessing. A flipped byte in any record (entry,
// hard state, snapshot metadata or chunk, identity, version) on LevelDB or in memory, and
// records that decode fine but contradict each other (a hole, a stale entry, a snapshot
// outside the log, a commit beyond the log), all stop open() with a StorageCorruptionError
// naming the record. A directory that belongs to another node is refused by identity.

import { asIndex, asTerm } from "@geolock/raft";
import fc from "fast-check";
import { Level } from "level";
import { describe, expect, it } from "vitest";
import {
  DurableLog,
  IdentityMismatchError,
  MemoryDisk,
  MemoryDurableLog,
  StorageCorruptionError,
  UnsupportedFormatError,
} from "../src/index.js";
import type { NodeLog } from "../src/index.js";
import {
  chunkKey,
  entryKey,
  HARD_STATE_KEY,
  keyHex,
  LOG_START_KEY,
  SNAPSHOT_META_KEY,
  VERSION_KEY,
} from "../src/keys.js";
import { encodeEntry, encodeHardState, encodeLogStart, encodeVersion, frame } from "../src/records.js";
import { bytes, CONF, entries, entry, hard, IDENTITY, snapshotAt, withTempDir } from "./helpers.js";

const OPTIONS = { initialConfState: CONF, snapshotChunkBytes: 8 };

/** Entries 1..10 in term 2, commit 8, a 20-byte snapshot at 6 (3 chunks), compacted to 4. */
async function fill(log: NodeLog): Promise<void> {
  await log.persist({ entries: entries(1, 10, 2), hardState: hard(2, 1, 8) });
  await log.saveSnapshot(snapshotAt(6, 2, bytes(20, 6)));
  await log.compact(asIndex(6), 2);
}

async function corruptLevel(dir: string, key: Uint8Array, damage: (value: Uint8Array) => Uint8Array): Promise<void> {
  const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: "view", valueEncoding: "view" });
  await db.open();
  try {
    const value = await db.get(key);
    if (value === undefined) throw new Error(`test: no record at ${keyHex(key)}`);
    await db.put(key, damage(value));
  } finally {
    await db.close();
  }
}

function flipByte(position: number): (value: Uint8Array) => Uint8Array {
  return (value) => {
    const out = new Uint8Array(value);
    const at = position < 0 ? out.length + position : position;
    out[at] = (out[at] ?? 0) ^ 0x40;
    return out;
  };
}

async function expectCorruption(open: Promise<NodeLog>, record: string, reason: RegExp): Promise<StorageCorruptionError> {
  const error: unknown = await open.then(
    async (log) => {
      await log.close();
      return null;
    },
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(StorageCorruptionError);
  const corruption = error as StorageCorruptionError;
  expect(corruption.record).toBe(record);
  expect(corruption.reason).toMatch(reason);
  expect(corruption.message).toContain(record);
  return corruption;
}

describe("a flipped byte on LevelDB", () => {
  const cases: readonly { name: string; key: Uint8Array; record: string; position: number }[] = [
    { name: "an entry's payload", key: entryKey(7), record: "entry 7", position: -1 },
    { name: "an entry's checksum", key: entryKey(5), record: "entry 5", position: 0 },
    { name: "the hard state", key: HARD_STATE_KEY, record: "hard state", position: -1 },
    { name: "the snapshot metadata", key: SNAPSHOT_META_KEY, record: "snapshot metadata", position: 6 },
    { name: "a snapshot chunk", key: chunkKey(1), record: "snapshot chunk 1", position: -2 },
    { name: "the log start", key: LOG_START_KEY, record: "log start", position: -1 },
  ];
  for (const { name, key, record, position } of cases) {
    it(`in ${name} stops open with an error naming ${record}`, async () => {
      await withTempDir(async (dir) => {
        const log = await DurableLog.open(dir, IDENTITY, OPTIONS);
        await fill(log);
        await log.close();
        await corruptLevel(dir, key, flipByte(position));
        const error = await expectCorruption(DurableLog.open(dir, IDENTITY, OPTIONS), record, /checksum mismatch/);
        expect(error.keyHex).toBe(keyHex(key));
        if (record.startsWith("entry")) expect(error.index).toBe(Number(record.split(" ")[1]));
      });
    });
  }

  it("after the damage is repaired, the same directory opens again", async () => {
    await withTempDir(async (dir) => {
      const log = await DurableLog.open(dir, IDENTITY, OPTIONS);
      await fill(log);
      await log.close();
      await corruptLevel(dir, entryKey(7), flipByte(-1));
      await expectCorruption(DurableLog.open(dir, IDENTITY, OPTIONS), "entry 7", /checksum/);
      await corruptLevel(dir, entryKey(7), flipByte(-1));
      const reopened = await DurableLog.open(dir, IDENTITY, OPTIONS);
      expect(reopened.view.lastIndex()).toBe(10);
      await reopened.close();
    });
  });
});

describe("identity and format", () => {
  it("refuses a LevelDB directory that belongs to another node, naming both", async () => {
    await withTempDir(async (dir) => {
      const log = await DurableLog.open(dir, IDENTITY, OPTIONS);
      await log.close();
      const other = { ...IDENTITY, nodeId: 2 };
      const error: unknown = await DurableLog.open(dir, other, OPTIONS).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(IdentityMismatchError);
      const mismatch = error as IdentityMismatchError;
      expect(mismatch.found).toEqual(IDENTITY);
      expect(mismatch.expected).toEqual(other);
      expect(mismatch.message).toContain("node 1");
      expect(mismatch.message).toContain("node 2");
      // The refused open released the directory: its owner can still open it.
      const owner = await DurableLog.open(dir, IDENTITY, OPTIONS);
      await owner.close();
    });
  });

  it("refuses another cluster's or region's directory", async () => {
    const disk = new MemoryDisk();
    await (await MemoryDurableLog.open(disk, IDENTITY, OPTIONS)).close();
    for (const other of [{ ...IDENTITY, clusterId: "other" }, { ...IDENTITY, region: "us-east" }]) {
      await expect(MemoryDurableLog.open(disk, other, OPTIONS)).rejects.toBeInstanceOf(IdentityMismatchError);
    }
  });

  it("refuses a format version it does not know", async () => {
    const disk = new MemoryDisk();
    await (await MemoryDurableLog.open(disk, IDENTITY, OPTIONS)).close();
    disk.overwrite(VERSION_KEY, encodeVersion(VERSION_KEY, 99));
    await expect(MemoryDurableLog.open(disk, IDENTITY, OPTIONS)).rejects.toBeInstanceOf(UnsupportedFormatError);
  });

  it("refuses a database that holds records but no version", async () => {
    const disk = new MemoryDisk();
    disk.overwrite(new TextEncoder().encode("someone-else"), new Uint8Array([1, 2, 3]));
    await expectCorruption(MemoryDurableLog.open(disk, IDENTITY, OPTIONS), "format version", /missing/);
  });
});

describe("records that decode but contradict each other", () => {
  async function filledDisk(): Promise<MemoryDisk> {
    const disk = new MemoryDisk();
    const log = await MemoryDurableLog.open(disk, IDENTITY, OPTIONS);
    await fill(log);
    await log.close();
    return disk;
  }

  it("a hole in the log names the entry after it", async () => {
    const disk = await filledDisk();
    disk.overwrite(entryKey(8), undefined);
    await expectCorruption(MemoryDurableLog.open(disk, IDENTITY, OPTIONS), "entry 9", /hole: entry 8 is missing/);
  });

  it("a stale entry below the log start is not silently ignored", async () => {
    const disk = await filledDisk();
    disk.overwrite(entryKey(2), encodeEntry(entryKey(2), entry(2, 2)));
    await expectCorruption(MemoryDurableLog.open(disk, IDENTITY, OPTIONS), "entry 2", /stale/);
  });

  it("a term that goes down along the log", async () => {
    const disk = await filledDisk();
    disk.overwrite(entryKey(10), encodeEntry(entryKey(10), entry(10, 1)));
    await expectCorruption(MemoryDurableLog.open(disk, IDENTITY, OPTIONS), "entry 10", /term 1 is lower than term 2/);
  });

  it("a commit beyond the last index", async () => {
    const disk = await filledDisk();
    disk.overwrite(HARD_STATE_KEY, encodeHardState(HARD_STATE_KEY, hard(2, 1, 11)));
    await expectCorruption(MemoryDurableLog.open(disk, IDENTITY, OPTIONS), "hard state", /commit 11 is beyond the last index 10/);
  });

  it("a hard state term below the last entry's term", async () => {
    const disk = await filledDisk();
    disk.overwrite(HARD_STATE_KEY, encodeHardState(HARD_STATE_KEY, hard(1, 1, 8)));
    await expectCorruption(MemoryDurableLog.open(disk, IDENTITY, OPTIONS), "hard state", /term 1 is below the last entry's term 2/);
  });

  it("a log start beyond the snapshot leaves compacted entries uncovered", async () => {
    const disk = await filledDisk();
    for (let index = 5; index <= 7; index++) disk.overwrite(entryKey(index), undefined);
    disk.overwrite(LOG_START_KEY, encodeLogStart(LOG_START_KEY, { index: asIndex(7), term: asTerm(2) }));
    await expectCorruption(MemoryDurableLog.open(disk, IDENTITY, OPTIONS), "snapshot metadata", /below the log start 7/);
  });

  it("a missing snapshot chunk", async () => {
    const disk = await filledDisk();
    disk.overwrite(chunkKey(2), undefined);
    await expectCorruption(MemoryDurableLog.open(disk, IDENTITY, OPTIONS), "snapshot chunk 2", /missing/);
  });

  it("a stale snapshot chunk beyond the chunk count", async () => {
    const disk = await filledDisk();
    disk.overwrite(chunkKey(3), frame(chunkKey(3), new Uint8Array([1])));
    await expectCorruption(MemoryDurableLog.open(disk, IDENTITY, OPTIONS), "snapshot chunk 3", /stale/);
  });

  it("a payload with a valid checksum that is not MessagePack", async () => {
    const disk = await filledDisk();
    disk.overwrite(entryKey(9), frame(entryKey(9), new Uint8Array([0x92, 0x01])));
    await expectCorruption(MemoryDurableLog.open(disk, IDENTITY, OPTIONS), "entry 9", /undecodable MessagePack/);
  });

  it("a record moved under another key fails its checksum", async () => {
    const disk = await filledDisk();
    disk.overwrite(entryKey(9), disk.read(entryKey(10)));
    await expectCorruption(MemoryDurableLog.open(disk, IDENTITY, OPTIONS), "entry 9", /checksum/);
  });

  it("a missing hard state", async () => {
    const disk = await filledDisk();
    disk.overwrite(HARD_STATE_KEY, undefined);
    await expectCorruption(MemoryDurableLog.open(disk, IDENTITY, OPTIONS), "hard state", /missing/);
  });

  it("a key geolock never writes", async () => {
    const disk = await filledDisk();
    disk.overwrite(new TextEncoder().encode("x/unknown"), new Uint8Array([0]));
    await expectCorruption(MemoryDurableLog.open(disk, IDENTITY, OPTIONS), "unknown record", /unknown key/);
  });
});

describe("any single damaged byte", () => {
  it("in any record of the in-memory twin stops recovery and names that record", async () => {
    const disk = await (async () => {
      const fresh = new MemoryDisk();
      const log = await MemoryDurableLog.open(fresh, IDENTITY, OPTIONS);
      await fill(log);
      await log.close();
      return fresh;
    })();
    const keys = disk.keys();
    await fc.assert(
      fc.asyncProperty(fc.nat(keys.length - 1), fc.nat(10_000), fc.integer({ min: 1, max: 255 }), async (which, at, mask) => {
        const key = keys[which] as Uint8Array;
        const original = disk.read(key) as Uint8Array;
        const damaged = new Uint8Array(original);
        const position = at % damaged.length;
        damaged[position] = (damaged[position] ?? 0) ^ mask;
        disk.overwrite(key, damaged);
        try {
          const error: unknown = await MemoryDurableLog.open(disk, IDENTITY, OPTIONS).catch((caught: unknown) => caught);
          expect(error).toBeInstanceOf(StorageCorruptionError);
          expect((error as StorageCorruptionError).keyHex).toBe(keyHex(key));
        } finally {
          disk.overwrite(key, original);
        }
      }),
      { numRuns: 300 },
    );
    // The undamaged disk still opens: the property did not pass because of lasting damage.
    const log = await MemoryDurableLog.open(disk, IDENTITY, OPTIONS);
    expect(log.view.lastIndex()).toBe(10);
    await log.close();
  });
});
