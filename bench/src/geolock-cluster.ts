// A geolock cluster of real node processes (the built dist/node.js) on 127.0.0.1 for
// benchmarks: free ports, a config file and fresh data directories in the scratch dir, a
// secret file, readiness by GET /status, kill -9 and graceful stop, never left behind.

import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { assertRunning, freePort, startServer, waitUntil, type ServerProcess } from "./processes.js";

const NODE_ENTRY = fileURLToPath(new URL("../../dist/node.js", import.meta.url));

export interface GeolockNodeInfo {
  readonly region: string;
  readonly id: number;
  readonly port: number;
  readonly url: string;
  process: ServerProcess;
}

export interface GeolockCluster {
  readonly nodes: readonly GeolockNodeInfo[];
  /** The node that leads `region` right now (as its members agree), within a deadline. */
  leader(region: string, timeoutMs?: number): Promise<GeolockNodeInfo>;
  kill(node: GeolockNodeInfo): Promise<void>;
  restart(node: GeolockNodeInfo): void;
  /** Throws, naming the node and its log's tail, if a node exited that kill() did not stop. */
  assertRunning(): void;
  stop(): Promise<void>;
}

interface StatusView {
  readonly role: string;
  readonly leader: string | null;
}

export interface GeolockClusterOptions {
  readonly dir: string;
  readonly regions: readonly string[];
  readonly nodesPerRegion: number;
  /** The node program to start: this checkout's dist/node.js unless another build's is given. */
  readonly entry?: string;
}

export async function startGeolockCluster(options: GeolockClusterOptions): Promise<GeolockCluster> {
  const entry = options.entry ?? NODE_ENTRY;
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run "npm run build" first`);
  mkdirSync(options.dir, { recursive: true });
  const secretFile = join(options.dir, "secret");
  writeFileSync(secretFile, "bench-cluster-secret-0123456789abcdef");
  const regions = [];
  for (const [r, name] of options.regions.entries()) {
    const nodes = [];
    for (let n = 1; n <= options.nodesPerRegion; n++) nodes.push({ id: n, host: "127.0.0.1", port: await freePort() });
    regions.push({ name, id: r + 1, nodes });
  }
  const configFile = join(options.dir, "cluster.json");
  writeFileSync(configFile, JSON.stringify({ clusterId: "geolock-bench", regions }));

  const launch = (region: string, id: number): ServerProcess =>
    startServer(
      `geolock ${region}/${id}`,
      process.execPath,
      [entry, "--region", region, "--node", String(id), "--config", configFile, "--data", join(options.dir, `${region}-${id}`), "--secret-file", secretFile, "--log-level", "warn"],
      join(options.dir, `${region}-${id}.log`),
    );
  const nodes: GeolockNodeInfo[] = regions.flatMap((r) =>
    r.nodes.map((n) => ({ region: r.name, id: n.id, port: n.port, url: `ws://127.0.0.1:${n.port}/client`, process: launch(r.name, n.id) })),
  );

  const status = async (node: GeolockNodeInfo): Promise<StatusView> => {
    const res = await fetch(`http://127.0.0.1:${node.port}/status`, { signal: AbortSignal.timeout(1_000) });
    return (await res.json()) as StatusView;
  };

  const leader = async (region: string, timeoutMs = 15_000): Promise<GeolockNodeInfo> => {
    let found: GeolockNodeInfo | undefined;
    await waitUntil(
      `a leader in ${region}`,
      async () => {
        const members = nodes.filter((n) => n.region === region && !n.process.exited());
        const views = await Promise.all(members.map(status));
        const lead = views.find((v) => v.role === "leader");
        if (lead === undefined || !views.every((v) => v.leader === lead.leader)) return false;
        found = members.find((n) => `${n.region}/${n.id}` === lead.leader);
        return found !== undefined;
      },
      timeoutMs,
      50,
    );
    return found as GeolockNodeInfo;
  };

  try {
    for (const region of options.regions) await leader(region, 30_000);
  } catch (error) {
    await Promise.all(nodes.map((n) => n.process.stop()));
    throw error;
  }

  const killed = new Set<GeolockNodeInfo>();
  return {
    nodes,
    leader,
    async kill(node) {
      killed.add(node);
      node.process.child.kill("SIGKILL");
      await waitUntil(`${node.region}/${node.id} to exit`, async () => node.process.exited(), 5_000, 10);
    },
    restart(node) {
      node.process = launch(node.region, node.id);
      killed.delete(node);
    },
    assertRunning() {
      assertRunning(nodes.filter((n) => !killed.has(n)).map((n) => n.process));
    },
    async stop() {
      await Promise.all(nodes.map((n) => n.process.stop()));
    },
  };
}
