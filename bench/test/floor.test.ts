// The `floor` yardstick: its commit rule; that its three replica processes answer every
// operation and end up with every operation on each replica's disk; that an answer waits
// for a follower's disk, not only the leader's; and that a malformed frame closes only the
// connection it came on. Needs the build (bench/dist/floor-replica.js), as `npm test` makes it.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { decodePlain } from "@geolock/transport";
import { LevelRecordStore } from "@geolock/storage";
import WebSocket from "ws";
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

  it("answers only once a follower has the operation on disk too, and a malformed frame closes only its own connection", async () => {
    const cluster = await startFloorCluster(join(dir, "quorum"), REPLICA_SCRIPT);
    const pids = cluster.followers.map((f) => f.child.pid as number);
    try {
      const client = await FloorClient.open(cluster.leaderPort);
      await client.op();
      // With both followers stopped only the leader's own write can finish: not a majority.
      for (const pid of pids) process.kill(pid, "SIGSTOP");
      let answered = false;
      const op = client.op().then(() => (answered = true));
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(answered).toBe(false);
      expect(client.unanswered).toBe(1);
      for (const pid of pids) process.kill(pid, "SIGCONT");
      await op;
      expect(answered).toBe(true);

      const hostile = new WebSocket(`ws://127.0.0.1:${cluster.leaderPort}/`);
      await new Promise((resolve, reject) => {
        hostile.once("open", resolve);
        hostile.once("error", reject);
      });
      const closed = new Promise<number>((resolve) => hostile.once("close", (code) => resolve(code)));
      hostile.send(Buffer.from([0xc1])); // 0xc1: never used in MessagePack
      expect(await closed).toBe(1008);
      await client.op();
      client.close();
    } finally {
      for (const pid of pids) {
        try {
          process.kill(pid, "SIGCONT");
        } catch {
          // already gone
        }
      }
      await cluster.stop();
    }
  });
});
