// CPU time per lock cycle (try-lock acquire + release of the worker's own name) of the two
// JavaScript request paths, without the real cluster's Raft, disks and sockets: on this
// 2-core machine the full-cluster suites vary by about 30 %, too much to see a change of a
// few percent in either path; these scenarios vary far less, so a change to one of the
// paths can be measured in the same run before and after.
//
// - "server request path": RequestRouter.handle -> LockService.submit -> the turn's batch ->
//   an encoded Raft entry -> a stub Raft node that commits every proposed entry at once (on
//   a setImmediate, in proposal order) -> RegionApplication.applyEntry -> the lock state
//   machine -> the answers, all in this process, wired as GeolockNode wires them (with a
//   GlobalService and PaxosPeers on an in-memory transport that nothing uses). What is left
//   out: the client endpoint's frame decoding and parseClientRequest, Raft, the log, the
//   network. Every worker is its own client (client id, session opened first).
// - "server request path and a follower's apply": the same, and every committed entry's
//   bytes (copied, as off the wire) applied by a second RegionApplication that proposed
//   nothing, as a follower applies them: it decodes the entry, where the leader applies its
//   own proposals from memory. Its CPU per cycle less the server path's is what a follower
//   spends applying a cycle; the two replicas' snapshots must be equal at the end.
// - "client library": GeolockClient workers made by fork(), sharing one WebSocket
//   connection, against a stub node in a child process (src/stub-node.ts: the client
//   protocol answered at once from a few maps). The CPU reported is this process's: the
//   library, its socket and codec, and the closed loop; the stub's own CPU is not counted.
//
// Each scenario runs at concurrency 1, 16 and 64 (closed-loop workers, load.ts). Per repeat
// the wiring (or the client connection) is made fresh and sessions are opened; then a
// warm-up loop and a measured loop run back to back, as two closed loops so that this
// process's CPU time (process.cpuUsage, user + system) can be read around the measured one
// alone. CPU per cycle is that time over the cycles completed in the window; it also counts
// the at most `concurrency` cycles still running when the window closes (under 0.1 % at
// the default 5 s). Reported: cycles/s, the latency of one cycle, and CPU per cycle, each
// the median over the repeats. Every acquire must answer "granted" and every release
// "released" for the worker's own name; the first failure fails the run instead of
// producing a number.

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { GeolockClient } from "@geolock/client";
import { asRegionId, paxosConfig } from "@geolock/paxos";
import { asIndex, asNodeId, asTerm, NO_NODE, type Entry, type ProposeResult } from "@geolock/raft";
import {
  DEFAULT_GLOBAL_TIMING,
  GlobalService,
  LockService,
  PaxosPeers,
  RegionApplication,
  RequestRouter,
  type Clock,
  type LockServiceNode,
  type Topology,
} from "@geolock/server";
import { MemoryTransportNetwork, type ClientResponse, type MemoryTransport, type RoutedRequest } from "@geolock/transport";
import { pino } from "pino";
import { runClosedLoop, type LoadResult } from "../load.js";
import { startServer, waitUntil, type ServerProcess } from "../processes.js";
import { median } from "../scenario.js";
import type { BenchOptions, BenchSuite, RunSample, ScenarioResult } from "../suite.js";

const CONCURRENCIES = [1, 16, 64] as const;
const REGION = "bench";
const NODE_NAME = `${REGION}/1`;
const SESSION_TTL_MS = 60_000;
/** The server's clock stands still: no session or wait can expire during a run. */
const FIXED_NOW_MS = 1_000_000;
const TERM = asTerm(1);
/** Bound on cycles per loop, whatever the window's duration. */
const CYCLES_PER_LOOP_MAX = 50_000_000;
/** Bound on opening or closing the sessions of one repeat. */
const SETUP_TIMEOUT_MS = 15_000;
const STUB_START_TIMEOUT_MS = 10_000;
/** What src/stub-node.ts prints once it listens. */
const STUB_LISTENING = /stub-node listening on 127\.0\.0\.1:(\d+)/;
const STUB_SCRIPT = fileURLToPath(new URL("../stub-node.js", import.meta.url));

/** One lock cycle of worker `worker`; throws on any answer but "granted" then "released". */
type Cycle = (worker: number) => Promise<void>;

/** Rejects with `what` if `promise` has not settled within `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`lock-path: ${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

interface Window {
  readonly load: LoadResult;
  readonly cpuMicrosPerCycle: number;
  readonly userMicrosPerCycle: number;
}

/** A closed loop of `cycle` for `seconds`; the first failed cycle stops it and throws. */
function closedLoop(concurrency: number, seconds: number, cycle: Cycle): Promise<LoadResult> {
  return runClosedLoop({ concurrency, warmupMs: 0, measureMs: seconds * 1000, maxOps: CYCLES_PER_LOOP_MAX, maxErrors: 0, op: cycle });
}

/** The warm-up loop, then the measured loop with this process's CPU time around it. */
async function measureWindow(concurrency: number, options: BenchOptions, cycle: Cycle): Promise<Window> {
  if (options.warmupSeconds > 0) await closedLoop(concurrency, options.warmupSeconds, cycle);
  const cpuStart = process.cpuUsage();
  const load = await closedLoop(concurrency, options.measureSeconds, cycle);
  const cpu = process.cpuUsage(cpuStart);
  if (load.unfinishedWorkers > 0) throw new Error(`lock-path: ${load.unfinishedWorkers} cycles never finished`);
  const cycles = Math.max(load.ops, 1);
  return { load, cpuMicrosPerCycle: (cpu.user + cpu.system) / cycles, userMicrosPerCycle: cpu.user / cycles };
}

/** What one repeat needs: the cycle to run, and how to undo its setup. */
interface Rig {
  readonly cycle: Cycle;
  close(): Promise<void>;
}

interface PathSpec {
  readonly scenario: string;
  readonly system: string;
  readonly latencyIs: string;
  readonly cpuIs: string;
  /** Builds a fresh rig for one repeat at `concurrency`, sessions open. */
  rig(concurrency: number): Promise<Rig>;
}

async function measurePath(options: BenchOptions, spec: PathSpec, concurrency: number): Promise<ScenarioResult> {
  const windows: Window[] = [];
  for (let repeat = 0; repeat < options.repeats; repeat++) {
    let window: Window;
    try {
      const rig = await spec.rig(concurrency);
      try {
        window = await measureWindow(concurrency, options, rig.cycle);
      } finally {
        await rig.close();
      }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(`lock-path: ${spec.scenario} c=${concurrency} run ${repeat + 1}: ${message}`, { cause: error });
    }
    if (window.load.ops === 0) throw new Error(`lock-path: ${spec.scenario} c=${concurrency} completed no cycle in its window`);
    windows.push(window);
    process.stderr.write(
      `  ${spec.scenario} c=${concurrency} run ${repeat + 1}/${options.repeats}: ${window.load.opsPerSecond.toFixed(0)} cycles/s, ` +
        `${window.cpuMicrosPerCycle.toFixed(2)} us CPU/cycle, p50 ${window.load.latency.p50Ms.toFixed(3)} ms\n`,
    );
    // Let the event loop settle (closed sockets, stderr) between repeats.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  const runs: RunSample[] = windows.map((w) => ({ opsPerSecond: w.load.opsPerSecond, p50Ms: w.load.latency.p50Ms, p99Ms: w.load.latency.p99Ms }));
  return {
    scenario: spec.scenario,
    system: spec.system,
    concurrency,
    opsPerSecond: median(runs.map((r) => r.opsPerSecond)),
    p50Ms: median(runs.map((r) => r.p50Ms)),
    p99Ms: median(runs.map((r) => r.p99Ms)),
    p999Ms: median(windows.map((w) => w.load.latency.p999Ms)),
    runs,
    extra: {
      cpuMicrosPerCycle: median(windows.map((w) => w.cpuMicrosPerCycle)),
      userMicrosPerCycle: median(windows.map((w) => w.userMicrosPerCycle)),
      cpuMicrosPerCycleRuns: windows.map((w) => w.cpuMicrosPerCycle.toFixed(2)).join(" / "),
      cyclesPerRepeat: median(windows.map((w) => w.load.ops)),
      cpuIs: spec.cpuIs,
      latencyIs: spec.latencyIs,
    },
  };
}

function cycleName(worker: number): string {
  return `${REGION}:cycle/${worker}`;
}

// ---------------------------------------------------------------------------------------
// Server request path

/**
 * Stands in for RegionNode: every proposed entry is committed, and applied through the
 * region's application, on the next setImmediate, in proposal order (a leader alone with
 * a zero-latency disk), and then through the follower's application if there is one.
 * Leadership is fixed; after stop() it refuses proposals.
 */
class CommitAtOnceNode implements LockServiceNode {
  private lastIndex = 0;
  private pending: Entry[] = [];
  private flushes: (() => void)[] = [];
  private scheduled = false;
  private stopped = false;

  constructor(
    private readonly app: RegionApplication,
    private readonly follower?: RegionApplication,
  ) {}

  propose(data: Uint8Array): ProposeResult {
    if (this.stopped) return { ok: false, reason: "notLeader", leader: NO_NODE };
    this.lastIndex += 1;
    const entry: Entry = { index: asIndex(this.lastIndex), term: TERM, kind: "normal", data };
    this.pending.push(entry);
    this.schedule();
    return { ok: true, index: entry.index, term: TERM };
  }

  /** As RegionNode: the flush runs in the next drain, before that drain's entries commit. */
  beforeNextReady(flush: () => void): void {
    this.flushes.push(flush);
    this.schedule();
  }

  /** Nothing here reads linearizably; a leader alone would confirm at once. */
  linearizableRead(): Promise<void> {
    return Promise.resolve();
  }

  stop(): void {
    this.stopped = true;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.commit());
  }

  private commit(): void {
    this.scheduled = false;
    const flushes = this.flushes;
    this.flushes = [];
    for (const flush of flushes) flush();
    const entries = this.pending;
    this.pending = [];
    if (this.stopped) return;
    for (const entry of entries) {
      this.app.applyEntry(entry);
      this.follower?.applyEntry({ ...entry, data: entry.data.slice() });
    }
  }
}

interface ServerWorker {
  readonly clientId: string;
  readonly owner: string;
  readonly name: string;
  readonly sessionId: number;
  seq: number;
}

/** The fields of an ok answer's result, or a thrown error naming what was expected. */
function expectResult(response: ClientResponse, expected: string, what: string): Readonly<Record<string, unknown>> {
  if (!response.ok) throw new Error(`lock-path: ${what} failed: ${response.error.code}: ${response.error.message}`);
  const result: unknown = response.result;
  if (typeof result !== "object" || result === null || Array.isArray(result)) throw new Error(`lock-path: ${what} answered ${JSON.stringify(result)}`);
  const fields = result as Readonly<Record<string, unknown>>;
  if (fields["type"] !== expected) throw new Error(`lock-path: ${what} answered ${JSON.stringify(result)}, expected "${expected}"`);
  return fields;
}

function expectLockAnswer(response: ClientResponse, expected: "granted" | "released", name: string, what: string): void {
  const fields = expectResult(response, expected, `${what} of ${name}`);
  if (fields["name"] !== name) throw new Error(`lock-path: ${what} of ${name} answered for ${String(fields["name"])}`);
}

const TOPOLOGY: Topology = {
  clusterId: "bench-lock-path",
  regions: [{ name: REGION, id: 1, nodes: [1, 2].map((id) => ({ id, host: "127.0.0.1", port: id })) }],
};

interface Replica {
  readonly transport: MemoryTransport;
  readonly locks: LockService;
  readonly global: GlobalService;
  readonly app: RegionApplication;
}

/** One replica's application, wired as GeolockNode wires it, with the node's settings. */
function replica(network: MemoryTransportNetwork, id: number): Replica {
  const logger = pino({ level: "silent" });
  const clock: Clock = { nowMs: () => FIXED_NOW_MS };
  const transport: MemoryTransport = network.create(`${REGION}/${id}`);
  const region = asRegionId(REGION);
  const paxos = paxosConfig([region]);
  const peerNameOf = (peer: number): `${string}/${number}` => `${REGION}/${peer}`;
  const peers = new PaxosPeers({ topology: TOPOLOGY, region, self: transport.self, paxos }, transport);
  const global = new GlobalService({ ...DEFAULT_GLOBAL_TIMING, region, paxos, seed: 1, peerNameOf }, clock, peers, logger);
  const locks = new LockService({ region: REGION, tickCommandMs: 100, proposalTimeoutMs: 5_000, peerNameOf }, clock, logger);
  return { transport, locks, global, app: new RegionApplication(locks, global) };
}

async function serverRig(concurrency: number, withFollower: boolean): Promise<Rig> {
  const topology = TOPOLOGY;
  const network = new MemoryTransportNetwork();
  const { transport, locks, global, app } = replica(network, 1);
  const follower = withFollower ? replica(network, 2) : undefined;
  const node = new CommitAtOnceNode(app, follower?.app);
  locks.attach(node);
  global.attach(node);
  // Only the lock service is told it leads: a leading GlobalService would run its Paxos
  // proposer's 10 ms ticker, which is no part of a regional lock cycle.
  locks.onLeadership("leader", asNodeId(1));
  const router = new RequestRouter(
    { topology, region: REGION, self: NODE_NAME, forwardHopsMax: 2, forwardTimeoutMs: 1_000, forwardsInFlightMax: 100 },
    locks,
    global,
    transport,
  );
  let nextId = 0;
  const handle = (request: RoutedRequest): Promise<ClientResponse> => router.handle(request);
  const teardown = async (): Promise<void> => {
    locks.stop();
    follower?.locks.stop();
    router.stop();
    node.stop();
    await transport.close();
    await follower?.transport.close();
  };

  let workers: ServerWorker[];
  try {
    workers = await within(
      Promise.all(
        Array.from({ length: concurrency }, async (_, w): Promise<ServerWorker> => {
          const clientId = `bench-client-${w}`;
          const opened = await handle({ id: ++nextId, op: "openSession", region: REGION, ttlMs: SESSION_TTL_MS, clientId, seq: 1 });
          const sessionId = expectResult(opened, "sessionOpened", `openSession of ${clientId}`)["sessionId"];
          if (typeof sessionId !== "number" || !Number.isSafeInteger(sessionId) || sessionId < 1) throw new Error(`lock-path: openSession of ${clientId} gave session ${String(sessionId)}`);
          return { clientId, owner: `bench-${w}`, name: cycleName(w), sessionId, seq: 1 };
        }),
      ),
      SETUP_TIMEOUT_MS,
      "opening the sessions",
    );
  } catch (error) {
    await teardown();
    throw error;
  }

  const cycle: Cycle = async (w) => {
    const worker = workers[w] as ServerWorker;
    const { clientId, sessionId, name } = worker;
    const acquired = await handle({ id: ++nextId, op: "acquire", name, sessionId, mode: "exclusive", waitMs: 0, owner: worker.owner, clientId, seq: ++worker.seq });
    expectLockAnswer(acquired, "granted", name, "acquire");
    const released = await handle({ id: ++nextId, op: "release", name, sessionId, clientId, seq: ++worker.seq });
    expectLockAnswer(released, "released", name, "release");
  };

  const close = async (): Promise<void> => {
    try {
      await within(
        Promise.all(
          workers.map(async (worker) => {
            const closed = await handle({ id: ++nextId, op: "closeSession", region: REGION, sessionId: worker.sessionId, clientId: worker.clientId, seq: ++worker.seq });
            expectResult(closed, "sessionClosed", `closeSession of ${worker.clientId}`);
          }),
        ),
        SETUP_TIMEOUT_MS,
        "closing the sessions",
      );
      // The follower applied every entry, or its CPU would not be a follower's.
      if (follower !== undefined && !sameBytes(follower.app.snapshot(), app.snapshot())) {
        throw new Error("lock-path: the follower's snapshot differs from the leader's after the run");
      }
    } finally {
      await teardown();
    }
  };
  return { cycle, close };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

const serverPath: PathSpec = {
  scenario: "server request path (router to applied answer)",
  system: "geolock server, in-process, Raft stubbed (commits at once)",
  latencyIs: "one cycle: RequestRouter.handle acquire (try-lock) + release, each to its applied answer",
  cpuIs: "this process, user + system, per cycle",
  rig: (concurrency) => serverRig(concurrency, false),
};

const serverAndFollower: PathSpec = {
  scenario: "server request path and a follower's apply",
  system: "geolock server, in-process, Raft stubbed, each entry also applied from its bytes by a follower",
  latencyIs: "one cycle: RequestRouter.handle acquire (try-lock) + release, each to its applied answer",
  cpuIs: "this process (the leader's path and the follower's apply), user + system, per cycle",
  rig: (concurrency) => serverRig(concurrency, true),
};

// ---------------------------------------------------------------------------------------
// Client library

interface StubNode {
  readonly url: string;
  readonly process: ServerProcess;
}

/** Starts src/stub-node.ts in a child process and waits until it listens. */
async function startStubNode(options: BenchOptions): Promise<StubNode> {
  // The stub exits on its own after this long, should it ever outlive the suite.
  const lifetimeSeconds = Math.ceil(CONCURRENCIES.length * options.repeats * (options.warmupSeconds + options.measureSeconds + 60) + 600);
  const logPath = join(options.scratchDir, "stub-node.log");
  // startServer appends: a line left by an earlier stub must not be read as this one's port.
  writeFileSync(logPath, "");
  const child = startServer("stub-node", process.execPath, [STUB_SCRIPT, "--lifetime-seconds", String(lifetimeSeconds)], logPath);
  try {
    await waitUntil("the stub node to listen", async () => STUB_LISTENING.test(child.logTail()), STUB_START_TIMEOUT_MS, 20, () =>
      child.exited() ? `it exited: ${child.logTail()}` : undefined,
    );
    const match = STUB_LISTENING.exec(child.logTail());
    if (match === null) throw new Error(`lock-path: the stub node printed no port: ${child.logTail()}`);
    return { url: `ws://127.0.0.1:${match[1] ?? ""}/client`, process: child };
  } catch (error) {
    await child.stop();
    throw error;
  }
}

function clientPath(stub: StubNode): PathSpec {
  return {
    scenario: "client library (fork, one connection, stub node)",
    system: "geolock client vs a stub node (child process)",
    latencyIs: "one cycle: client.acquire (try-lock) + handle.release, each a round trip to the stub node",
    cpuIs: "the client's process (not the stub's), user + system, per cycle",
    rig: async (concurrency) => {
      const root = await GeolockClient.connect({ endpoints: [stub.url], region: REGION, ttlMs: SESSION_TTL_MS, owner: "bench" });
      const clients = Array.from({ length: concurrency }, (_, w) => root.fork({ owner: `bench-${w}` }));
      const close = async (): Promise<void> => {
        try {
          await within(Promise.all(clients.map((c) => c.close())), SETUP_TIMEOUT_MS, "closing the clients");
        } finally {
          await root.close();
        }
      };
      const cycle: Cycle = async (w) => {
        const name = cycleName(w);
        const handle = await (clients[w] as GeolockClient).acquire(name, { waitMs: 0 });
        if (handle.name !== name || !Number.isSafeInteger(handle.token) || handle.token < 1) {
          throw new Error(`lock-path: acquire of ${name} gave a handle for ${handle.name} with token ${handle.token}`);
        }
        await handle.release();
      };
      try {
        // Open every worker's session before the windows (a fork opens it on first use).
        await within(Promise.all(clients.map((_, w) => cycle(w))), SETUP_TIMEOUT_MS, "opening the sessions");
      } catch (error) {
        await close();
        throw error;
      }
      return { cycle, close };
    },
  };
}

export const suite: BenchSuite = {
  name: "lock-path",
  description:
    "CPU time per lock cycle (try-lock acquire + release) of the two JavaScript request paths without Raft, disk or " +
    "cluster sockets: the server's router-to-applied-answer path in process on a stub Raft node (alone, and with a " +
    "follower applying the same entries from their bytes), and the client library against a stub node in a child " +
    "process; c = 1, 16, 64",
  async run(options: BenchOptions): Promise<ScenarioResult[]> {
    const results: ScenarioResult[] = [];
    for (const c of CONCURRENCIES) results.push(await measurePath(options, serverPath, c));
    for (const c of CONCURRENCIES) results.push(await measurePath(options, serverAndFollower, c));
    const stub = await startStubNode(options);
    try {
      const path = clientPath(stub);
      for (const c of CONCURRENCIES) results.push(await measurePath(options, path, c));
    } finally {
      await stub.process.stop();
    }
    return results;
  },
};
