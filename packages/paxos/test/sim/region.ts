// One simulated region, driven exactly as README "Driver" prescribes. Its replicated state
// (GlobalReplica: acceptor + learner + table) is modelled as one atomic replica that only
// changes when a command "commits" in the region's Raft log, a few ticks after it was
// appended. The proposer and the lease clock are volatile: a crash of the region's leader
// loses them and the uncommitted tail of the log, never the replica. The new leader runs a
// new proposer with a higher epoch, and restarts every lease from its own clock.

import type { SeededRng } from "@geolock/raft";
import {
  asEpoch,
  decodeReplicaSnapshot,
  GlobalReplica,
  LeaseClock,
  Proposer,
  routeInbound,
  type AcceptorLimits,
  type AcceptorState,
  type AppliedCommand,
  type FencingToken,
  type GlobalKey,
  type LeaseClockConfig,
  type LockAnswer,
  type LockCommand,
  type PaxosConfig,
  type PaxosMessage,
  type ProposalId,
  type ProposerConfig,
  type ProposerStats,
  type RegionId,
  type ReplicaCommand,
} from "../../src/index.js";
import type { Oracle } from "./oracle.js";

/** How a region's parts are built: the real ones, or a test's deliberately broken variant. */
export interface RegionParts {
  readonly createAcceptor?: (limits: AcceptorLimits) => AcceptorState;
  readonly createProposer?: (config: ProposerConfig) => Proposer;
  readonly createLeaseClock?: (region: RegionId, regions: readonly RegionId[], config: LeaseClockConfig) => LeaseClock;
}

export interface RegionTiming {
  readonly proposer: Omit<ProposerConfig, "paxos" | "region" | "epoch" | "rng" | "view">;
  readonly leaseClock: LeaseClockConfig;
  /** Ticks from appending a command to the region's log to its commit (+ 0..2 jitter). */
  readonly commitTicks: number;
}

/** Where the region delivers answers for its clients' requests. */
export interface ClientPort {
  answer(clientId: string, seq: number, answer: LockAnswer): void;
  fail(clientId: string, seq: number, code: string): void;
}

/** The holder token after an applied command, given the one before (null: free). */
function holderAfter(a: AppliedCommand, before: FencingToken | null): FencingToken | null {
  switch (a.answer.kind) {
    case "granted":
      return a.answer.token;
    case "released":
    case "expired":
      return null;
    default:
      return before;
  }
}

export class SimRegion {
  /** Replaced on some crashes by a copy restored from its snapshot, as a restarted node would. */
  replica: GlobalReplica;
  private proposer: Proposer | null = null;
  private leaseClock: LeaseClock | null = null;
  private epoch = 0;
  private log: { command: ReplicaCommand; commitTick: number }[] = [];
  /** Proposal -> the client request it carries. */
  private readonly requests = new Map<ProposalId, { key: GlobalKey; clientId: string; seq: number }>();
  /** The holder's token after the last apply, per key: tells a fresh grant from a re-acquire. */
  private readonly previousHolder = new Map<GlobalKey, FencingToken | null>();
  downUntilTick = -1;
  snapshotRestores = 0;
  crashes = 0;

  constructor(
    readonly id: RegionId,
    private readonly config: PaxosConfig,
    private readonly timing: RegionTiming,
    private readonly parts: RegionParts,
    private readonly rng: SeededRng,
    private readonly oracle: Oracle,
    /** This region's clock rate (its ms per real tick): 1 +/- the drift. */
    private readonly clockRate: number,
    private readonly send: (m: PaxosMessage) => void,
    private readonly clients: ClientPort,
  ) {
    const acceptor = parts.createAcceptor?.(config);
    this.replica = new GlobalReplica(config, id, acceptor);
  }

  get up(): boolean {
    return this.proposer !== null;
  }

  clockMs(now: number): number {
    return Math.floor(now * this.clockRate);
  }

  /** A new leader takes over: a fresh proposer with a higher epoch; leases restart from now. */
  elect(now: number): void {
    this.epoch++;
    const config: ProposerConfig = { ...this.timing.proposer, paxos: this.config, region: this.id, epoch: asEpoch(this.epoch), rng: this.rng, view: this.replica };
    this.proposer = this.parts.createProposer?.(config) ?? new Proposer(config);
    const { regions } = this.config;
    this.leaseClock = this.parts.createLeaseClock?.(this.id, regions, this.timing.leaseClock) ?? new LeaseClock(this.id, regions, this.timing.leaseClock);
    this.leaseClock.reset(this.replica.holders(), this.clockMs(now));
  }

  /** The leader dies: volatile state and a random uncommitted tail of the log are lost. */
  crash(now: number, downTicks: number): void {
    this.proposer = null;
    this.leaseClock = null;
    this.requests.clear();
    const uncommitted = this.log.filter((e) => e.commitTick > now).length;
    const lost = this.rng.nextInt(uncommitted + 1);
    this.log.length -= lost;
    if (this.rng.chance(0.5)) this.restoreFromSnapshot();
    this.downUntilTick = now + downTicks;
    this.crashes++;
  }

  /** The region's state survives only through its snapshot: encode, decode, validate, restore. */
  private restoreFromSnapshot(): void {
    const decoded = decodeReplicaSnapshot(JSON.parse(JSON.stringify(this.replica.snapshot())), this.config);
    if (!decoded.ok) throw new Error(`${this.id}: own snapshot does not validate: ${decoded.error}`);
    this.replica = GlobalReplica.restore(decoded.value, this.config, this.parts.createAcceptor?.(this.config));
    this.snapshotRestores++;
  }

  /** A client's command; false when there is no leader or the proposer refuses it. */
  submit(key: GlobalKey, command: LockCommand): boolean {
    if (this.proposer === null) return false;
    const result = this.proposer.propose(key, command);
    if (!result.ok) return false;
    if (command.type !== "expire") this.requests.set(result.id, { key, clientId: command.requestId.clientId, seq: command.requestId.seq });
    this.flush();
    return true;
  }

  receive(m: PaxosMessage, now: number): void {
    if (this.proposer === null) return; // no leader: nobody appends, nobody answers
    const action = routeInbound(m, this.replica);
    for (const command of action.log) this.append(command, now);
    if (action.toProposer && (m.kind === "promise" || m.kind === "accepted" || m.kind === "nack" || m.kind === "refused" || m.kind === "catchUpReply")) {
      this.proposer.step(m);
    }
    if (action.answerCatchUp && m.kind === "catchUpRequest") this.send(this.replica.answerCatchUp(m, this.timing.proposer.catchUpKeysMax));
    this.flush();
  }

  tick(now: number): void {
    if (this.proposer === null) {
      if (now >= this.downUntilTick) this.elect(now);
      return;
    }
    this.applyCommitted(now);
    this.proposer.tick();
    if (now % 10 === 0) this.proposeExpiries(now);
    this.flush();
  }

  pendingProposals(): number {
    return this.proposer?.stats().pendingProposals ?? 0;
  }

  /** The current proposer's counters (a crash starts them afresh). */
  proposerStats(): ProposerStats | undefined {
    return this.proposer?.stats();
  }

  assertInvariants(): void {
    this.replica.assertInvariants();
    this.proposer?.assertInvariants();
  }

  private append(command: ReplicaCommand, now: number): void {
    const last = this.log[this.log.length - 1]?.commitTick ?? 0;
    this.log.push({ command, commitTick: Math.max(last, now + this.timing.commitTicks + this.rng.nextInt(3)) });
  }

  private applyCommitted(now: number): void {
    let applied = 0;
    while (applied < this.log.length && (this.log[applied]?.commitTick ?? Infinity) <= now) {
      const entry = this.log[applied];
      if (entry !== undefined) this.applyOne(entry.command, now);
      applied++;
    }
    this.log.splice(0, applied);
  }

  private applyOne(command: ReplicaCommand, now: number): void {
    if (command.type === "learn") this.oracle.learned(this.id, command.key, command.instance, command.value);
    if (command.type === "installKey" && command.state.applied > this.replica.appliedInstance(command.key)) {
      this.previousHolder.set(command.key, command.state.holder?.token ?? null);
      this.oracle.installed(this.id, command.key, command.state);
    }
    const result = this.replica.apply(command);
    const reply = result.reply;
    if (command.type === "accept" && reply?.kind === "accepted") {
      this.oracle.accepted(this.id, command.key, command.instance, command.ballot, command.value);
    }
    if (command.type === "prepare" || command.type === "accept") this.oracle.promise(this.id, command.key, this.replica.promised(command.key));
    if (reply !== null) this.send(reply); // only now that the command is committed and applied
    if (command.type === "learn" || command.type === "installKey") this.afterLearning(command.key, result.applied, now);
    if (command.type === "installKey") this.answerFromDedup(command.key);
  }

  /** A key state installed by catch-up skips instances: answer waiting requests from its dedup records. */
  private answerFromDedup(key: GlobalKey): void {
    for (const request of this.requests.values()) {
      if (request.key !== key) continue;
      const answer = this.replica.lockTable.lookup(key, { clientId: request.clientId, seq: request.seq });
      if (answer !== undefined) this.clients.answer(request.clientId, request.seq, answer);
    }
  }

  private afterLearning(key: GlobalKey, applied: readonly AppliedCommand[], now: number): void {
    const byInstance = new Map<number, string[]>();
    let holderBefore = this.previousHolder.get(key) ?? null;
    for (const a of applied) {
      byInstance.set(a.instance, [...(byInstance.get(a.instance) ?? []), JSON.stringify(a.answer)]);
      if (a.answer.kind === "granted" && !a.duplicate && holderBefore !== a.answer.token) this.oracle.freshGrant(this.id, key, a.answer.token);
      if (!a.duplicate) holderBefore = holderAfter(a, holderBefore);
      if (a.command.type !== "expire") this.clients.answer(a.command.requestId.clientId, a.command.requestId.seq, a.answer);
    }
    for (const [instance, answers] of byInstance) this.oracle.appliedInstance(this.id, key, instance as AppliedCommand["instance"], answers.join("|"));
    this.oracle.keyState(this.id, key, this.replica.lockTable.keyState(key));
    this.previousHolder.set(key, this.replica.lockTable.holder(key)?.token ?? null);
    this.leaseClock?.observe(key, this.replica.lockTable.holder(key), this.clockMs(now));
  }

  private proposeExpiries(now: number): void {
    if (this.leaseClock === null || this.proposer === null) return;
    for (const { key, command } of this.leaseClock.due(this.clockMs(now), 4)) this.proposer.propose(key, command);
  }

  private flush(): void {
    if (this.proposer === null) return;
    const { messages, outcomes } = this.proposer.drain();
    for (const m of messages) this.send(m);
    for (const o of outcomes) {
      const request = this.requests.get(o.id);
      this.requests.delete(o.id);
      if (request !== undefined && o.kind === "failed") this.clients.fail(request.clientId, request.seq, o.code);
    }
  }
}
