// Real node processes for end-to-end tests: start them (built dist/node.js) on 127.0.0.1
// with fresh data directories, wait for them with deadlines, kill -9, pause, restart, and
// always clean up. Ports come from a per-test base so parallel test files never collide.

import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const NODE_ENTRY = join(ROOT, "dist/node.js");

export interface ClusterSpec {
  /** Region names in order; each gets `nodesPerRegion` nodes. */
  readonly regions: readonly string[];
  readonly nodesPerRegion: number;
  /** Region r (1-based) node n listens on basePort + 10 r + n. */
  readonly basePort: number;
  readonly secret?: string;
  readonly env?: NodeJS.ProcessEnv;
  /**
   * The address node `node` of region `region` (both 1-based) listens on and sends from;
   * default 127.0.0.1. Own loopback addresses per node let a test cut links with packet
   * filter rules per address pair (e.g. region r node n on 127.0.0.(10 r + n)).
   */
  readonly host?: (region: number, node: number) => string;
}

export interface NodeStatus {
  readonly node: string;
  readonly role: "leader" | "follower" | "candidate" | "learner";
  readonly term: number;
  readonly leader: string | null;
  readonly commit: number;
  readonly applied: number;
}

export class NodeProcess {
  child: ChildProcess | undefined;
  private exitPromise: Promise<number | null> | undefined;

  constructor(
    readonly cluster: TestCluster,
    readonly region: string,
    readonly id: number,
    readonly port: number,
    readonly dataDir: string,
    readonly logFile: string,
    readonly host = "127.0.0.1",
  ) {}

  get name(): string {
    return `${this.region}/${this.id}`;
  }

  get clientUrl(): string {
    return `ws://${this.host}:${this.port}/client`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  start(extraEnv: NodeJS.ProcessEnv = {}): void {
    if (this.running) throw new Error(`${this.name} is already running`);
    const out = openSync(this.logFile, "a");
    const child = spawn(
      process.execPath,
      [NODE_ENTRY, "--region", this.region, "--node", String(this.id), "--config", this.cluster.configFile, "--data", this.dataDir, "--log-level", "info"],
      { stdio: ["ignore", out, out], env: { ...process.env, GEOLOCK_SECRET: this.cluster.secret, ...this.cluster.spec.env, ...extraEnv } },
    );
    this.child = child;
    this.exitPromise = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
  }

  /** kill -9, and wait until the process is gone. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.child?.kill("SIGKILL");
    await this.exitPromise;
  }

  /** SIGTERM (graceful: leadership transfer), bounded, then SIGKILL. */
  async stop(deadlineMs = 5_000): Promise<void> {
    if (!this.running) return;
    this.child?.kill("SIGTERM");
    const timer = setTimeout(() => this.child?.kill("SIGKILL"), deadlineMs);
    await this.exitPromise;
    clearTimeout(timer);
  }

  pause(): void {
    this.child?.kill("SIGSTOP");
  }

  resume(): void {
    this.child?.kill("SIGCONT");
  }

  /** Resolves with the exit code once the process exits. */
  exited(): Promise<number | null> {
    if (this.exitPromise === undefined) throw new Error(`${this.name} was never started`);
    return this.exitPromise;
  }

  async status(): Promise<NodeStatus | undefined> {
    try {
      const res = await fetch(`http://${this.host}:${this.port}/status`, { signal: AbortSignal.timeout(1_000) });
      return res.ok ? ((await res.json()) as NodeStatus) : undefined;
    } catch {
      return undefined;
    }
  }

  log(): string {
    return existsSync(this.logFile) ? readFileSync(this.logFile, "utf8") : "";
  }
}

export class TestCluster {
  readonly root: string;
  readonly configFile: string;
  readonly secret: string;
  readonly nodes: NodeProcess[] = [];

  constructor(readonly spec: ClusterSpec) {
    if (!existsSync(NODE_ENTRY)) throw new Error(`${NODE_ENTRY} is missing: run "npm run build" first`);
    this.root = mkdtempSync(join(tmpdir(), "geolock-e2e-"));
    this.secret = spec.secret ?? "e2e-test-secret-0123456789abcdef";
    this.configFile = join(this.root, "cluster.json");
    const topology = {
      clusterId: "geolock-e2e",
      regions: spec.regions.map((name, r) => ({
        name,
        id: r + 1,
        nodes: Array.from({ length: spec.nodesPerRegion }, (_, i) => ({ id: i + 1, host: spec.host?.(r + 1, i + 1) ?? "127.0.0.1", port: spec.basePort + 10 * (r + 1) + i + 1 })),
      })),
    };
    writeFileSync(this.configFile, JSON.stringify(topology, null, 2));
    mkdirSync(join(this.root, "logs"));
    for (const region of topology.regions) {
      for (const n of region.nodes) {
        this.nodes.push(new NodeProcess(this, region.name, n.id, n.port, join(this.root, `${region.name}-${n.id}`), join(this.root, "logs", `${region.name}-${n.id}.log`), n.host));
      }
    }
  }

  node(region: string, id: number): NodeProcess {
    const node = this.nodes.find((n) => n.region === region && n.id === id);
    if (node === undefined) throw new Error(`no node ${region}/${id}`);
    return node;
  }

  regionNodes(region: string): NodeProcess[] {
    return this.nodes.filter((n) => n.region === region);
  }

  startAll(): void {
    for (const node of this.nodes) node.start();
  }

  /** Waits until a region has exactly one leader that all its running nodes agree on. */
  async waitForLeader(region: string, timeoutMs = 10_000): Promise<NodeProcess> {
    let last = "";
    const found = await waitFor(async () => {
      const running = this.regionNodes(region).filter((n) => n.running);
      const statuses = await Promise.all(running.map((n) => n.status()));
      last = JSON.stringify(statuses.map((s) => s && { node: s.node, role: s.role, term: s.term, leader: s.leader }));
      const leaders = statuses.filter((s) => s?.role === "leader");
      if (leaders.length !== 1) return undefined;
      const leader = leaders[0] as NodeStatus;
      if (!statuses.every((s) => s?.leader === leader.node && s.term === leader.term)) return undefined;
      return running.find((n) => n.name === leader.node);
    }, timeoutMs);
    if (found === undefined) throw new Error(`no agreed leader in ${region} within ${timeoutMs} ms; last seen ${last}`);
    return found;
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.kill()));
  }

  /** Kills everything and removes the data, unless KEEP_E2E_DATA is set (for debugging). */
  async destroy(): Promise<void> {
    await this.stopAll();
    if (process.env["KEEP_E2E_DATA"] === undefined) rmSync(this.root, { recursive: true, force: true });
  }
}

/** Polls `probe` every 50 ms until it returns a value, or gives up after timeoutMs. */
export async function waitFor<T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs: number, intervalMs = 50): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; attempt < 100_000 && Date.now() < deadline; attempt++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  return undefined;
}
