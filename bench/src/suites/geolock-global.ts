// geolock global locks (`global:<key>`, decided by a majority of regions) on 9 real node
// processes: 3 regions x 3 nodes on loopback with fsync on and the realistic WAN preset
// (`--wan realistic`, one way: us-east/us-west 30 ms, us-east/eu-west 40 ms, us-west/eu-west
// 70 ms; round trips 60, 80 and 140 ms), driven through the real client library.
//
// - "global cycle from the owner region": a us-east client acquires (try-lock) and releases
//   one key that us-east decided last, so both commands need Paxos phase 2 only: about one
//   round trip to the nearest other region (us-west, 60 ms) plus the Raft commits in the
//   two regions. acquireP50Ms/acquireP99Ms are the acquire alone.
// - "global cycle, takeover from another region": two clients in two regions take turns on
//   one key, so every acquire is by the region that did NOT decide the key last: phase 1 +
//   phase 2 (two round trips to the taker's nearest majority); its release is phase 2 only.
//   Measured for us-west <-> us-east (nearest 60 ms) and eu-west <-> us-east (80 ms).
// - "global cycles on many keys": c workers in us-east, one key each: cycles per second.
//   Also c workers spread over the three regions, each on its own key.
//
// Every grant's token is checked to increase per key; a try-lock answered "held" fails the run.

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { GeolockClient } from "@geolock/client";
import type { LoadResult } from "../load.js";
import { freePort, startServer, waitUntil, type ServerProcess } from "../processes.js";
import { measureScenario, median } from "../scenario.js";
import type { BenchOptions, BenchSuite, ScenarioResult } from "../suite.js";

const NODE_ENTRY = fileURLToPath(new URL("../../../dist/node.js", import.meta.url));
const REGIONS = ["us-east", "us-west", "eu-west"] as const;
type Region = (typeof REGIONS)[number];
const SYSTEM = "geolock";
const LEASE_TTL_MS = 30_000;
const MANY_KEYS_CONCURRENCIES = [16, 64, 256] as const;

interface NodeInfo {
  readonly region: Region;
  readonly id: number;
  readonly port: number;
  readonly process: ServerProcess;
}

interface WanCluster {
  readonly nodes: readonly NodeInfo[];
  /** Client endpoints of `region`, its leader first. */
  endpoints(region: Region): Promise<string[]>;
  stop(): Promise<void>;
}

/** 3 regions x 3 nodes with `--wan realistic`, fresh data in `dir`; resolves once every region has a leader. */
async function startWanCluster(dir: string): Promise<WanCluster> {
  mkdirSync(dir, { recursive: true });
  const secretFile = join(dir, "secret");
  writeFileSync(secretFile, "bench-global-secret-0123456789abcdef");
  const regions = [];
  for (const [r, name] of REGIONS.entries()) {
    const nodes = [];
    for (let n = 1; n <= 3; n++) nodes.push({ id: n, host: "127.0.0.1", port: await freePort() });
    regions.push({ name, id: r + 1, nodes });
  }
  const configFile = join(dir, "cluster.json");
  writeFileSync(configFile, JSON.stringify({ clusterId: "geolock-bench-global", regions }));
  const nodes: NodeInfo[] = regions.flatMap((r) =>
    r.nodes.map((n) => {
      const args = [NODE_ENTRY, "--region", r.name, "--node", String(n.id), "--config", configFile, "--data", join(dir, `${r.name}-${n.id}`), "--secret-file", secretFile, "--log-level", "warn", "--wan", "realistic"];
      return { region: r.name, id: n.id, port: n.port, process: startServer(`geolock ${r.name}/${n.id}`, process.execPath, args, join(dir, `${r.name}-${n.id}.log`)) };
    }),
  );
  const leaderOf = async (region: Region): Promise<NodeInfo> => {
    let found: NodeInfo | undefined;
    await waitUntil(`a leader in ${region}`, async () => {
      const members = nodes.filter((n) => n.region === region);
      const views = await Promise.all(members.map(async (n) => (await fetch(`http://127.0.0.1:${n.port}/status`, { signal: AbortSignal.timeout(1_000) })).json() as Promise<{ role: string; leader: string | null }>));
      const lead = views.find((v) => v.role === "leader");
      found = members.find((n) => `${n.region}/${n.id}` === lead?.leader);
      return found !== undefined && views.every((v) => v.leader === lead?.leader);
    }, 30_000, 50);
    return found as NodeInfo;
  };
  try {
    for (const region of REGIONS) await leaderOf(region);
  } catch (error) {
    await Promise.all(nodes.map((n) => n.process.stop()));
    throw error;
  }
  return {
    nodes,
    async endpoints(region) {
      const leader = await leaderOf(region);
      const url = (n: NodeInfo): string => `ws://127.0.0.1:${n.port}/client`;
      return [url(leader), ...nodes.filter((n) => n.region === region && n !== leader).map(url)];
    },
    stop: async () => {
      await Promise.all(nodes.map((n) => n.process.stop()));
    },
  };
}

/** One client per worker, connected to `region`'s nodes (leader first). */
async function clientsIn(cluster: WanCluster, region: Region, count: number): Promise<GeolockClient[]> {
  const endpoints = await cluster.endpoints(region);
  return Promise.all(Array.from({ length: count }, (_, w) => GeolockClient.connect({ endpoints, region, ttlMs: LEASE_TTL_MS, owner: `bench-${region}-${w}` })));
}

async function closeAll(clients: readonly GeolockClient[]): Promise<void> {
  await Promise.all(clients.map((c) => c.close()));
}

/** Tokens of one key must strictly increase: a violation fails the run. */
class TokenCheck {
  private readonly last = new Map<string, number>();

  grant(name: string, token: number): void {
    const previous = this.last.get(name) ?? 0;
    if (token <= previous) throw new Error(`${name}: token ${token} not above the previous grant's ${previous}`);
    this.last.set(name, token);
  }
}

/** acquire + release by `client`; the acquire's milliseconds. */
async function cycle(client: GeolockClient, name: string, tokens: TokenCheck): Promise<number> {
  const t0 = performance.now();
  const handle = await client.acquire(name, { waitMs: 0 });
  const acquireMs = performance.now() - t0;
  tokens.grant(name, handle.token);
  await handle.release();
  return acquireMs;
}

function acquireExtra(runs: readonly LoadResult[]): Record<string, number> {
  const parts = runs.map((r) => r.partLatency).filter((p) => p !== undefined);
  if (parts.length === 0) return {};
  return { acquireP50Ms: median(parts.map((p) => p.p50Ms)), acquireP99Ms: median(parts.map((p) => p.p99Ms)) };
}

async function fromOwner(cluster: WanCluster, options: BenchOptions): Promise<ScenarioResult> {
  const [client] = (await clientsIn(cluster, "us-east", 1)) as [GeolockClient];
  const tokens = new TokenCheck();
  try {
    await cycle(client, "global:owner", tokens); // us-east decides the key last from now on
    return await measureScenario(options, {
      scenario: "global cycle from the owner region (us-east)",
      system: SYSTEM,
      concurrency: 1,
      extra: acquireExtra,
      op: () => cycle(client, "global:owner", tokens),
    });
  } finally {
    await closeAll([client]);
  }
}

async function takeover(cluster: WanCluster, options: BenchOptions, taker: Region): Promise<ScenarioResult> {
  const [a] = (await clientsIn(cluster, taker, 1)) as [GeolockClient];
  const [b] = (await clientsIn(cluster, "us-east", 1)) as [GeolockClient];
  const name = `global:takeover-${taker}`;
  const tokens = new TokenCheck();
  let turn = 0;
  try {
    return await measureScenario(options, {
      scenario: `global cycle, takeover: ${taker} <-> us-east alternate`,
      system: SYSTEM,
      concurrency: 1,
      extra: acquireExtra,
      // Each cycle's region did not decide the key last: every acquire is a takeover.
      op: () => cycle(turn++ % 2 === 0 ? a : b, name, tokens),
    });
  } finally {
    await closeAll([a, b]);
  }
}

async function manyKeys(cluster: WanCluster, options: BenchOptions, c: number, regions: readonly Region[]): Promise<ScenarioResult> {
  const perRegion = Math.ceil(c / regions.length);
  const groups = await Promise.all(regions.map((r) => clientsIn(cluster, r, perRegion)));
  const clients = groups.flat().slice(0, c);
  const tokens = new TokenCheck();
  const where = regions.length === 1 ? regions[0] : "all regions";
  try {
    return await measureScenario(options, {
      scenario: `global cycles on many keys (${where})`,
      system: SYSTEM,
      concurrency: c,
      extra: acquireExtra,
      op: (w) => cycle(clients[w] as GeolockClient, `global:many/${where}/${c}/${w}`, tokens),
    });
  } finally {
    await closeAll(clients);
  }
}

export const suite: BenchSuite = {
  name: "geolock-global",
  description: "geolock global locks: 3 regions x 3 real processes on loopback, fsync on, --wan realistic (RTT 60/80/140 ms): owner-region and takeover latency, cycles/s on many keys",
  async run(options: BenchOptions): Promise<ScenarioResult[]> {
    const cluster = await startWanCluster(join(options.scratchDir, "geolock-global"));
    const results: ScenarioResult[] = [];
    try {
      results.push(await fromOwner(cluster, options));
      results.push(await takeover(cluster, options, "us-west"));
      results.push(await takeover(cluster, options, "eu-west"));
      for (const c of MANY_KEYS_CONCURRENCIES) results.push(await manyKeys(cluster, options, c, ["us-east"]));
      results.push(await manyKeys(cluster, options, 96, REGIONS));
      return results;
    } finally {
      await cluster.stop();
    }
  },
};
