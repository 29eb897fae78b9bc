// The Redis baseline of BASELINES.md: a single redis-server started here on a free loopback
// port with a temporary directory, AOF on with `appendfsync everysec` and then `always`
// (one fresh server per mode), and the usual single-instance Redis lock:
//   acquire = SET key token NX PX ttl, release = a Lua compare-and-delete (EVALSHA).
// All workers share one pipelined connection ("1 conn"), each on its own lock name, so every
// SET must succeed and every release must delete.

import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { commandOutput, freePort, startServer, waitUntil, type ServerProcess } from "../processes.js";
import { RespClient } from "../resp.js";
import { BASELINE_CONCURRENCIES, measureScenario } from "../scenario.js";
import type { BenchOptions, BenchSuite, ScenarioResult } from "../suite.js";

export const REDIS_BINARY = "/usr/bin/redis-server";
const FSYNC_MODES = ["everysec", "always"] as const;
type FsyncMode = (typeof FSYNC_MODES)[number];
const LOCK_TTL_MS = 30_000;
const START_TIMEOUT_MS = 10_000;
/** Deletes the key only if it still holds the caller's token: never release someone else's lock. */
const RELEASE_SCRIPT =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

interface RedisServer {
  readonly port: number;
  readonly process: ServerProcess;
}

async function redisVersion(): Promise<string> {
  const out = await commandOutput(REDIS_BINARY, ["--version"]);
  return `redis ${/v=(\S+)/.exec(out)?.[1] ?? "unknown"}`;
}

async function startRedis(dir: string, mode: FsyncMode): Promise<RedisServer> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const args = [
    "--port", String(port), "--bind", "127.0.0.1", "--dir", dir,
    "--appendonly", "yes", "--appendfsync", mode, "--save", "", "--daemonize", "no",
  ];
  const server = startServer(`redis ${mode}`, REDIS_BINARY, args, join(dir, "redis.log"));
  try {
    await waitUntil(
      `redis-server on port ${port}`,
      async () => {
        const probe = await RespClient.connect(port);
        try {
          return (await probe.command("PING")) === "PONG";
        } finally {
          probe.close();
        }
      },
      START_TIMEOUT_MS,
      100,
      () => (server.exited() ? `redis-server exited:\n${server.logTail()}` : undefined),
    );
  } catch (err) {
    await server.stop();
    throw err;
  }
  return { port, process: server };
}

async function lockScenario(
  client: RespClient,
  options: BenchOptions,
  system: string,
  mode: FsyncMode,
  c: number,
): Promise<ScenarioResult> {
  const sha = await client.command("SCRIPT", "LOAD", RELEASE_SCRIPT);
  if (typeof sha !== "string") throw new Error(`SCRIPT LOAD answered ${String(sha)}`);
  const keys = Array.from({ length: c }, (_, w) => `bench:lock:c${c}:${w}`);
  const seq = new Float64Array(c);
  return measureScenario(options, {
    scenario: `redis lock appendfsync ${mode}`,
    system,
    concurrency: c,
    op: async (w) => {
      const key = keys[w] as string;
      seq[w] = (seq[w] ?? 0) + 1;
      const token = `${w}:${seq[w]}`;
      const set = await client.command("SET", key, token, "NX", "PX", LOCK_TTL_MS);
      if (set !== "OK") throw new Error(`SET NX of ${key} answered ${String(set)}, though only worker ${w} uses it`);
      const released = await client.command("EVALSHA", sha, 1, key, token);
      if (released !== 1) throw new Error(`release of ${key} answered ${String(released)}`);
    },
  });
}

/** Refuses to measure unless the server really runs with the AOF and fsync policy asked for. */
async function checkDurability(client: RespClient, mode: FsyncMode): Promise<void> {
  const aof = await client.command("CONFIG", "GET", "appendonly");
  const fsync = await client.command("CONFIG", "GET", "appendfsync");
  if (JSON.stringify([aof, fsync]) !== JSON.stringify([["appendonly", "yes"], ["appendfsync", mode]])) {
    throw new Error(`redis-server runs with ${JSON.stringify([aof, fsync])}, expected AOF on and appendfsync ${mode}`);
  }
}

async function runMode(options: BenchOptions, system: string, mode: FsyncMode): Promise<ScenarioResult[]> {
  const server = await startRedis(join(options.scratchDir, `redis-${mode}`), mode);
  const results: ScenarioResult[] = [];
  let client: RespClient | undefined;
  try {
    client = await RespClient.connect(server.port);
    await checkDurability(client, mode);
    for (const c of BASELINE_CONCURRENCIES) results.push(await lockScenario(client, options, system, mode, c));
    return results;
  } finally {
    client?.close();
    await server.process.stop();
  }
}

export const suite: BenchSuite = {
  name: "redis",
  description: "Redis 7 single node: SET NX PX + Lua compare-and-delete lock, appendfsync everysec and always",
  async run(options: BenchOptions): Promise<ScenarioResult[]> {
    if (!existsSync(REDIS_BINARY)) {
      throw new Error(`${REDIS_BINARY} not found: install Redis with "apt-get install redis-server"`);
    }
    const system = await redisVersion();
    const results: ScenarioResult[] = [];
    for (const mode of FSYNC_MODES) results.push(...(await runMode(options, system, mode)));
    return results;
  },
};
