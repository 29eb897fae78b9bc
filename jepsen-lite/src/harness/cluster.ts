// The system under test as real processes: a geolock cluster (3 regions x 3 nodes, the
// built dist/node.js) or the deliberately unsafe single-process lock server. Every node has
// its own loopback address, region r node n on 127.0.0.(10 r + n), so that its peer links
// leave from that address and a partition can be cut per address pair (firewall.ts).

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Target } from "./options.js";
import type { ManagedProcess, ProcessRegistry } from "./processes.js";
import { tcpReachable } from "./tcp-probe.js";

export const REGIONS = ["us-east", "us-west", "eu-west"] as const;
const NODES_PER_REGION = 3;
/** The repository root, from src/harness or dist/harness alike. */
export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const NODE_ENTRY = join(REPO_ROOT, "dist/node.js");
/**
 * Far below the node's default (10,000): a run of a few thousand operations then takes
 * snapshots and compacts the log many times, under the faults, and a follower that was cut
 * off or paused catches up by InstallSnapshot rather than from the log.
 */
export const SNAPSHOT_EVERY_ENTRIES = 200;
export const UNSAFE_ENTRY = join(REPO_ROOT, "jepsen-lite/dist/unsafe-server-main.js");
const CLUSTER_SECRET = "jepsen-lite-cluster-secret-0123456789";
/** A graceful stop (leadership hand-over) gets this long before SIGKILL. */
const STOP_GRACE_MS = 3_000;
const STATUS_TIMEOUT_MS = 1_000;
const POLL_MS = 100;

export interface ClusterNode {
  /** "us-east/2"; "unsafe/1" for the unsafe server. */
  readonly name: string;
  readonly region: string;
  readonly id: number;
  readonly host: string;
  readonly port: number;
  readonly process: ManagedProcess;
  /** Extra environment of the current incarnation (the clock nemesis sets one). */
  env: NodeJS.ProcessEnv;
}

export interface NodeStatus {
  readonly role: string;
  readonly term: number;
  readonly leader: string | null;
}

export class Cluster {
  readonly nodes: readonly ClusterNode[];
  private readonly baseEnv: NodeJS.ProcessEnv;

  constructor(
    readonly target: Target,
    private readonly runDir: string,
    portBase: number,
    registry: ProcessRegistry,
  ) {
    mkdirSync(join(runDir, "logs"), { recursive: true });
    this.baseEnv = target === "geolock" ? { GEOLOCK_SECRET: CLUSTER_SECRET } : {};
    this.nodes = target === "geolock" ? this.geolockNodes(portBase, registry) : [this.unsafeNode(portBase, registry)];
  }

  /** Client URLs of every node (the unsafe server's is tcp://). */
  get endpoints(): string[] {
    return this.nodes.map((n) => this.endpointOf(n));
  }

  private endpointOf(node: ClusterNode): string {
    return this.target === "geolock" ? `ws://${node.host}:${node.port}/client` : `tcp://${node.host}:${node.port}`;
  }

  get regions(): readonly string[] {
    return this.target === "geolock" ? REGIONS : ["unsafe"];
  }

  regionNodes(region: string): ClusterNode[] {
    return this.nodes.filter((n) => n.region === region);
  }

  startAll(): void {
    for (const node of this.nodes) this.startNode(node);
  }

  /** Restarts a node (SIGTERM, bounded) with the base environment plus `extra` (the clock nemesis). */
  async restart(node: ClusterNode, extra: NodeJS.ProcessEnv): Promise<void> {
    await node.process.stop(STOP_GRACE_MS);
    this.startNode(node, extra);
  }

  /** Starts a stopped node with the base environment plus `extra`. */
  startNode(node: ClusterNode, extra: NodeJS.ProcessEnv = {}): void {
    node.env = { ...this.baseEnv, ...extra };
    node.process.start(node.env);
  }

  async status(node: ClusterNode): Promise<NodeStatus | undefined> {
    if (this.target !== "geolock" || !node.process.running || node.process.isPaused) return undefined;
    try {
      const res = await fetch(`http://${node.host}:${node.port}/status`, { signal: AbortSignal.timeout(STATUS_TIMEOUT_MS) });
      return res.ok ? ((await res.json()) as NodeStatus) : undefined;
    } catch {
      return undefined;
    }
  }

  /** The node every running node of the region names as leader, if they agree. */
  async leaderOf(region: string): Promise<ClusterNode | undefined> {
    const nodes = this.regionNodes(region).filter((n) => n.process.running && !n.process.isPaused);
    const statuses = await Promise.all(nodes.map((n) => this.status(n)));
    const leaders = statuses.filter((s) => s?.role === "leader");
    if (leaders.length !== 1) return undefined;
    const leader = (leaders[0] as NodeStatus).leader;
    if (!statuses.every((s) => s !== undefined && s.leader === leader)) return undefined;
    return nodes.find((n) => n.name === leader);
  }

  /** Waits until every region has an agreed leader (or the unsafe server accepts connections). */
  async waitHealthy(timeoutMs: number, stop?: AbortSignal): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && stop?.aborted !== true) {
      if (await this.healthy()) return true;
      await sleep(POLL_MS);
    }
    return false;
  }

  /** Waits until the region has an agreed leader; false after timeoutMs. */
  async waitRegionLeader(region: string, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if ((await this.leaderOf(region)) !== undefined) return true;
      await sleep(POLL_MS);
    }
    return false;
  }

  private async healthy(): Promise<boolean> {
    if (this.target === "unsafe") {
      const node = this.nodes[0] as ClusterNode;
      return tcpReachable({ host: node.host, port: node.port, timeoutMs: STATUS_TIMEOUT_MS });
    }
    const leaders = await Promise.all(this.regions.map((r) => this.leaderOf(r)));
    return leaders.every((l) => l !== undefined);
  }

  private geolockNodes(portBase: number, registry: ProcessRegistry): ClusterNode[] {
    const regions = REGIONS.map((name, r) => ({
      name,
      id: r + 1,
      nodes: Array.from({ length: NODES_PER_REGION }, (_, i) => ({ id: i + 1, host: nodeHost(r + 1, i + 1), port: portBase + 10 * (r + 1) + i + 1 })),
    }));
    const configFile = join(this.runDir, "cluster.json");
    writeFileSync(configFile, `${JSON.stringify({ clusterId: "jepsen-lite", regions }, null, 2)}\n`);
    return regions.flatMap((region) =>
      region.nodes.map((n) => {
        const name = `${region.name}/${n.id}`;
        const args = ["--region", region.name, "--node", String(n.id), "--config", configFile, "--data", join(this.runDir, "data", `${region.name}-${n.id}`), "--log-level", "info", "--snapshot-every", String(SNAPSHOT_EVERY_ENTRIES)];
        const process = registry.create({ name, script: NODE_ENTRY, args, logFile: join(this.runDir, "logs", `${region.name}-${n.id}.log`), ipc: false, runsUntilStopped: true });
        return { name, region: region.name, id: n.id, host: n.host, port: n.port, process, env: {} };
      }),
    );
  }

  private unsafeNode(portBase: number, registry: ProcessRegistry): ClusterNode {
    const host = nodeHost(1, 1);
    const port = portBase + 11;
    const process = registry.create({ name: "unsafe/1", script: UNSAFE_ENTRY, args: ["--host", host, "--port", String(port)], logFile: join(this.runDir, "logs", "unsafe-1.log"), ipc: false, runsUntilStopped: true });
    return { name: "unsafe/1", region: "unsafe", id: 1, host, port, process, env: {} };
  }
}

/** Region r (1-based) node n: 127.0.0.(10 r + n). */
export function nodeHost(region: number, node: number): string {
  return `127.0.0.${10 * region + node}`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
