// One simulated run: a cluster of SimNodes on virtual time, a seeded network and disks, a
// fault schedule, clients, and the safety checkers after every event. A run is a pure
// function of its seed and options: every random choice comes from SeededRng streams forked
// from the seed, every event is ordered by (virtual time, insertion sequence), and the
// trace hash fingerprints the whole course of the run.
//
// Phases: the fault phase executes `steps` events with faults and clients active; the
// liveness phase (see liveness.ts) then heals everything and demands recovery in bounded
// virtual time.

import { InvariantError } from "@geolock/locks";
import { DEFAULT_SNAPSHOT_CHUNK_BYTES, SeededRng, asNodeId } from "@geolock/raft";
import type { ConfState, Entry, Index, Message, NodeId, ProposeResult, RaftStatus, RaftConfig, Raft, ReadState, Ready, SnapshotMetadata, HardState } from "@geolock/raft";
import type { ApplicationFactory } from "./application.js";
import { VirtualClock, msToUs } from "./clock.js";
import { SimClient } from "./client.js";
import { paramsForSeed } from "./config.js";
import type { AppKind, ParamOverrides, Profile, SimParams } from "./config.js";
import { describeMessage, describeStatus } from "./describe.js";
import { SimDisk } from "./disk.js";
import type { DiskWrite } from "./disk.js";
import { EventQueue } from "./event-queue.js";
import type { Scheduled } from "./event-queue.js";
import { chooseFault, describeFault } from "./faults.js";
import type { ClusterView, FaultAction } from "./faults.js";
import { KvApp } from "./kv-app.js";
import { LockApp } from "./lock-app.js";
import { LockHarness } from "./lock-harness.js";
import { drawLockWorkload } from "./lock-workload.js";
import { nextMembershipStep, runLivenessPhase } from "./liveness.js";
import { SimNetwork, uniformUs } from "./network.js";
import { NodeClocks } from "./node-clock.js";
import { SafetyChecker } from "./safety.js";
import { SimNode } from "./sim-node.js";
import type { NodeEnv, NodeObserver, SimNodeConfig, SimNodeDeps } from "./sim-node.js";
import { TargetedFaults } from "./targeted-faults.js";
import type { FaultHost, TargetedFault } from "./targeted-faults.js";
import { Trace } from "./trace.js";
import type { TraceSink } from "./trace.js";
import { InvariantViolation } from "./violation.js";
import type { Violation } from "./violation.js";

export interface SimOptions {
  readonly seed: number;
  /** Default "kv". With "locks", createApp (if given) must build LockApps. */
  readonly app?: AppKind;
  readonly nodes: number;
  /** Events executed in the fault phase. */
  readonly steps: number;
  /** How the seed's parameters are drawn (default "mixed"). */
  readonly profile?: Profile;
  readonly overrides?: ParamOverrides;
  /** Builds each node's Raft (a test passes a deliberately broken subclass). */
  readonly createRaft?: (config: RaftConfig) => Raft;
  /** Builds each node's driver (a test passes a deliberately broken subclass). */
  readonly createNode?: (config: SimNodeConfig, deps: SimNodeDeps) => SimNode;
  readonly createApp?: ApplicationFactory;
  /** Receives every trace line (the CLI's --verbose). */
  readonly traceSink?: TraceSink;
  /** Run the liveness phase after the faults (default true). */
  readonly liveness?: boolean;
}

export interface SimResult {
  readonly seed: number;
  readonly nodes: number;
  readonly steps: number;
  readonly timeUs: number;
  readonly traceHash: string;
  readonly violation?: Violation;
  /** The last trace lines before the end (or the violation). */
  readonly recentTrace: readonly string[];
  readonly stats: Readonly<Record<string, number>>;
}

export type SimEvent =
  | { readonly kind: "tick"; readonly node: NodeId }
  | { readonly kind: "deliver"; readonly message: Message }
  | { readonly kind: "disk"; readonly node: NodeId; readonly life: number }
  | { readonly kind: "restart"; readonly node: NodeId }
  | { readonly kind: "heal"; readonly partition: number }
  | { readonly kind: "fault" }
  | { readonly kind: "targeted"; readonly fault: TargetedFault }
  | { readonly kind: "client" };

export function runSimulation(options: SimOptions): SimResult {
  return new Simulation(options).run();
}

export class Simulation implements NodeEnv, NodeObserver, ClusterView, FaultHost {
  readonly params: SimParams;
  readonly clock = new VirtualClock();
  readonly queue: EventQueue<SimEvent>;
  readonly trace: Trace;
  readonly network: SimNetwork;
  readonly checker: SafetyChecker;
  readonly client: SimClient;
  readonly nodes: readonly SimNode[];
  readonly nodeIds: readonly NodeId[];
  private readonly tickPeriodsUs: readonly number[];
  private readonly faultRng: SeededRng;
  private readonly targeted: TargetedFaults;
  private readonly clientRng: SeededRng;
  /** The lock clients, ticks, clocks and checks; only with the lock application. */
  readonly locks: LockHarness | undefined;
  private stepCount = 0;
  private phase: Violation["phase"] = "faults";
  private faultsOn = true;
  /** Incremented at every partition, so that a stale heal event leaves a newer one alone. */
  private partitionSeq = 0;
  private readonly counters = { crashes: 0, restarts: 0, partitions: 0, transfers: 0, confChanges: 0, reads: 0, readsServed: 0, snapshotsInstalled: 0, snapshotsTaken: 0 };

  constructor(readonly options: SimOptions) {
    if (!Number.isInteger(options.steps) || options.steps < 0) throw new Error(`sim: steps must be a non-negative integer, got ${options.steps}`);
    this.params = scaleForApp(paramsForSeed(options.seed, options.nodes, options.profile, options.overrides), options);
    const master = new SeededRng(options.seed);
    const fork = (): SeededRng => new SeededRng(master.nextUint32());
    this.queue = new EventQueue(this.params.eventsMax);
    this.trace = new Trace(this.params.recentTraceLines, options.traceSink);
    this.network = new SimNetwork(this.params.network, fork());
    this.checker = new SafetyChecker({ entriesMax: this.params.entriesMax, pendingReadsMax: 1024 });
    this.client = new SimClient(this.params.client.outstandingMax, msToUs(this.params.client.timeoutMs));
    this.faultRng = fork();
    this.targeted = new TargetedFaults(this, this.params.faults, this.faultRng);
    this.clientRng = fork();
    this.nodeIds = Array.from({ length: this.params.nodes }, (_, i) => asNodeId(i + 1));
    const conf: ConfState = { voters: this.nodeIds, learners: [] };
    this.nodes = this.nodeIds.map((id) => this.buildNode(id, conf, fork(), fork()));
    const driftRng = fork();
    this.tickPeriodsUs = this.nodeIds.map(() => this.drawTickPeriodUs(driftRng));
    // Forked after every stream the key-value runs use, so that those runs stay as they were.
    this.locks = options.app === "locks" ? this.buildLocks(fork(), fork(), fork()) : undefined;
  }

  run(): SimResult {
    let violation: Violation | undefined;
    try {
      this.start();
      for (let i = 0; i < this.options.steps; i++) {
        const next = this.queue.pop();
        if (next === undefined) break;
        this.execute(next);
      }
      if (this.options.liveness !== false) this.runLiveness();
    } catch (error) {
      violation = this.toViolation(error);
    }
    return {
      seed: this.options.seed,
      nodes: this.params.nodes,
      steps: this.stepCount,
      timeUs: this.clock.nowUs(),
      traceHash: this.trace.hash(),
      ...(violation !== undefined ? { violation } : {}),
      recentTrace: this.trace.recentLines(),
      stats: this.stats(),
    };
  }

  node(id: NodeId): SimNode {
    const node = this.nodes[id - 1];
    if (node === undefined) throw new Error(`sim: no node ${id}`);
    return node;
  }

  get stepsExecuted(): number {
    return this.stepCount;
  }

  // ---- ClusterView (for the fault scheduler and the client) ----

  isUp(id: NodeId): boolean {
    return this.node(id).isUp();
  }

  hasPendingWrite(id: NodeId): boolean {
    return this.node(id).disk.hasPending();
  }

  leader(): { readonly id: NodeId; readonly conf: ConfState; readonly node: SimNode } | undefined {
    let best: { id: NodeId; conf: ConfState; node: SimNode; term: number } | undefined;
    for (const node of this.nodes) {
      if (!node.isUp()) continue;
      const status = node.rawNode().status();
      if (status.role !== "leader" || (best !== undefined && best.term >= status.term)) continue;
      best = { id: node.id, conf: status.confState, node, term: status.term };
    }
    return best;
  }

  // ---- FaultHost (for the targeted fault patterns) ----

  faultsActive(): boolean {
    return this.faultsOn;
  }

  scheduleTargeted(delayUs: number, fault: TargetedFault): void {
    this.queue.push(this.clock.nowUs() + delayUs, { kind: "targeted", fault });
  }

  applyFault(action: FaultAction): void {
    this.executeFault(action, []);
  }

  // ---- NodeEnv ----

  scheduleDiskDone(node: NodeId, life: number, delayUs: number): void {
    this.queue.push(this.clock.nowUs() + delayUs, { kind: "disk", node, life });
  }

  send(message: Message): void {
    const outcome = this.network.send(message.from, message.to);
    if (!outcome.sent) return;
    for (const delayUs of outcome.delaysUs) {
      // Each copy is its own deep copy: no two nodes ever share a message object.
      this.queue.push(this.clock.nowUs() + delayUs, { kind: "deliver", message: structuredClone(message) });
    }
  }

  // ---- NodeObserver: the checkers, plus the client's acknowledgements ----

  readyTaken(node: SimNode, ready: Ready): void {
    this.checker.readyTaken(node, ready);
    this.targeted.readyTaken(node, ready);
  }

  beforeDurable(node: SimNode, write: DiskWrite, before: HardState): void {
    this.checker.beforeDurable(node, write, before);
  }

  applied(node: SimNode, entry: Entry): void {
    this.checker.applied(node, entry);
    this.client.applied(node.id, entry);
    this.locks?.applied(node, entry);
  }

  snapshotRestored(node: SimNode, metadata: SnapshotMetadata, data: Uint8Array): void {
    this.counters.snapshotsInstalled += 1;
    this.checker.snapshotRestored(node, metadata, data);
    this.locks?.snapshotRestored(node, metadata.index);
  }

  snapshotTaken(node: SimNode, index: Index, data: Uint8Array): void {
    this.counters.snapshotsTaken += 1;
    this.checker.snapshotTaken(node, index, data);
  }

  readState(node: SimNode, readState: ReadState): void {
    this.counters.readsServed += 1;
    this.checker.readState(node, readState);
  }

  started(node: SimNode): void {
    this.checker.started(node);
    this.locks?.started(node);
  }

  // ---- The event loop ----

  /** Executes one event, traces it, and checks every node it touched. */
  execute(item: Scheduled<SimEvent>): void {
    this.clock.advanceTo(item.atUs);
    this.stepCount += 1;
    const touched: NodeId[] = [];
    const what = this.handle(item.event, touched);
    const up = touched.map((id) => this.node(id)).filter((node) => node.isUp());
    const statuses = up.map((node) => node.rawNode().status());
    const states = statuses.map((status) => ` | ${describeStatus(status)}`).join("");
    this.trace.record(`${item.atUs} #${this.stepCount} ${what}${states}`);
    up.forEach((node, i) => {
      const status = statuses[i] as RaftStatus;
      this.checker.afterEvent(node, status);
      if (status.role === "leader") this.targeted.leaderSeen(node.id, status.term);
    });
  }

  private handle(event: SimEvent, touched: NodeId[]): string {
    switch (event.kind) {
      case "tick": {
        touched.push(event.node);
        const node = this.node(event.node);
        node.tick();
        this.queue.push(this.clock.nowUs() + (this.tickPeriodsUs[event.node - 1] as number), event);
        return `tick n${event.node}${this.locks?.afterTick(node) ?? ""}`;
      }
      case "deliver":
        return this.deliver(event.message, touched);
      case "disk":
        touched.push(event.node);
        this.node(event.node).diskDone(event.life);
        return `fsync n${event.node}/${event.life}`;
      case "restart":
        return this.restart(event.node, touched);
      case "heal":
        if (event.partition === this.partitionSeq) this.network.heal();
        return `heal partition ${event.partition}`;
      case "fault":
        return this.fault(touched);
      case "client":
        return this.clientRequest(touched);
      case "targeted":
        return this.targeted.run(event.fault);
    }
  }

  private start(): void {
    for (const node of this.nodes) {
      node.start();
      const offsetUs = this.faultRng.nextInt(this.tickPeriodsUs[node.id - 1] as number);
      this.queue.push(offsetUs, { kind: "tick", node: node.id });
    }
    this.trace.record(`start seed ${this.options.seed} nodes ${this.params.nodes} ${JSON.stringify(this.params)}`);
    if (this.locks !== undefined) this.trace.record(`locks ${JSON.stringify(this.locks.params)}`);
    this.scheduleFault();
    this.scheduleClient();
  }

  private deliver(message: Message, touched: NodeId[]): string {
    const arrived = this.network.arrive(message.from, message.to);
    const node = this.node(message.to);
    if (arrived && node.isUp()) {
      touched.push(message.to);
      node.receive(message);
      return `deliver ${describeMessage(message)}`;
    }
    return `lose ${describeMessage(message)} (${arrived ? "node down" : "partitioned"})`;
  }

  private restart(id: NodeId, touched: NodeId[]): string {
    const node = this.node(id);
    if (node.isUp()) return `restart n${id} (already up)`;
    node.start();
    this.counters.restarts += 1;
    touched.push(id);
    return `restart n${id} (lifetime ${node.life}, durable ${describeDurable(node)})`;
  }

  private fault(touched: NodeId[]): string {
    if (!this.faultsOn) return "fault (stopped)";
    const action = chooseFault(this, this.params.faults, this.faultRng);
    this.executeFault(action, touched);
    this.scheduleFault();
    return `fault ${describeFault(action)}`;
  }

  private executeFault(action: FaultAction, touched: NodeId[]): void {
    switch (action.kind) {
      case "crash":
        this.node(action.node).crash();
        this.counters.crashes += 1;
        this.queue.push(this.clock.nowUs() + action.restartAfterUs, { kind: "restart", node: action.node });
        return;
      case "partition":
        this.network.applyPartition(action.partition);
        this.partitionSeq += 1;
        this.counters.partitions += 1;
        this.queue.push(this.clock.nowUs() + action.healAfterUs, { kind: "heal", partition: this.partitionSeq });
        return;
      case "heal":
        this.network.heal();
        return;
      case "transfer":
        touched.push(action.leader);
        if (this.node(action.leader).transferLeader(action.to)?.ok === true) this.counters.transfers += 1;
        return;
      case "confChange":
        touched.push(action.leader);
        if (this.node(action.leader).proposeConfChange(action.change)?.ok === true) this.counters.confChanges += 1;
        return;
      case "none":
        return;
    }
  }

  private clientRequest(touched: NodeId[]): string {
    this.scheduleClient();
    const leader = this.leader();
    if (leader === undefined) return "client: no leader";
    touched.push(leader.id);
    if (this.clientRng.chance(this.params.client.readProbability)) {
      const context = new TextEncoder().encode(`r${this.counters.reads++}`);
      this.checker.readBegun(context);
      const result = leader.node.readIndex(context);
      return `client read r${this.counters.reads - 1} at n${leader.id}: ${result === undefined ? "busy" : result.ok ? "ok" : result.reason}`;
    }
    if (leader.node.isBlocked()) return `client propose at n${leader.id}: busy`;
    if (this.phase === "liveness") return this.livenessRequest(leader.node, leader.conf);
    if (this.locks !== undefined) return this.locks.clientTurn(leader.node);
    return this.proposeBatch(leader.node, 1 + this.clientRng.nextInt(this.params.client.batchMax));
  }

  /**
   * After the faults, the client first brings every node back into the membership (as a
   * learner, then a voter), then makes the fresh proposals that must commit, then idles so
   * that the replicas can converge.
   */
  private livenessRequest(leader: SimNode, conf: ConfState): string {
    const change = nextMembershipStep(this.nodeIds, conf);
    if (change !== undefined) {
      const result = leader.proposeConfChange(change);
      return `client ${change.type} n${change.nodeId} at n${leader.id}: ${result === undefined ? "busy" : result.ok ? "ok" : result.reason}`;
    }
    if (this.locks !== undefined) return this.locks.probeTurn(leader);
    if (this.client.freshAcknowledged() >= this.params.liveness.proposals) return "client idle";
    return this.proposeBatch(leader, 1);
  }

  /** Whether the work the liveness phase demands after healing is done, and if not, what is missing. */
  freshWorkDone(): { readonly done: boolean; readonly why: string } {
    if (this.locks !== undefined) {
      const done = this.locks.workload.probeDone();
      return { done, why: done ? "probe granted" : "the probe's acquire of a free name is not granted yet" };
    }
    const acked = this.client.freshAcknowledged();
    const wanted = this.params.liveness.proposals;
    return { done: acked >= wanted, why: `${acked}/${wanted} fresh proposals committed` };
  }

  private proposeBatch(leader: SimNode, wanted: number): string {
    const size = Math.min(wanted, this.client.capacity(this.clock.nowUs()));
    if (size === 0) return `client propose at n${leader.id}: ${this.params.client.outstandingMax} outstanding`;
    const commands = Array.from({ length: size }, () => this.client.nextCommand());
    const results = leader.propose(commands.map((c) => c.data));
    if (results === undefined) throw new Error(`sim: leader n${leader.id} refused a turn although it was not blocked`);
    const outcomes = commands.map((command, i) => {
      const result = results[i] as ProposeResult;
      this.client.proposed(this.clock.nowUs(), leader.id, command.seq, command.data, result);
      return `#${command.seq} ${result.ok ? `${result.index}@${result.term}` : result.reason}`;
    });
    return `client propose at n${leader.id}: ${outcomes.join(" ")}`;
  }

  private scheduleFault(): void {
    const f = this.params.faults;
    this.queue.push(this.clock.nowUs() + uniformUs(this.faultRng, f.intervalMsMin, f.intervalMsMax), { kind: "fault" });
  }

  private scheduleClient(): void {
    const c = this.params.client;
    // After the faults the client only needs a few fresh proposals through: it slows down
    // so that a backlog built under faults (tiny append batches, a slow disk) can drain.
    const minMs = this.phase === "liveness" ? this.params.liveness.clientIntervalMs : c.intervalMsMin;
    let maxMs = Math.max(minMs, c.intervalMsMax);
    // The leader proposes a lock tick every 100 ms and is busy with its fsync for a moment:
    // a client on an exact 100 ms period can lock into that phase and find it busy forever.
    if (this.locks !== undefined && this.phase === "liveness") maxMs = 2 * minMs;
    this.queue.push(this.clock.nowUs() + uniformUs(this.clientRng, minMs, maxMs), { kind: "client" });
  }

  // ---- Liveness (see liveness.ts for the conditions) ----

  private runLiveness(): void {
    this.phase = "liveness";
    this.faultsOn = false;
    this.network.heal();
    this.network.reconfigure({ ...this.params.network, dropProbability: 0, duplicateProbability: 0, longTailProbability: 0 });
    for (const node of this.nodes) {
      if (node.isUp()) continue;
      this.queue.push(this.clock.nowUs(), { kind: "restart", node: node.id });
    }
    runLivenessPhase(this);
  }

  // ---- Construction helpers ----

  private buildNode(id: NodeId, conf: ConfState, diskRng: SeededRng, nodeRng: SeededRng): SimNode {
    const p = this.params;
    const config: SimNodeConfig = {
      id,
      raft: p.raft,
      snapshotEveryEntries: p.snapshotEveryEntries,
      snapshotKeepTailEntries: p.snapshotKeepTailEntries,
      inboxMessagesMax: p.inboxMessagesMax,
      readiesPerTurnMax: p.readiesPerTurnMax,
      earlyReplication: p.earlyReplication,
      applyDuringWrite: p.applyDuringWrite,
    };
    const deps: SimNodeDeps = {
      env: this,
      observer: this,
      disk: new SimDisk(conf, p.disk, diskRng),
      rng: nodeRng,
      createApp: this.options.createApp ?? (this.options.app === "locks" ? () => new LockApp() : () => new KvApp()),
      ...(this.options.createRaft !== undefined ? { createRaft: this.options.createRaft } : {}),
    };
    return this.options.createNode !== undefined ? this.options.createNode(config, deps) : new SimNode(config, deps);
  }

  private buildLocks(workloadRng: SeededRng, paramsRng: SeededRng, clockRng: SeededRng): LockHarness {
    // A node's monotonic clock runs at the rate of its Raft ticks.
    const rates = this.tickPeriodsUs.map((periodUs) => msToUs(this.params.tickMs) / periodUs);
    return new LockHarness(drawLockWorkload(paramsRng), workloadRng, new NodeClocks(rates, clockRng), () => this.clock.nowUs());
  }

  /** Each node's clock runs at its own rate, within tickDriftPpm of the true one. */
  private drawTickPeriodUs(rng: SeededRng): number {
    const p = this.params;
    const drift = rng.nextInt(2 * p.tickDriftPpm + 1) - p.tickDriftPpm;
    return Math.max(1, Math.round(msToUs(p.tickMs) * (1 + drift / 1_000_000)));
  }

  private toViolation(error: unknown): Violation {
    const base = { step: this.stepCount, timeUs: this.clock.nowUs(), phase: this.phase };
    if (error instanceof InvariantViolation) return { ...base, invariant: error.invariant, detail: error.detail };
    // The lock machine's own guards (a grant next to a holder, to a dead session, ...).
    if (error instanceof InvariantError) return { ...base, invariant: "lockInvariants", detail: `${error.message}\n${error.stack ?? ""}` };
    const detail = error instanceof Error ? `${error.message}\n${error.stack ?? ""}` : String(error);
    return { ...base, invariant: "exception", detail };
  }

  private stats(): Record<string, number> {
    const disks = this.nodes.map((n) => n.disk.counters());
    return {
      ...this.counters,
      ...prefixed("net.", this.network.snapshotStats()),
      ...prefixed("client.", this.client.counters()),
      diskWrites: disks.reduce((sum, d) => sum + d.writes, 0),
      lostWrites: disks.reduce((sum, d) => sum + d.lostWrites, 0),
      appliedDuringWrite: this.nodes.reduce((sum, n) => sum + n.counters().appliedDuringWrite, 0),
      leadersElected: this.checker.leaderCount(),
      committed: this.checker.committedIndex(),
      ...(this.locks?.stats() ?? {}),
    };
  }
}

/**
 * A lock snapshot (sessions, holders, the dedup table's remembered answers) is some 10-20 KB
 * where a key-value one is a few hundred bytes. Sent in chunks of 48 bytes, one round trip
 * each, it takes longer than the leader needs to take its next snapshot, and the leader
 * starts over with the newer one: a follower behind never catches up. So lock runs draw
 * chunks 16 times larger (unless a test sets them).
 */
function scaleForApp(params: SimParams, options: SimOptions): SimParams {
  if (options.app !== "locks" || options.overrides?.raft?.snapshotChunkBytes !== undefined) return params;
  const chunk = params.raft.snapshotChunkBytes ?? DEFAULT_SNAPSHOT_CHUNK_BYTES;
  return { ...params, raft: { ...params.raft, snapshotChunkBytes: chunk * 16 } };
}

function describeDurable(node: SimNode): string {
  const storage = node.disk.storage;
  const h = storage.hardState();
  return `t${h.term} v${h.vote} c${h.commit} log ${storage.firstIndex()}..${storage.lastIndex()} snap ${storage.snapshot().metadata.index}`;
}

function prefixed(prefix: string, values: Readonly<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(values)) out[prefix + key] = value;
  return out;
}
