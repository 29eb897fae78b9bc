// geolock on this machine, measured the way the etcd baseline is (suites/etcd.ts), so the
// two can be compared as ratios from one run: a 3-node region of real node processes on
// loopback with fsync on, driven through the real client library.
//
// - "geolock region write": one committed command per operation (each worker alternates a
//   try-lock acquire and a release of its own name: both are Raft writes), c = 1/16/64/256.
// - "geolock lock cycle": acquire (try-lock) + release of the worker's own name, 2 Raft writes,
//   c = 1/16/64/256: the counterpart of "etcd lock lease+txn".
// - "geolock contended": 16 workers on one name, each acquire queued FIFO (waitMs > 0), hold
//   time 0: acquisitions per second, acquire wait, fairness; mutual exclusion checked.
// - "geolock failover": 16 workers run lock cycles; the leader is killed with SIGKILL; the
//   longest time no operation completed is the unavailability window.
//
// Clients connect to the region's leader ("leader") or round-robin to all three nodes
// ("spread", where followers forward to the leader): both placements are reported for c=64.
// Every worker is its own client with its own session, and the workers share one connection
// per node (GeolockClient.fork), as the etcd suite's workers share one gRPC channel per
// endpoint; c=64 with a connection per worker is reported too.

import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { GeolockClient, type ConnectOptions, type LockHandle } from "@geolock/client";
import { startGeolockCluster, type GeolockCluster, type GeolockNodeInfo } from "../geolock-cluster.js";
import type { LoadResult } from "../load.js";
import { BASELINE_CONCURRENCIES, fairnessExtra, measurePrepared, median, type PreparedScenario } from "../scenario.js";
import type { BenchOptions, BenchSuite, ScenarioResult } from "../suite.js";

/** The region every geolock scenario runs in (startGeolockCluster must create it). */
export const REGION = "bench";
const SYSTEM = "geolock";
const CONTENDED_CLIENTS = 16;
const FAILOVER_CLIENTS = 16;
const SESSION_TTL_MS = 60_000;

export type Placement = "leader" | "spread";
/**
 * "shared": every worker is its own client (client id, session, lease) and the workers share
 * one connection per node (GeolockClient.fork), as etcd's workers share one gRPC channel per
 * endpoint. "own": a connection per worker, reported beside it for c=64.
 */
export type Connections = "shared" | "own";

/**
 * The client library a scenario drives, and the system name its rows carry: this build's
 * unless the ab suite passes another checkout's (loaded from its dist at run time).
 */
export interface ClientBuild {
  readonly system: string;
  connect(options: ConnectOptions): Promise<GeolockClient>;
}

export const THIS_BUILD: ClientBuild = { system: SYSTEM, connect: (options) => GeolockClient.connect(options) };

interface Workers {
  readonly clients: readonly GeolockClient[];
  close(): Promise<void>;
}

/** One client per worker, as etcd's baseline gives each worker its own lease. */
async function connectWorkers(cluster: GeolockCluster, count: number, placement: Placement, connections: Connections = "shared", build: ClientBuild = THIS_BUILD): Promise<Workers> {
  const leader = await cluster.leader(REGION);
  const members = cluster.nodes.filter((n) => n.region === REGION);
  const ordered = (w: number): GeolockNodeInfo[] =>
    placement === "leader" ? [leader, ...members.filter((n) => n !== leader)] : members.map((_, i) => members[(w + i) % members.length] as GeolockNodeInfo);
  const connect = (w: number): Promise<GeolockClient> =>
    build.connect({ endpoints: ordered(w).map((n) => n.url), region: REGION, ttlMs: SESSION_TTL_MS, owner: `bench-${w}` });
  if (connections === "own") {
    const clients = await Promise.all(Array.from({ length: count }, (_, w) => connect(w)));
    return { clients, close: () => closeAll(clients) };
  }
  const roots = await Promise.all(Array.from({ length: placement === "leader" ? 1 : members.length }, (_, r) => connect(r)));
  const clients = Array.from({ length: count }, (_, w) => (roots[w % roots.length] as GeolockClient).fork({ owner: `bench-${w}` }));
  return { clients, close: () => closeAll(clients).then(() => closeAll(roots)) };
}

async function closeAll(clients: readonly GeolockClient[]): Promise<void> {
  await Promise.all(clients.map((c) => c.close()));
}

function label(placement: Placement, connections: Connections): string {
  return connections === "shared" ? placement : `${placement}, connection per client`;
}

/** Each op one Raft write: a worker alternates a try-lock acquire and a release of its own name. */
export async function prepareRegionWrite(cluster: GeolockCluster, c: number, placement: Placement = "leader", connections: Connections = "shared"): Promise<PreparedScenario> {
  const workers = await connectWorkers(cluster, c, placement, connections);
  const clients = workers.clients;
  const held: (LockHandle | undefined)[] = new Array<LockHandle | undefined>(c).fill(undefined);
  return {
    spec: {
      scenario: `geolock region write (${label(placement, connections)})`,
      system: SYSTEM,
      concurrency: c,
      op: async (w) => {
        const handle = held[w];
        if (handle === undefined) held[w] = await (clients[w] as GeolockClient).acquire(`${REGION}:write/${c}/${w}`, { waitMs: 0 });
        else {
          held[w] = undefined;
          await handle.release();
        }
      },
    },
    dispose: async () => {
      try {
        await Promise.all(held.map((h) => h?.release()));
      } finally {
        await workers.close();
      }
    },
  };
}

/** Try-lock acquire + release of the worker's own name: the counterpart of etcd's lease+txn cycle. */
export async function prepareLockCycle(
  cluster: GeolockCluster,
  c: number,
  placement: Placement = "leader",
  connections: Connections = "shared",
  build: ClientBuild = THIS_BUILD,
): Promise<PreparedScenario> {
  const workers = await connectWorkers(cluster, c, placement, connections, build);
  const clients = workers.clients;
  return {
    spec: {
      scenario: `geolock lock cycle (${label(placement, connections)})`,
      system: build.system,
      concurrency: c,
      op: async (w) => {
        const handle = await (clients[w] as GeolockClient).acquire(`${REGION}:cycle/${c}/${w}`, { waitMs: 0 });
        await handle.release();
      },
    },
    dispose: () => workers.close(),
  };
}

function contendedExtra(runs: readonly LoadResult[]): Record<string, number | string> {
  const waits = runs.map((r) => r.partLatency).filter((p) => p !== undefined);
  return {
    ...fairnessExtra(runs),
    ...(waits.length > 0 ? { acquireP50Ms: median(waits.map((p) => p.p50Ms)), acquireP99Ms: median(waits.map((p) => p.p99Ms)) } : {}),
  };
}

/** 16 workers queue FIFO on one name, each holding it for one event-loop turn. */
export async function prepareContended(cluster: GeolockCluster, build: ClientBuild = THIS_BUILD): Promise<PreparedScenario> {
  const workers = await connectWorkers(cluster, CONTENDED_CLIENTS, "leader", "shared", build);
  const clients = workers.clients;
  const name = `${REGION}:contended`;
  // Mutual exclusion on the side, as in the etcd suite: a grant to a second worker while one
  // holds (for one event-loop turn) fails the run.
  let holder = -1;
  let lastToken = 0;
  return {
    spec: {
      scenario: "geolock contended (FIFO wait)",
      system: build.system,
      concurrency: CONTENDED_CLIENTS,
      extra: contendedExtra,
      op: async (w) => {
        const t0 = performance.now();
        const handle = await (clients[w] as GeolockClient).acquire(name, { waitMs: 60_000 });
        const acquireMs = performance.now() - t0;
        if (holder !== -1) throw new Error(`worker ${w} acquired while worker ${holder} holds the lock`);
        if (handle.token <= lastToken) throw new Error(`token ${handle.token} not above the previous grant's ${lastToken}`);
        lastToken = handle.token;
        holder = w;
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (holder !== w) throw new Error(`worker ${holder} acquired while worker ${w} held the lock`);
        holder = -1;
        await handle.release();
        return acquireMs;
      },
    },
    dispose: () => workers.close(),
  };
}

/**
 * Kills the leader in the middle of a closed loop of lock cycles and reports the longest
 * stretch in which no operation completed, and how long until the region had a new leader.
 */
async function failover(cluster: GeolockCluster, options: BenchOptions): Promise<ScenarioResult> {
  const pool = await connectWorkers(cluster, FAILOVER_CLIENTS, "spread");
  const clients = pool.clients;
  const completions: number[] = [];
  let errors = 0;
  let running = true;
  const windowMs = Math.max(4_000, options.measureSeconds * 1000);
  const worker = async (w: number): Promise<void> => {
    for (let i = 0; running && i < 1_000_000; i++) {
      try {
        const handle = await (clients[w] as GeolockClient).acquire(`${REGION}:failover/${w}`, { waitMs: 0 });
        await handle.release();
        completions.push(performance.now());
      } catch {
        errors += 1;
      }
    }
  };
  const workers = Array.from({ length: FAILOVER_CLIENTS }, (_, w) => worker(w));
  try {
    await new Promise((r) => setTimeout(r, windowMs / 4));
    const leader = await cluster.leader(REGION);
    const killedAt = performance.now();
    await cluster.kill(leader);
    const next = await cluster.leader(REGION, 10_000);
    const electedMs = performance.now() - killedAt;
    await new Promise((r) => setTimeout(r, (windowMs * 3) / 4));
    running = false;
    await Promise.all(workers);
    const after = completions.filter((t) => t > killedAt);
    const before = completions.filter((t) => t <= killedAt);
    const gaps = [...before.slice(-1), ...after].map((t, i, all) => (i === 0 ? 0 : t - (all[i - 1] as number)));
    const firstAfterMs = after.length > 0 ? (after[0] as number) - killedAt : Number.NaN;
    cluster.restart(leader);
    await cluster.leader(REGION);
    return {
      scenario: "geolock failover (kill -9 leader)",
      system: SYSTEM,
      concurrency: FAILOVER_CLIENTS,
      opsPerSecond: completions.length / (windowMs / 1000),
      extra: {
        newLeader: `${next.region}/${next.id}`,
        electedMs: Math.round(electedMs),
        firstOpAfterKillMs: Math.round(firstAfterMs),
        longestGapMs: Math.round(Math.max(0, ...gaps)),
        errors,
      },
    };
  } finally {
    running = false;
    await Promise.all(workers);
    await pool.close();
  }
}

export const suite: BenchSuite = {
  name: "geolock",
  description: "geolock 3-node region of real processes on loopback: writes, lock cycles, contended FIFO lock, failover",
  async run(options: BenchOptions): Promise<ScenarioResult[]> {
    const cluster = await startGeolockCluster({ dir: join(options.scratchDir, "geolock"), regions: [REGION], nodesPerRegion: 3 });
    const results: ScenarioResult[] = [];
    try {
      const measure = async (prepared: Promise<PreparedScenario>): Promise<void> => {
        const result = await measurePrepared(options, await prepared);
        cluster.assertRunning();
        results.push(result);
      };
      for (const c of BASELINE_CONCURRENCIES) await measure(prepareRegionWrite(cluster, c));
      await measure(prepareRegionWrite(cluster, 64, "spread"));
      await measure(prepareRegionWrite(cluster, 64, "leader", "own"));
      for (const c of BASELINE_CONCURRENCIES) await measure(prepareLockCycle(cluster, c));
      await measure(prepareLockCycle(cluster, 64, "spread"));
      await measure(prepareLockCycle(cluster, 64, "leader", "own"));
      await measure(prepareContended(cluster));
      results.push(await failover(cluster, options));
      cluster.assertRunning();
      return results;
    } finally {
      await cluster.stop();
    }
  },
};
