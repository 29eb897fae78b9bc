// The ceiling the real server is held against: a 3-node Raft group in one process, on an
// in-memory network (a FIFO of message objects handed from node to node, no codec, no
// copies), with zero disk latency (MemoryStorage), no faults and no ticks. Each driver turn
// proposes a batch of 1, 16 or 256 entries (64-byte payloads) to the leader, then runs the
// three drivers, Ready contract and all, until the group is quiet again: every entry of the
// batch is then committed and applied on all three nodes. What it measures is the Raft core
// and a minimal driver on real CPU: committed entries per second, the latency of one turn,
// and CPU time per committed entry (process.cpuUsage, user + system).

import { performance } from "node:perf_hooks";
import { MemoryStorage, RawNode, SeededRng, asIndex, asNodeId } from "@geolock/raft";
import type { Message, NodeId, Ready } from "@geolock/raft";
import { Histogram } from "../histogram.js";
import { median } from "../scenario.js";
import type { BenchOptions, BenchSuite, RunSample, ScenarioResult } from "../suite.js";

const BATCH_SIZES = [1, 16, 256] as const;
const PAYLOAD_BYTES = 64;
const NODE_IDS: readonly NodeId[] = [1, 2, 3].map(asNodeId);
/** Compact each log to this many entries after every COMPACT_EVERY_ENTRIES applied, to bound memory. */
const COMPACT_EVERY_ENTRIES = 20_000;
const COMPACT_KEEP_ENTRIES = 1_000;
/** Bounds on the loops that drive the group to quiet (a healthy group needs a handful of rounds). */
const ROUNDS_PER_TURN_MAX = 1_000;
const TICKS_TO_ELECT_MAX = 1_000;
/** Upper bound on turns per measured window, whatever its duration. */
const TURNS_PER_WINDOW_MAX = 50_000_000;

interface BenchNode {
  readonly id: NodeId;
  readonly raw: RawNode;
  readonly storage: MemoryStorage;
  applied: number;
  lastCompacted: number;
}

class InProcessGroup {
  readonly nodes: readonly BenchNode[];
  private inFlight: Message[] = [];
  private readonly payload = new Uint8Array(PAYLOAD_BYTES).fill(7);

  constructor(seed: number) {
    const conf = { voters: NODE_IDS, learners: [] };
    const rng = new SeededRng(seed);
    this.nodes = NODE_IDS.map((id) => {
      const storage = new MemoryStorage(conf);
      const raw = new RawNode({ id, storage, rng: new SeededRng(rng.nextUint32()), electionTicks: 10, heartbeatTicks: 1 });
      return { id, raw, storage, applied: 0, lastCompacted: 0 };
    });
  }

  /** Ticks until a leader is elected and its no-op is applied everywhere. */
  elect(): BenchNode {
    for (let tick = 0; tick < TICKS_TO_ELECT_MAX; tick++) {
      for (const node of this.nodes) node.raw.tick();
      this.runToQuiet();
      const leader = this.nodes.find((n) => n.raw.status().role === "leader");
      if (leader !== undefined) return leader;
    }
    throw new Error(`raft-inprocess: no leader after ${TICKS_TO_ELECT_MAX} ticks`);
  }

  /** One driver turn: propose `batch` entries to the leader, run until quiet. */
  turn(leader: BenchNode, batch: number): void {
    for (let i = 0; i < batch; i++) {
      const result = leader.raw.propose(this.payload);
      if (!result.ok) throw new Error(`raft-inprocess: proposal refused (${result.reason}) by node ${leader.id}`);
    }
    this.runToQuiet();
  }

  private runToQuiet(): void {
    for (let round = 0; round < ROUNDS_PER_TURN_MAX; round++) {
      let busy = false;
      for (const node of this.nodes) {
        while (node.raw.hasReady()) {
          this.handleReady(node, node.raw.ready());
          busy = true;
        }
      }
      if (this.inFlight.length > 0) {
        busy = true;
        const delivering = this.inFlight;
        this.inFlight = [];
        for (const message of delivering) (this.nodes[message.to - 1] as BenchNode).raw.step(message);
      }
      if (!busy) return;
    }
    throw new Error(`raft-inprocess: still busy after ${ROUNDS_PER_TURN_MAX} rounds`);
  }

  /** The Ready contract with a zero-latency disk: persist, (mirror is the same), send, apply, advance. */
  private handleReady(node: BenchNode, ready: Ready): void {
    if (ready.snapshot !== undefined) node.storage.applySnapshot(ready.snapshot);
    node.storage.append(ready.entries);
    if (ready.hardState !== undefined) node.storage.setHardState(ready.hardState);
    for (const message of ready.messages) this.inFlight.push(message);
    const last = ready.committedEntries[ready.committedEntries.length - 1];
    if (last !== undefined) node.applied = last.index;
    node.raw.advance();
    if (node.applied - node.lastCompacted >= COMPACT_EVERY_ENTRIES) this.compact(node);
  }

  private compact(node: BenchNode): void {
    const index = asIndex(node.applied);
    node.storage.createSnapshot(index, node.raw.confState(), new Uint8Array(0));
    node.storage.compact(asIndex(node.applied - COMPACT_KEEP_ENTRIES));
    node.lastCompacted = node.applied;
  }
}

interface WindowResult {
  readonly entriesPerSecond: number;
  readonly cpuMicrosPerEntry: number;
  readonly turnLatency: Histogram;
  readonly entries: number;
}

/** Runs turns for `seconds` of wall time; counts entries committed (and applied on all three). */
function runWindow(group: InProcessGroup, leader: BenchNode, batch: number, seconds: number): WindowResult {
  const turnLatency = new Histogram();
  const startApplied = Math.min(...group.nodes.map((n) => n.applied));
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  const deadline = start + seconds * 1000;
  let now = start;
  for (let turns = 0; turns < TURNS_PER_WINDOW_MAX && now < deadline; turns++) {
    const before = now;
    group.turn(leader, batch);
    now = performance.now();
    turnLatency.recordMs(now - before);
  }
  const cpu = process.cpuUsage(cpuStart);
  const applied = group.nodes.map((n) => n.applied);
  if (applied.some((a) => a !== applied[0])) throw new Error(`raft-inprocess: nodes applied different counts after a quiet turn: ${applied.join(", ")}`);
  const entries = (applied[0] as number) - startApplied;
  const elapsedSeconds = (now - start) / 1000;
  return {
    entriesPerSecond: entries / elapsedSeconds,
    cpuMicrosPerEntry: entries > 0 ? (cpu.user + cpu.system) / entries : 0,
    turnLatency,
    entries,
  };
}

async function measureBatch(options: BenchOptions, batch: number): Promise<ScenarioResult> {
  const windows: WindowResult[] = [];
  for (let repeat = 0; repeat < options.repeats; repeat++) {
    const group = new InProcessGroup(repeat + 1);
    const leader = group.elect();
    runWindow(group, leader, batch, options.warmupSeconds);
    const window = runWindow(group, leader, batch, options.measureSeconds);
    windows.push(window);
    process.stderr.write(
      `  raft in-process batch ${batch} run ${repeat + 1}/${options.repeats}: ${window.entriesPerSecond.toFixed(0)} entries/s, ` +
        `${window.cpuMicrosPerEntry.toFixed(2)} us CPU/entry, turn p50 ${window.turnLatency.quantileMs(0.5).toFixed(3)} ms\n`,
    );
    // Let the event loop breathe (stderr, signals) between repeats of this synchronous loop.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  const runs: RunSample[] = windows.map((w) => ({
    opsPerSecond: w.entriesPerSecond,
    p50Ms: w.turnLatency.quantileMs(0.5),
    p99Ms: w.turnLatency.quantileMs(0.99),
  }));
  return {
    scenario: `raft in-process 3 nodes, batch ${batch}`,
    system: "geolock raft core (in-process, no I/O)",
    opsPerSecond: median(runs.map((r) => r.opsPerSecond)),
    p50Ms: median(runs.map((r) => r.p50Ms)),
    p99Ms: median(runs.map((r) => r.p99Ms)),
    p999Ms: median(windows.map((w) => w.turnLatency.quantileMs(0.999))),
    runs,
    extra: {
      batch,
      cpuMicrosPerEntry: median(windows.map((w) => w.cpuMicrosPerEntry)),
      entriesPerRepeat: median(windows.map((w) => w.entries)),
      latencyIs: "one driver turn: propose the batch, run the group to quiet",
    },
  };
}

export const suite: BenchSuite = {
  name: "raft-inprocess",
  description:
    "3-node Raft group in one process: in-memory network, zero-latency disk, no faults; committed entries/s " +
    "and CPU time per entry at proposal batches of 1, 16 and 256 per driver turn (the ceiling for the server)",
  async run(options: BenchOptions): Promise<ScenarioResult[]> {
    const results: ScenarioResult[] = [];
    for (const batch of BATCH_SIZES) results.push(await measureBatch(options, batch));
    return results;
  },
};
