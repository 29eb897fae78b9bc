// The etcd 3.4 baseline, measured as BASELINES.md describes, on a 3-member cluster this suite
// starts on loopback with fresh data directories (fsync on, etcd's default):
//
// - "etcd put": one Put of a 256-byte value per operation, each worker on its own key,
//   workers spread round-robin over the three members.
// - "etcd lock lease+txn": the lock cycle of a client holding a session lease: a Txn that
//   puts the lock key if absent, attached to the lease, then a Delete (2 Raft writes).
//   Every worker locks its own name, so every Txn must succeed.
// - "etcd contended v3lock": 16 workers on one name through etcd's built-in v3lock service
//   (the Go concurrency.Mutex, FIFO by create revision), hold time 0. Reports acquisitions
//   per second, the acquire wait, and fairness across the workers.

import { join } from "node:path";
import { EtcdClient } from "../etcd-client.js";
import { startEtcdCluster } from "../etcd-cluster.js";
import type { LoadResult } from "../load.js";
import { BASELINE_CONCURRENCIES, fairnessExtra, measurePrepared, median, type PreparedScenario } from "../scenario.js";
import type { BenchOptions, BenchSuite, ScenarioResult } from "../suite.js";

const CONTENDED_CLIENTS = 16;
const VALUE_BYTES = 256;

/** A lease long enough to outlive every repeat of a scenario without keep-alives. */
function leaseTtlSeconds(options: BenchOptions): number {
  return Math.ceil(options.repeats * (options.warmupSeconds + options.measureSeconds) * 2) + 30;
}

/** One preallocated key per worker, so the operation itself allocates no key. */
function workerKeys(prefix: string, count: number): Buffer[] {
  return Array.from({ length: count }, (_, w) => Buffer.from(`${prefix}/${w}`));
}

async function grantLeases(client: EtcdClient, count: number, ttlSeconds: number): Promise<string[]> {
  return Promise.all(Array.from({ length: count }, (_, w) => client.grantLease(w, ttlSeconds)));
}

async function revokeLeases(client: EtcdClient, leases: readonly string[]): Promise<void> {
  await Promise.all(leases.map((lease, w) => client.revokeLease(w, lease)));
}

/** One Put of a 256-byte value per operation, each worker on its own key. */
export function preparePut(client: EtcdClient, system: string, c: number): PreparedScenario {
  const keys = workerKeys(`bench/put/c${c}`, c);
  const value = Buffer.alloc(VALUE_BYTES, 0x61);
  return {
    spec: {
      scenario: "etcd put 256 B",
      system,
      concurrency: c,
      op: (w) => client.putValue(w, keys[w] as Buffer, value),
    },
    dispose: async () => {},
  };
}

/** A lease per worker granted once; per cycle a Txn put-if-absent attached to it plus a Delete. */
export async function prepareLockTxn(client: EtcdClient, options: BenchOptions, system: string, c: number): Promise<PreparedScenario> {
  const keys = workerKeys(`bench/lock/c${c}`, c);
  const value = Buffer.from("holder");
  const leases = await grantLeases(client, c, leaseTtlSeconds(options));
  return {
    spec: {
      scenario: "etcd lock lease+txn",
      system,
      concurrency: c,
      op: async (w) => {
        const key = keys[w] as Buffer;
        if (!(await client.putIfAbsent(w, key, value, leases[w] as string))) {
          throw new Error(`lock ${key.toString()} already held, though only worker ${w} uses it`);
        }
        if ((await client.deleteKey(w, key)) !== 1) throw new Error(`release of ${key.toString()} deleted nothing`);
      },
    },
    dispose: () => revokeLeases(client, leases),
  };
}

/** Acquire-wait medians and fairness of the contended runs. */
function contendedExtra(runs: readonly LoadResult[]): Record<string, number | string> {
  const waits = runs.map((r) => r.partLatency).filter((p) => p !== undefined);
  return {
    ...fairnessExtra(runs),
    ...(waits.length > 0
      ? { acquireP50Ms: median(waits.map((p) => p.p50Ms)), acquireP99Ms: median(waits.map((p) => p.p99Ms)) }
      : {}),
  };
}

/** 16 workers on one name through etcd's v3lock service, each holding it for one event-loop turn. */
export async function prepareContendedV3lock(client: EtcdClient, options: BenchOptions, system: string): Promise<PreparedScenario> {
  const name = Buffer.from("bench/contended");
  const leases = await grantLeases(client, CONTENDED_CLIENTS, leaseTtlSeconds(options));
  // Mutual exclusion is checked on the side. The holder keeps the lock for one event-loop
  // turn ("hold time 0" plus the turn), so a grant that etcd wrongly hands to a second worker
  // meanwhile is seen; it clears `holder` before it sends Unlock, so a legal next grant
  // can never arrive while it is still set.
  let holder = -1;
  return {
    spec: {
      scenario: "etcd contended v3lock",
      system,
      concurrency: CONTENDED_CLIENTS,
      extra: contendedExtra,
      op: async (w) => {
        const t0 = performance.now();
        const key = await client.lockName(w, name, leases[w] as string);
        const acquireMs = performance.now() - t0;
        if (holder !== -1) throw new Error(`worker ${w} acquired while worker ${holder} holds the lock`);
        holder = w;
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (holder !== w) throw new Error(`worker ${holder} acquired while worker ${w} held the lock`);
        holder = -1;
        await client.unlockKey(w, key);
        return acquireMs;
      },
    },
    dispose: () => revokeLeases(client, leases),
  };
}

export const suite: BenchSuite = {
  name: "etcd",
  description: "etcd 3.4 3-member cluster on loopback: put, lease+txn lock cycle, contended v3lock",
  async run(options: BenchOptions): Promise<ScenarioResult[]> {
    const cluster = await startEtcdCluster({ dir: join(options.scratchDir, "etcd") });
    const client = new EtcdClient(cluster.endpoints);
    const results: ScenarioResult[] = [];
    try {
      const measure = async (prepared: PreparedScenario): Promise<void> => {
        const result = await measurePrepared(options, prepared);
        cluster.assertRunning();
        results.push(result);
      };
      for (const c of BASELINE_CONCURRENCIES) await measure(preparePut(client, cluster.version, c));
      for (const c of BASELINE_CONCURRENCIES) await measure(await prepareLockTxn(client, options, cluster.version, c));
      await measure(await prepareContendedV3lock(client, options, cluster.version));
      return results;
    } finally {
      client.close();
      await cluster.stop();
    }
  },
};
