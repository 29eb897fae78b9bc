// The composed simulation of issue #5: 3 regions, each a real 3-node Raft group of
// RawNodes (the sim's SimNode: disk with fsync latency and loss of unsynced writes on a
// crash, snapshots, log compaction), all 9 nodes on one virtual clock and one event queue.
// Every node applies its region's Raft log to a GlobalReplica (PaxosApp); the region's
// current Raft leader runs the driver of packages/paxos/README.md ("Driver"):
//   - a Proposer with epoch = Raft term, created on becoming leader, dropped on losing it;
//   - inbound Paxos messages validated (decodeMessage) and routed with routeInbound:
//     acceptor/learner commands are proposed into the region's Raft log, proposer replies
//     stepped, catch-up answered from the applied replica;
//   - a prepare/accept reply is sent only once its command is applied (on the leader);
//   - clients' answers come from the applied commands (and, after installKey, from lookup).
// Between regions: WAN delays (30/40/70 ms one way + jitter), rare loss, duplicates,
// reordering, and region partitions (one region cut off, then healed). Inside regions:
// LAN delays, loss, node crashes and restarts, node isolation (leader changes). Checked as
// it happens (global-oracle.ts), then liveness: after healing, a fresh acquire completes.
//
// The leader also runs a LeaseClock and proposes `expire` for holders that stopped renewing.
// Not modelled (see README): clock drift, membership changes, a stale view of which node
// leads a peer region, targeted fault patterns, more than one region cut off at once.

import { DEFAULT_LEASE_CLOCK, DEFAULT_PROPOSER_TIMING, GlobalReplica, LeaseClock, Proposer, asEpoch, asGlobalKey, asInstance, asRegionId, decodeMessage, paxosConfig, routeInbound } from "@geolock/paxos";
import type { Ballot, GlobalKey, LockAnswer, LockCommand, PaxosConfig, PaxosMessage, ProposalId, RegionId, ReplicaApplyResult, ReplicaCommand } from "@geolock/paxos";
import { SeededRng, asNodeId } from "@geolock/raft";
import type { ConfState, Entry, HardState, Message, NodeId, ReadState, Ready, SnapshotMetadata, Index } from "@geolock/raft";
import { msToUs, VirtualClock } from "../clock.js";
import type { DiskWrite } from "../disk.js";
import { SimDisk } from "../disk.js";
import { EventQueue } from "../event-queue.js";
import { FNV_OFFSET, fnvNumber, fnvString } from "../hash.js";
import { SimNetwork, uniformUs } from "../network.js";
import { SimNode } from "../sim-node.js";
import type { NodeEnv, NodeObserver, SimNodeConfig } from "../sim-node.js";
import { GlobalClient } from "./global-client.js";
import { GlobalOracle, hashText } from "./global-oracle.js";
import { PaxosApp, encodeReplicaCommand } from "./paxos-app.js";

export const REGIONS: readonly RegionId[] = [asRegionId("r0"), asRegionId("r1"), asRegionId("r2")];
export const KEYS: readonly GlobalKey[] = [asGlobalKey("global:a"), asGlobalKey("global:b"), asGlobalKey("global:c")];
export const PROBE_KEY: GlobalKey = asGlobalKey("global:probe");
const WATCHED_KEYS: readonly GlobalKey[] = [...KEYS, PROBE_KEY];
const NODES_PER_REGION = 3;
const TICK_US = msToUs(10);
/** One-way WAN delay in ms between regions i < j: r0-r1 30, r0-r2 40, r1-r2 70. */
const WAN_MS: Readonly<Record<string, number>> = { "0-1": 30, "0-2": 40, "1-2": 70 };
const PENDING_LOG_MAX = 512;

export interface GlobalSimOptions {
  readonly seed: number;
  /** Virtual time with faults, then the liveness phase. */
  readonly faultMs: number;
  readonly livenessMs: number;
  readonly clientsPerRegion: number;
  readonly stepsMax: number;
  /** A deliberately broken driver, to show the checks catch it. */
  readonly broken?: "promiseBeforeCommit" | "expireEarly";
}

export interface GlobalSimResult {
  readonly seed: number;
  readonly violation?: string;
  readonly steps: number;
  /** FNV-1a over every event's time and kind: equal for equal runs. */
  readonly traceHash: number;
  readonly timeUs: number;
  readonly probeGranted: boolean;
  readonly stats: Readonly<Record<string, number>>;
}

type SimEvent =
  | { readonly kind: "tick"; readonly node: NodeId }
  | { readonly kind: "disk"; readonly node: NodeId; readonly life: number }
  | { readonly kind: "raft"; readonly message: Message }
  | { readonly kind: "wan"; readonly message: PaxosMessage }
  | { readonly kind: "client"; readonly client: number }
  | { readonly kind: "fault" }
  | { readonly kind: "restart"; readonly node: NodeId }
  | { readonly kind: "healRegion"; readonly seq: number }
  | { readonly kind: "healNode"; readonly seq: number };

const regionOfNode = (id: NodeId): number => Math.floor((id - 1) / NODES_PER_REGION);

/** The README driver on one node; it holds a Proposer only while the node leads its region. */
class NodeDriver {
  proposer: Proposer | null = null;
  /** Volatile like the proposer: when to propose `expire` for a holder that stopped renewing. */
  leases: LeaseClock | null = null;
  epoch = -1;
  private ticks = 0;
  readonly requests = new Map<ProposalId, { client: GlobalClient; seq: number }>();
  pendingLog: Uint8Array[] = [];

  constructor(
    readonly sim: GlobalSim,
    readonly node: SimNode,
    readonly region: RegionId,
  ) {}

  replica(): GlobalReplica {
    return (this.node.application as PaxosApp).replica;
  }

  /** Leader start / loss (README step 1); called after every event that touched the node. */
  sync(): void {
    if (!this.node.isUp()) {
      this.drop();
      return;
    }
    const status = this.node.rawNode().status();
    if (status.role !== "leader") {
      this.drop();
      return;
    }
    if (this.proposer !== null && this.epoch === status.term) return;
    this.drop();
    this.epoch = status.term;
    // The view reads whatever replica the node has now (a snapshot restore replaces it).
    const view = {
      appliedInstance: (k: GlobalKey) => this.replica().appliedInstance(k),
      promised: (k: GlobalKey) => this.replica().promised(k),
      keysAfter: (after: string, limit: number) => this.replica().keysAfter(after, limit),
    };
    this.sim.oracle.proposerStarted(this.region, status.term);
    this.proposer = new Proposer({ ...DEFAULT_PROPOSER_TIMING, paxos: this.sim.paxos, region: this.region, epoch: asEpoch(status.term), rng: this.sim.forkRng(), view });
    this.leases = new LeaseClock(this.region, REGIONS, DEFAULT_LEASE_CLOCK);
    this.leases.reset(this.replica().holders(), this.sim.nowMs());
    this.sim.counters.proposers++;
  }

  drop(): void {
    if (this.proposer === null) return;
    this.proposer = null;
    this.leases = null;
    for (const { client, seq } of this.requests.values()) client.failed(seq);
    this.requests.clear();
    this.pendingLog = [];
  }

  propose(client: GlobalClient, key: GlobalKey, command: LockCommand): boolean {
    if (this.proposer === null || command.type === "expire") return false;
    const result = this.proposer.propose(key, command);
    if (!result.ok) return false;
    this.requests.set(result.id, { client, seq: command.requestId.seq });
    this.flush();
    return true;
  }

  /** README step 3. */
  receive(raw: PaxosMessage): void {
    if (this.proposer === null) return;
    const decoded = decodeMessage(raw, this.sim.paxos);
    if (!decoded.ok) throw new Error(`undecodable message: ${decoded.error}`);
    const m = decoded.value;
    if (m.to !== this.region) throw new Error(`${this.region} got a message for ${m.to}`);
    const action = routeInbound(m, this.replica());
    for (const command of action.log) {
      if (this.sim.broken === "promiseBeforeCommit" && command.type === "prepare") this.sendPromiseEarly(command);
      if (this.pendingLog.length < PENDING_LOG_MAX) this.pendingLog.push(encodeReplicaCommand(command));
      else this.sim.counters.logDropped++;
    }
    if (action.toProposer && (m.kind === "promise" || m.kind === "accepted" || m.kind === "nack" || m.kind === "refused" || m.kind === "catchUpReply")) {
      this.proposer.step(m);
    }
    if (action.answerCatchUp && m.kind === "catchUpRequest") this.sim.sendWan(this.replica().answerCatchUp(m, DEFAULT_PROPOSER_TIMING.catchUpKeysMax));
    this.flush();
  }

  /** The broken variant: answers a prepare from a scratch copy before the region committed it. */
  private sendPromiseEarly(command: ReplicaCommand & { type: "prepare" }): void {
    const scratch = GlobalReplica.restore(this.replica().snapshot(), this.sim.paxos);
    const { reply } = scratch.apply(command);
    if (reply !== null) this.sim.sendReply(this.region, reply);
  }

  tick(): void {
    if (this.proposer === null) return;
    this.proposer.tick();
    // README step 5: expire leases that ran out by this leader's clock.
    this.ticks++;
    if (this.leases !== null && this.ticks % 10 === 0) {
      for (const { key, command } of this.leases.due(this.sim.nowMs(), 4)) {
        if (this.proposer.propose(key, command).ok) this.sim.counters.expiresProposed++;
      }
    }
    this.flush();
  }

  /** README step 6, plus handing queued log commands to Raft once the node can take them. */
  flush(): void {
    const proposer = this.proposer;
    if (proposer === null) return;
    if (this.pendingLog.length > 0 && this.node.isUp() && !this.node.isBlocked()) {
      const batch = this.pendingLog;
      this.pendingLog = [];
      if (this.node.propose(batch) === undefined) this.pendingLog = batch;
    }
    const { messages, outcomes } = proposer.drain();
    for (const m of messages) this.sim.sendWan(m);
    for (const o of outcomes) {
      const request = this.requests.get(o.id);
      this.requests.delete(o.id);
      if (request !== undefined && o.kind === "failed") request.client.failed(request.seq);
    }
    proposer.assertInvariants();
  }
}

export class GlobalSim implements NodeEnv, NodeObserver {
  readonly paxos: PaxosConfig = paxosConfig(REGIONS);
  readonly oracle = new GlobalOracle(REGIONS.length);
  readonly broken: GlobalSimOptions["broken"];
  readonly counters = {
    proposers: 0, crashes: 0, restarts: 0, lostWrites: 0, regionPartitions: 0, nodeIsolations: 0, wanSent: 0, wanDropped: 0,
    repliesSent: 0, logDropped: 0, installKeyApplied: 0, expiresProposed: 0, /** expire commands that freed a key, counted per region (on its leader) that applied them */ expired: 0, snapshotsTaken: 0, snapshotsRestored: 0, applied: 0,
  };
  private readonly clock = new VirtualClock();
  private readonly queue = new EventQueue<SimEvent>(200_000);
  private readonly master: SeededRng;
  private readonly wanRng: SeededRng;
  private readonly faultRng: SeededRng;
  private readonly clientRng: SeededRng;
  private readonly network: SimNetwork;
  private readonly nodes: SimNode[] = [];
  private readonly drivers: NodeDriver[] = [];
  private readonly clients: GlobalClient[] = [];
  /** Promises of each node after its last apply (this lifetime), for per-node monotonicity. */
  private readonly nodePromises = new Map<NodeId, readonly Ballot[]>();
  private isolatedRegion = -1;
  private regionPartitionSeq = 0;
  private nodePartitionSeq = 0;
  private faultsOn = true;
  private steps = 0;
  private traceHash = FNV_OFFSET;

  constructor(readonly options: GlobalSimOptions) {
    this.broken = options.broken;
    this.master = new SeededRng(options.seed);
    this.wanRng = this.forkRng();
    this.faultRng = this.forkRng();
    this.clientRng = this.forkRng();
    this.network = new SimNetwork(
      { dropProbability: 0.01, duplicateProbability: 0.01, delayMsMin: 0.2, delayMsMax: 2, longTailProbability: 0.01, longTailMsMax: 20, inFlightMessagesMax: 20_000 },
      this.forkRng(),
    );
    for (let r = 0; r < REGIONS.length; r++) {
      const region = REGIONS[r] as RegionId;
      const ids = Array.from({ length: NODES_PER_REGION }, (_, j) => asNodeId(r * NODES_PER_REGION + j + 1));
      const conf: ConfState = { voters: ids, learners: [] };
      for (const id of ids) {
        const config: SimNodeConfig = {
          id,
          raft: { electionTicks: 10, heartbeatTicks: 2 },
          snapshotEveryEntries: 40,
          snapshotKeepTailEntries: 10,
          inboxMessagesMax: 1024,
          readiesPerTurnMax: 1000,
          earlyReplication: true,
          applyDuringWrite: true,
        };
        const disk = new SimDisk(conf, { fsyncMsMin: 0.1, fsyncMsMax: 2, slowFsyncProbability: 0.01, slowFsyncMsMax: 30 }, this.forkRng());
        const node = new SimNode(config, {
          env: this,
          observer: this,
          disk,
          rng: this.forkRng(),
          createApp: () => new PaxosApp(this.paxos, region, (command, result, index) => this.onApplied(id, command, result, index)),
        });
        this.nodes.push(node);
        this.drivers.push(new NodeDriver(this, node, region));
      }
      for (let c = 0; c < options.clientsPerRegion; c++) {
        this.clients.push(new GlobalClient(`c${r}.${c}`, region, KEYS, { ttlMs: 4_000, resendUs: msToUs(1_000), holdUsMax: msToUs(800) }, this.forkRng(), this.oracle, (client, key, command) => this.submit(client, key, command)));
      }
    }
  }

  /** The regions' (and clients') monotonic clock, in ms: virtual time, no drift modelled. */
  nowMs(): number {
    return Math.floor(this.clock.nowUs() / 1000);
  }

  forkRng(): SeededRng {
    return new SeededRng(this.master.nextUint32());
  }

  run(): GlobalSimResult {
    let violation: string | undefined;
    let probeGranted = false;
    try {
      for (const node of this.nodes) {
        node.start();
        this.queue.push(this.clientRng.nextInt(TICK_US), { kind: "tick", node: node.id });
      }
      for (let c = 0; c < this.clients.length; c++) this.queue.push(msToUs(200) + this.clientRng.nextInt(msToUs(300)), { kind: "client", client: c });
      this.queue.push(msToUs(500), { kind: "fault" });
      this.runUntil(msToUs(this.options.faultMs));
      probeGranted = this.runLiveness();
      if (!probeGranted) violation = `liveness: no fresh acquire of ${PROBE_KEY} within ${this.options.livenessMs} ms after healing`;
    } catch (error) {
      violation = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    }
    return { seed: this.options.seed, ...(violation !== undefined ? { violation } : {}), steps: this.steps, traceHash: this.traceHash, timeUs: this.clock.nowUs(), probeGranted, stats: this.stats() };
  }

  private runUntil(untilUs: number, done?: () => boolean): void {
    for (;;) {
      if (this.steps >= this.options.stepsMax) throw new Error(`step budget ${this.options.stepsMax} exhausted at ${this.clock.nowUs()}us`);
      const next = this.queue.peek();
      if (next === undefined || next.atUs > untilUs) return;
      this.queue.pop();
      this.clock.advanceTo(next.atUs);
      this.oracle.nowUs = next.atUs;
      this.steps++;
      this.traceHash = fnvString(fnvNumber(this.traceHash, next.atUs), next.event.kind);
      this.execute(next.event);
      if (done !== undefined && done()) return;
    }
  }

  /** Faults off, partitions healed, every node up: a fresh acquire on an unused key must complete. */
  private runLiveness(): boolean {
    this.faultsOn = false;
    this.isolatedRegion = -1;
    this.network.heal();
    for (const node of this.nodes) if (!node.isUp()) this.queue.push(this.clock.nowUs(), { kind: "restart", node: node.id });
    for (const client of this.clients) client.issuing = false;
    const probe = this.clients[this.faultRng.nextInt(this.clients.length)] as GlobalClient;
    const deadlineUs = this.clock.nowUs() + msToUs(this.options.livenessMs);
    // Let the probe's own earlier request finish first, then send the fresh acquire.
    this.runUntil(deadlineUs, () => probe.waitingFor === null);
    probe.lastAnswer = null;
    probe.acquire(this.clock.nowUs(), PROBE_KEY);
    this.runUntil(deadlineUs, () => probe.lastAnswer !== null);
    const answer = probe.lastAnswer as LockAnswer | null;
    return answer?.kind === "granted";
  }

  private execute(event: SimEvent): void {
    switch (event.kind) {
      case "tick": {
        const node = this.node(event.node);
        node.tick();
        const driver = this.driver(event.node);
        driver.sync();
        driver.tick();
        this.queue.push(this.clock.nowUs() + TICK_US, event);
        return;
      }
      case "disk":
        this.node(event.node).diskDone(event.life);
        this.afterNode(event.node);
        return;
      case "raft":
        if (!this.network.arrive(event.message.from, event.message.to)) return;
        this.node(event.message.to).receive(event.message);
        this.afterNode(event.message.to);
        return;
      case "wan":
        this.deliverWan(event.message);
        return;
      case "client": {
        const client = this.clients[event.client] as GlobalClient;
        client.step(this.clock.nowUs());
        this.queue.push(this.clock.nowUs() + uniformUs(this.clientRng, 20, 120), event);
        return;
      }
      case "fault":
        if (!this.faultsOn) return;
        this.fault();
        this.queue.push(this.clock.nowUs() + uniformUs(this.faultRng, 200, 800), event);
        return;
      case "restart": {
        const node = this.node(event.node);
        if (node.isUp()) return;
        this.counters.restarts++;
        this.nodePromises.delete(node.id);
        node.start();
        this.afterNode(event.node);
        return;
      }
      case "healRegion":
        if (event.seq === this.regionPartitionSeq) this.isolatedRegion = -1;
        return;
      case "healNode":
        if (event.seq === this.nodePartitionSeq) this.network.heal();
        return;
    }
  }

  private afterNode(id: NodeId): void {
    const driver = this.driver(id);
    driver.sync();
    driver.flush();
  }

  private fault(): void {
    const roll = this.faultRng.nextInt(100);
    if (roll < 35) {
      const up = this.nodes.filter((n) => n.isUp());
      const victim = up[this.faultRng.nextInt(up.length)];
      if (victim === undefined) return;
      this.counters.crashes++;
      if (victim.crash()) this.counters.lostWrites++;
      this.driver(victim.id).drop();
      this.queue.push(this.clock.nowUs() + uniformUs(this.faultRng, 100, 2_000), { kind: "restart", node: victim.id });
    } else if (roll < 55) {
      if (this.isolatedRegion >= 0) return;
      this.isolatedRegion = this.faultRng.nextInt(REGIONS.length);
      this.regionPartitionSeq++;
      this.counters.regionPartitions++;
      this.queue.push(this.clock.nowUs() + uniformUs(this.faultRng, 300, 3_000), { kind: "healRegion", seq: this.regionPartitionSeq });
    } else if (roll < 70) {
      const victim = asNodeId(1 + this.faultRng.nextInt(this.nodes.length));
      const r = regionOfNode(victim);
      const others = Array.from({ length: NODES_PER_REGION }, (_, j) => asNodeId(r * NODES_PER_REGION + j + 1)).filter((n) => n !== victim);
      this.network.applyPartition({ kind: "isolate", left: [victim], right: others });
      this.nodePartitionSeq++;
      this.counters.nodeIsolations++;
      this.queue.push(this.clock.nowUs() + uniformUs(this.faultRng, 200, 1_500), { kind: "healNode", seq: this.nodePartitionSeq });
    }
  }

  // ---- WAN between regions ----

  private regionLinkUp(from: number, to: number): boolean {
    return from === to || (this.isolatedRegion !== from && this.isolatedRegion !== to);
  }

  sendWan(message: PaxosMessage): void {
    const from = REGIONS.indexOf(message.from);
    const to = REGIONS.indexOf(message.to);
    this.counters.wanSent++;
    if (!this.regionLinkUp(from, to) || (from !== to && this.wanRng.chance(0.01))) {
      this.counters.wanDropped++;
      return;
    }
    const copies = from !== to && this.wanRng.chance(0.01) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const baseMs = from === to ? 0 : (WAN_MS[`${Math.min(from, to)}-${Math.max(from, to)}`] ?? 50);
      const delayUs = from === to ? uniformUs(this.wanRng, 0.05, 0.5) : uniformUs(this.wanRng, baseMs, baseMs + 10);
      // A plain-data copy, as a frame on the wire would be.
      this.queue.push(this.clock.nowUs() + delayUs, { kind: "wan", message: JSON.parse(JSON.stringify(message)) as PaxosMessage });
    }
  }

  /** A message reaches its region: the node that leads it now handles it (nobody, if none). */
  private deliverWan(message: PaxosMessage): void {
    const from = REGIONS.indexOf(message.from);
    const to = REGIONS.indexOf(message.to);
    if (!this.regionLinkUp(from, to)) return;
    const driver = this.leaderDriver(to);
    if (driver === undefined) return;
    driver.receive(message);
    this.afterNode(driver.node.id);
  }

  private leaderDriver(region: number): NodeDriver | undefined {
    let best: NodeDriver | undefined;
    for (let j = 0; j < NODES_PER_REGION; j++) {
      const d = this.drivers[region * NODES_PER_REGION + j] as NodeDriver;
      if (d.proposer !== null && (best === undefined || d.epoch > best.epoch)) best = d;
    }
    return best;
  }

  private submit(client: GlobalClient, key: GlobalKey, command: LockCommand): boolean {
    const driver = this.leaderDriver(REGIONS.indexOf(client.region));
    return driver !== undefined && driver.propose(client, key, command);
  }

  sendReply(region: RegionId, reply: PaxosMessage): void {
    if (reply.kind === "promise" || reply.kind === "accepted") this.oracle.replySent(region, reply.key, reply.kind, reply.ballot);
    this.counters.repliesSent++;
    this.sendWan(reply);
  }

  // ---- README step 4: apply, on every node; replies and answers on the leader only ----

  private onApplied(id: NodeId, command: ReplicaCommand, result: ReplicaApplyResult, index: number): void {
    this.counters.applied++;
    if (command.type === "installKey") this.counters.installKeyApplied++;
    const r = regionOfNode(id);
    const region = REGIONS[r] as RegionId;
    const where = `${region}/n${id}`;
    const node = this.node(id);
    const replica = (node.application as PaxosApp).replica;
    if (command.type === "accept" && result.reply?.kind === "accepted") this.oracle.accepted(region, command.key, command.instance, command.ballot, command.value);
    if (command.type === "learn") {
      // The learner only applies instances within its window; those it takes must be the chosen ones.
      this.oracle.learned(where, command.key, command.instance, command.value);
    }
    const byInstance = new Map<number, string[]>();
    for (const a of result.applied) {
      byInstance.set(a.instance, [...(byInstance.get(a.instance) ?? []), JSON.stringify(a.answer)]);
      if (a.answer.kind === "granted" && a.command.type === "acquire") this.oracle.granted(`${where}/life${node.life}`, a.key, a.answer.token, a.command.holder.clientId, a.duplicate);
    }
    for (const [instance, answers] of byInstance) this.oracle.appliedInstance(where, command.key, asInstance(instance), answers.join("|"));
    if (result.applied.length > 0 || command.type === "installKey") this.oracle.keyState(where, command.key, replica.lockTable.keyState(command.key));
    const promises = WATCHED_KEYS.map((k) => replica.promised(k));
    const before = this.nodePromises.get(id);
    if (before !== undefined) this.oracle.promisesNotBelow(`${where} applying ${index}`, before, promises);
    this.nodePromises.set(id, promises);
    this.oracle.replicaState(where, region, index, hashText(JSON.stringify(replica.snapshot())), promises);

    const raw = node.rawNode();
    if (raw.status().role !== "leader") return;
    if (result.reply !== null && !(this.broken === "promiseBeforeCommit" && result.reply.kind === "promise")) this.sendReply(region, result.reply);
    const driver = this.driver(id);
    if ((command.type === "learn" || command.type === "installKey") && driver.leases !== null) {
      const lease = replica.lockTable.holder(command.key);
      // The broken variant counts a quarter of the ttl: it expires holders that still believe.
      const seen = lease !== null && this.broken === "expireEarly" ? { ...lease, ttlMs: Math.floor(lease.ttlMs / 4) } : lease;
      driver.leases.observe(command.key, seen, this.nowMs());
    }
    for (const a of result.applied) {
      if (a.command.type === "expire") {
        if (a.answer.kind === "expired" && !a.duplicate) this.counters.expired++;
        continue;
      }
      const client = this.clientById(a.command.requestId.clientId);
      if (client !== undefined && client.region === region) client.answer(a.command.requestId.seq, a.answer, this.clock.nowUs());
    }
    if (command.type === "installKey") {
      for (const client of this.clients) {
        const w = client.waitingFor;
        if (client.region !== region || w === null || w.key !== command.key || w.command.type === "expire") continue;
        const answer = replica.lockTable.lookup(command.key, w.command.requestId);
        if (answer !== undefined) client.answer(w.command.requestId.seq, answer, this.clock.nowUs());
      }
    }
  }

  private clientById(id: string): GlobalClient | undefined {
    return this.clients.find((c) => c.id === id);
  }

  // ---- NodeEnv ----

  scheduleDiskDone(node: NodeId, life: number, delayUs: number): void {
    this.queue.push(this.clock.nowUs() + delayUs, { kind: "disk", node, life });
  }

  send(message: Message): void {
    if (regionOfNode(message.from) !== regionOfNode(message.to)) throw new Error(`raft message across regions: ${message.from} -> ${message.to}`);
    const outcome = this.network.send(message.from, message.to);
    if (!outcome.sent) return;
    for (const delayUs of outcome.delaysUs) this.queue.push(this.clock.nowUs() + delayUs, { kind: "raft", message: structuredClone(message) });
  }

  // ---- NodeObserver: a restarted or snapshot-installed replica must be the region's state at that index ----

  readyTaken(_node: SimNode, _ready: Ready): void {}
  beforeDurable(_node: SimNode, _write: DiskWrite, _before: HardState): void {}
  applied(node: SimNode, entry: Entry): void {
    // Non-command entries (no-ops, conf changes) keep the state: record it at their index too.
    if (entry.kind === "normal" && entry.data.length > 0) return;
    this.checkReplicaAt(node, entry.index);
  }
  snapshotRestored(node: SimNode, metadata: SnapshotMetadata, _data: Uint8Array): void {
    this.counters.snapshotsRestored++;
    const before = this.nodePromises.get(node.id);
    this.checkReplicaAt(node, metadata.index);
    const after = this.nodePromises.get(node.id);
    if (before !== undefined && after !== undefined) this.oracle.promisesNotBelow(`n${node.id} installing snapshot ${metadata.index}`, before, after);
  }
  snapshotTaken(_node: SimNode, _index: Index, _data: Uint8Array): void {
    this.counters.snapshotsTaken++;
  }
  readState(_node: SimNode, _readState: ReadState): void {}
  started(node: SimNode): void {
    if (node.applied > 0) this.checkReplicaAt(node, node.applied);
  }

  private checkReplicaAt(node: SimNode, index: number): void {
    const r = regionOfNode(node.id);
    const replica = (node.application as PaxosApp).replica;
    const promises = WATCHED_KEYS.map((k) => replica.promised(k));
    this.nodePromises.set(node.id, promises);
    this.oracle.replicaState(`${REGIONS[r]}/n${node.id}`, REGIONS[r] as RegionId, index, hashText(JSON.stringify(replica.snapshot())), promises);
  }

  private node(id: NodeId): SimNode {
    const node = this.nodes[id - 1];
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  private driver(id: NodeId): NodeDriver {
    const driver = this.drivers[id - 1];
    if (driver === undefined) throw new Error(`no driver ${id}`);
    return driver;
  }

  private stats(): Record<string, number> {
    const clients = { sent: 0, granted: 0, held: 0, renewed: 0, released: 0, failed: 0, resent: 0 };
    for (const c of this.clients) for (const k of Object.keys(clients) as (keyof typeof clients)[]) clients[k] += c.counters[k];
    const out: Record<string, number> = { ...this.counters, ...this.oracle.counters };
    for (const [k, v] of Object.entries(clients)) out[`client_${k}`] = v;
    return out;
  }
}

export function runGlobalSimulation(options: GlobalSimOptions): GlobalSimResult {
  return new GlobalSim(options).run();
}
