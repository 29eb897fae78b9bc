// A throw-away 3-member etcd cluster on 127.0.0.1, run the way BASELINES.md describes:
// Debian's etcd 3.4, default heartbeat (100 ms) and election (1000 ms) timeouts, fresh data
// directories, fsync on (etcd's default). Ports are picked free by the OS so that two runs
// (or another engineer's etcd) never collide. The cluster's directory is removed on stop,
// on a failed start, and on SIGINT.

import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { assertRunning, commandOutput, freePort, removeDirOnInterrupt, startServer, waitUntil, type ServerProcess } from "./processes.js";

export const ETCD_BINARY = "/usr/bin/etcd";

export interface EtcdClusterOptions {
  /** A directory that will hold the members' data dirs and logs; removed by stop(). */
  readonly dir: string;
  /** Number of members (3 in every baseline). */
  readonly members?: number;
  /** How long to wait for every member to report healthy. */
  readonly startTimeoutMs?: number;
  readonly binary?: string;
}

export interface EtcdCluster {
  /** Client URLs, one per member, e.g. "127.0.0.1:40123" (gRPC targets, no scheme). */
  readonly endpoints: readonly string[];
  /** "etcd 3.4.23" */
  readonly version: string;
  /** Throws, naming the member and its log's tail, if a member exited. */
  assertRunning(): void;
  stop(): Promise<void>;
}

interface MemberPlan {
  readonly name: string;
  readonly clientPort: number;
  readonly peerPort: number;
}

const DEFAULT_START_TIMEOUT_MS = 30_000;

/** Throws the install hint if the etcd binary is missing. */
export function requireEtcd(binary = ETCD_BINARY): void {
  if (!existsSync(binary)) {
    throw new Error(`${binary} not found: install etcd with "apt-get install etcd-server etcd-client"`);
  }
}

export async function etcdVersion(binary = ETCD_BINARY): Promise<string> {
  const out = await commandOutput(binary, ["--version"]);
  const match = /etcd Version:\s*(\S+)/.exec(out);
  return `etcd ${match?.[1] ?? "unknown"}`;
}

async function planMembers(count: number): Promise<MemberPlan[]> {
  const plans: MemberPlan[] = [];
  for (let i = 1; i <= count; i++) {
    plans.push({ name: `m${i}`, clientPort: await freePort(), peerPort: await freePort() });
  }
  return plans;
}

function memberArgs(plan: MemberPlan, all: readonly MemberPlan[], dir: string, token: string): string[] {
  const client = `http://127.0.0.1:${plan.clientPort}`;
  const peer = `http://127.0.0.1:${plan.peerPort}`;
  const initialCluster = all.map((m) => `${m.name}=http://127.0.0.1:${m.peerPort}`).join(",");
  return [
    "--name", plan.name,
    "--data-dir", join(dir, plan.name),
    "--listen-client-urls", client,
    "--advertise-client-urls", client,
    "--listen-peer-urls", peer,
    "--initial-advertise-peer-urls", peer,
    "--initial-cluster", initialCluster,
    "--initial-cluster-token", token,
    "--initial-cluster-state", "new",
    "--logger", "zap",
    "--log-outputs", "stderr",
  ];
}

/** GET /health of one member; etcd answers {"health":"true"} once it has a leader. */
async function memberHealthy(clientPort: number): Promise<boolean> {
  const res = await fetch(`http://127.0.0.1:${clientPort}/health`, { signal: AbortSignal.timeout(1_000) });
  if (!res.ok) return false;
  const body: unknown = await res.json();
  return typeof body === "object" && body !== null && (body as { health?: unknown }).health === "true";
}

/** Starts the cluster and resolves once every member is healthy; cleans up if that fails. */
export async function startEtcdCluster(options: EtcdClusterOptions): Promise<EtcdCluster> {
  const binary = options.binary ?? ETCD_BINARY;
  requireEtcd(binary);
  const version = await etcdVersion(binary);
  mkdirSync(options.dir, { recursive: true });
  const unregisterDir = removeDirOnInterrupt(options.dir);
  const plans = await planMembers(options.members ?? 3);
  const token = `geolock-bench-${process.pid}-${Date.now()}`;
  const servers: ServerProcess[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(options.dir, { recursive: true, force: true });
    unregisterDir();
  };
  try {
    for (const plan of plans) {
      const args = memberArgs(plan, plans, options.dir, token);
      servers.push(startServer(`etcd ${plan.name}`, binary, args, join(options.dir, `${plan.name}.log`)));
    }
    await waitHealthy(plans, servers, options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);
  } catch (err) {
    const logs = servers.map((s) => `--- ${s.name} log tail ---\n${s.logTail(1_500)}`).join("\n");
    await stop();
    throw new Error(`etcd cluster did not start: ${err instanceof Error ? err.message : String(err)}\n${logs}`);
  }
  return { endpoints: plans.map((p) => `127.0.0.1:${p.clientPort}`), version, assertRunning: () => assertRunning(servers), stop };
}

async function waitHealthy(plans: readonly MemberPlan[], servers: readonly ServerProcess[], timeoutMs: number): Promise<void> {
  await waitUntil(
    "every etcd member to report healthy",
    async () => {
      const health = await Promise.all(plans.map((p) => memberHealthy(p.clientPort)));
      return health.every(Boolean);
    },
    timeoutMs,
    200,
    () => {
      const dead = servers.find((s) => s.exited());
      return dead === undefined ? undefined : `${dead.name} exited`;
    },
  );
}
