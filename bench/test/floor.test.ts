// The `floor` yardstick: its commit rule, and that its three replica processes answer every
// operation and end up with every operation on each replica's disk. Needs the build
// (bench/dist/floor-replica.js), as `npm test` makes it.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { decodePlain } from "@geolock/transport";
import { LevelRecordStore } from "@geolock/storage";
import { afterAll, describe, expect, it } from "vitest";
import { commitIndexOf } from "../src/floor-quorum.js";
import { FloorClient, startFloorCluster } from "../src/suites/floor.js";

const REPLICA_SCRIPT = fileURLToPath(new URL("../dist/floor-replica.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "geolock-bench-floor-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("commitIndexOf", () => {
  it("is the highest seq a majority has on disk", () => {
    expect(commitIndexOf([3, 1, 2])).toBe(2);
    expect(commitIndexOf([0, 7, 7])).toBe(7);
    expect(commitIndexOf([9, 0, 0])).toBe(0);
    expect(commitIndexOf([5, 4, 3, 2, 1])).toBe(3);
  });

  it("refuses an even number of replicas", () => {
    expect(() => commitIndexOf([1, 1])).toThrow(/odd/);
    expect(() => commitIndexOf([])).toThrow(/odd/);
  });
});

/** How many operations the batches in a replica's store carry ([seq, payloads] each). */
async function operationsOnDisk(data: string): Promise<number> {
  const store = await LevelRecordStore.open(data);
  let count = 0;
  try {
    for await (const [, value] of store.scan()) {
      const batch = decodePlain(value, 4);
      if (!batch.ok || !Array.isArray(batch.value) || !Array.isArray(batch.value[1])) throw new Error("a stored batch is [seq, payloads]");
      count += batch.value[1].length;
    }
  } finally {
    await store.close();
  }
  return count;
}

describe("the floor cluster", () => {
  it("answers every operation and writes every one to all three replicas", async () => {
    const cluster = await startFloorCluster(dir, REPLICA_SCRIPT);
    const workers = 8;
    const perWorker = 25;
    try {
      const client = await FloorClient.open(cluster.leaderPort);
      await Promise.all(Array.from({ length: workers }, async () => {
        for (let i = 0; i < perWorker; i++) await client.op();
      }));
      expect(client.unanswered).toBe(0);
      client.close();
    } finally {
      await cluster.stop();
    }
    // A follower may lag when the answer leaves, never by the end: each got every batch.
    for (const replica of ["leader", "follower-1", "follower-2"]) expect(await operationsOnDisk(join(dir, replica))).toBe(workers * perWorker);
  });
});
