// How fast could any majority-durable lock service built on geolock's stack be on this
// machine? Three child processes (floor-replica.ts) do only what such a service cannot
// avoid: a client's operations reach the leader over a WebSocket, go to both followers,
// are written by each replica with LevelDB (geolock's LevelRecordStore, one fsync a batch),
// and are answered once two of the three have them on disk. No Raft, no lock state, no
// validation of meaning. The client here is a bare WebSocket whose operations issued in one
// turn share a frame, as the geolock client's do.
//
// - c=1: one operation at a time. Every handoff of a contended lock is such a chain (the
//   holder's release must be on a majority's disks before the next waiter may be told it
//   holds the lock, and that waiter's release starts the next), so its ops/s bounds the
//   contended handoff rate; two of them are one lock cycle (acquire, release) at c=1.
// - c=64: 64 closed-loop workers; ops/s over 2 bounds lock cycles/s at c=64.
//
// Read beside `versus`: the gap between geolock and this floor is geolock's own overhead,
// not the machine's.

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { decodePlain, encodeValue, zeroFrameMask } from "@geolock/transport";
import WebSocket, { type RawData } from "ws";
import { startServer, waitUntil, type ServerProcess } from "../processes.js";
import { measureScenario } from "../scenario.js";
import type { BenchOptions, BenchSuite, ScenarioResult } from "../suite.js";

const CONCURRENCIES = [1, 64] as const;
const REPLICA_SCRIPT = fileURLToPath(new URL("../floor-replica.js", import.meta.url));
const LISTENING = /floor-replica listening on 127\.0\.0\.1:(\d+)/;
const START_TIMEOUT_MS = 10_000;
const CONNECT_TIMEOUT_MS = 5_000;
/** A lock command's size on the wire, about: what each operation carries. */
const PAYLOAD = "acquire bench:floor/000000/00 session 000000 owner bench-00 seq 00000";
const DECODE_DEPTH_MAX = 4;
const SYSTEM = "floor: 3 replicas (ws + msgpackr + LevelDB fsync), majority-durable";

export interface FloorCluster {
  readonly leaderPort: number;
  /** The two followers' processes (tests pause them). */
  readonly followers: readonly ServerProcess[];
  stop(): Promise<void>;
}

async function startReplica(script: string, name: string, dir: string, args: readonly string[]): Promise<{ port: number; process: ServerProcess }> {
  const data = join(dir, name);
  mkdirSync(data, { recursive: true });
  const logPath = join(dir, `${name}.log`);
  writeFileSync(logPath, "");
  const child = startServer(`floor ${name}`, process.execPath, [script, "--data", data, ...args], logPath);
  try {
    await waitUntil(`floor ${name} to listen`, async () => LISTENING.test(child.logTail()), START_TIMEOUT_MS, 20, () =>
      child.exited() ? `it exited: ${child.logTail()}` : undefined,
    );
    const match = LISTENING.exec(child.logTail());
    if (match === null) throw new Error(`floor ${name} printed no port: ${child.logTail()}`);
    return { port: Number(match[1]), process: child };
  } catch (error) {
    await child.stop();
    throw error;
  }
}

/** Starts two followers, then the leader that connects to them; `dir` holds their data and logs. */
export async function startFloorCluster(dir: string, script = REPLICA_SCRIPT): Promise<FloorCluster> {
  const started: ServerProcess[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(started.map((p) => p.stop()));
  };
  try {
    const ports = [];
    for (const name of ["follower-1", "follower-2"]) {
      const replica = await startReplica(script, name, dir, []);
      started.push(replica.process);
      ports.push(replica.port);
    }
    const followers = [...started];
    const leader = await startReplica(script, "leader", dir, ["--followers", ports.join(",")]);
    started.push(leader.process);
    return { leaderPort: leader.port, followers, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/**
 * A client connection whose operations resolve when the leader answers their ids. An answer
 * it cannot read, or the connection closing, fails every operation still waiting.
 */
export class FloorClient {
  private nextId = 1;
  private readonly waiters = new Map<number, Waiter>();
  private outbox: [number, string][] = [];
  private scheduled = false;
  private failure: Error | undefined;

  private constructor(private readonly socket: WebSocket) {
    socket.on("message", (data: RawData, isBinary: boolean) => {
      const decoded = isBinary && Buffer.isBuffer(data) ? decodePlain(data, DECODE_DEPTH_MAX) : undefined;
      if (decoded?.ok !== true || !Array.isArray(decoded.value)) return this.fail("the leader's answer is not an array of operation ids");
      for (const id of decoded.value as unknown[]) {
        const waiter = typeof id === "number" ? this.waiters.get(id) : undefined;
        if (waiter === undefined) return this.fail(`the leader answered operation ${String(id)}, which is not waiting`);
        this.waiters.delete(id as number);
        waiter.resolve();
      }
    });
    socket.on("close", () => this.fail("the connection to the leader closed"));
    socket.on("error", (error) => this.fail(`the connection to the leader failed: ${error.message}`));
  }

  private fail(reason: string): void {
    this.failure ??= new Error(`floor: ${reason}`);
    for (const waiter of this.waiters.values()) waiter.reject(this.failure);
    this.waiters.clear();
    this.socket.terminate();
  }

  static open(port: number): Promise<FloorClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false, generateMask: zeroFrameMask, handshakeTimeout: CONNECT_TIMEOUT_MS });
      socket.once("open", () => resolve(new FloorClient(socket)));
      socket.once("error", reject);
    });
  }

  /** One operation: resolves once a majority of replicas has it on disk. */
  op(): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      this.waiters.set(id, { resolve, reject });
      this.outbox.push([id, PAYLOAD]);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          const frame = this.outbox;
          this.outbox = [];
          this.socket.send(encodeValue(frame));
        });
      }
    });
  }

  get unanswered(): number {
    return this.waiters.size;
  }

  close(): void {
    this.socket.terminate();
  }
}

export const suite: BenchSuite = {
  name: "floor",
  description:
    "The least any majority-durable lock service on geolock's stack can cost on this machine: 3 replica processes " +
    "that only relay, write with LevelDB (fsync a batch) and answer on a majority; c = 1 (bounds contended handoffs/s) and 64",
  async run(options: BenchOptions): Promise<ScenarioResult[]> {
    const cluster = await startFloorCluster(options.scratchDir);
    try {
      const results: ScenarioResult[] = [];
      for (const concurrency of CONCURRENCIES) {
        const client = await FloorClient.open(cluster.leaderPort);
        try {
          const result = await measureScenario(options, {
            scenario: "op chain (client, leader, followers, majority fsync, answer)",
            system: SYSTEM,
            concurrency,
            op: () => client.op(),
          });
          results.push({ ...result, extra: { ...result.extra, lockCyclesPerSecondBound: Math.round(result.opsPerSecond / 2) } });
        } finally {
          client.close();
        }
      }
      return results;
    } finally {
      await cluster.stop();
    }
  },
};
