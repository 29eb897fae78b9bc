// The region's part in global locks (packages/paxos, README "Driver"). On every node it owns
// the GlobalReplica (acceptor, learner, global lock table), changed only by Paxos commands
// committed in the region's Raft log. On the region's leader it also runs the Proposer and
// the LeaseClock (created with epoch = the Raft term when the node becomes leader, dropped
// when it stops leading), a tick timer, and the client requests waiting for their answers.
//
// The one rule that makes a region a durable acceptor: a reply to a prepare or accept leaves
// only when the command has been committed and applied here (applyCommand), never earlier.

import {
  asEpoch,
  asFencingToken,
  decodeReplicaCommand,
  decodeReplicaSnapshot,
  DEFAULT_LEASE_CLOCK,
  DEFAULT_PROPOSER_TIMING,
  GlobalLockTable,
  GlobalReplica,
  LeaseClock,
  Proposer,
  routeInbound,
  type AppliedCommand,
  type ChosenMessage,
  type GlobalKey,
  type HolderLease,
  type LeaseClockConfig,
  type LockAnswer,
  type LockCommand,
  type PaxosConfig,
  type PaxosMessage,
  type ProposerConfig,
  type ProposerInbound,
  type ProposerStats,
  type RegionId,
  type ReplicaCommand,
  type ReplicaSnapshot,
  type ReplicaView,
  type RequestId,
} from "@geolock/paxos";
import { NO_NODE, SeededRng, type NodeId, type Role, type Term } from "@geolock/raft";
import { RequestError, type GlobalHolderWire, type PeerId } from "@geolock/transport";
import type { Logger } from "pino";
import type { Clock } from "./clock.js";
import { GlobalWaiters } from "./global-waiters.js";
import { LockWatches, type WatchSink } from "./lock-watches.js";
import type { PaxosPeers, PaxosPeersHost } from "./paxos-peers.js";
import { encodePaxosEntry } from "./region-entry.js";
import type { RegionNode } from "./region-node.js";

/** Proposer timing for a 10 ms tick (the paxos package's defaults). */
type ProposerTiming = Omit<ProposerConfig, "paxos" | "region" | "epoch" | "rng" | "view">;

export interface GlobalServiceOptions {
  readonly region: RegionId;
  readonly paxos: PaxosConfig;
  /** Milliseconds per proposer tick; the proposer's timing is counted in ticks. */
  readonly tickMs: number;
  readonly proposer: ProposerTiming;
  readonly leaseClock: LeaseClockConfig;
  /** Expire commands proposed per tick at most. */
  readonly leaseExpiriesPerTickMax: number;
  /** Client requests waiting on the leader at most; beyond it OVERLOADED. */
  readonly waitersMax: number;
  /** Bounds of a request's own deadline (the proposal's NO_QUORUM timeout). */
  readonly requestTimeoutMsMin: number;
  readonly requestTimeoutMsMax: number;
  /** Time after a request's deadline for its chosen command to be applied here. */
  readonly applyGraceMs: number;
  /** Seeds the proposer's backoff jitter. */
  readonly seed: number;
  /** Names a node of this region as a transport peer ("region/node"). */
  readonly peerNameOf: (node: NodeId) => PeerId;
}

export const DEFAULT_GLOBAL_TIMING = {
  tickMs: 10,
  proposer: DEFAULT_PROPOSER_TIMING,
  leaseClock: DEFAULT_LEASE_CLOCK,
  leaseExpiriesPerTickMax: 16,
  waitersMax: 8_192,
  requestTimeoutMsMin: 100,
  requestTimeoutMsMax: 60_000,
  applyGraceMs: 2_000,
} as const;

/** A client request on a global key, as the router hands it over (the holder's region is ours). */
export type GlobalRequest =
  | { readonly op: "acquire"; readonly key: GlobalKey; readonly requestId: RequestId; readonly owner: string; readonly ttlMs: number }
  | { readonly op: "renew"; readonly key: GlobalKey; readonly requestId: RequestId; readonly token: number; readonly ttlMs: number }
  | { readonly op: "release"; readonly key: GlobalKey; readonly requestId: RequestId; readonly token: number };

/** A key as this region's table has applied it: not linearizable (see README). */
export interface GlobalStatusView {
  readonly name: string;
  readonly scope: "global";
  /** The region whose applied view this is. */
  readonly region: string;
  /** Instances of the key this region has applied. */
  readonly applied: number;
  readonly token: number | null;
  readonly holder: { readonly region: string; readonly clientId: string; readonly owner: string; readonly token: number; readonly leaseVersion: number; readonly ttlMs: number } | null;
  /** The token the next grant will carry. */
  readonly nextToken: number;
}

export interface GlobalStats {
  readonly keys: number;
  readonly holders: number;
  readonly waiting: number;
  readonly leading: boolean;
  readonly proposer: ProposerStats | null;
  readonly applied: number;
  readonly appendsRefused: number;
}

/** Bounds the self-addressed message loop of one flush (each round drains the proposer). */
const FLUSH_ROUNDS_MAX = 8;

interface Leadership {
  readonly term: Term;
  readonly proposer: Proposer;
  readonly leases: LeaseClock;
  readonly ticker: NodeJS.Timeout;
}

export class GlobalService implements PaxosPeersHost {
  private replica: GlobalReplica;
  private node: Pick<RegionNode, "propose"> | undefined;
  private role: Role = "follower";
  private leaderId: NodeId = NO_NODE;
  private lead: Leadership | undefined;
  private readonly waiters: GlobalWaiters;
  private readonly rng: SeededRng;
  /** The proposer reads the current replica through this, even after a snapshot replaced it. */
  private readonly view: ReplicaView;
  private appliedCommands = 0;
  private appendsRefused = 0;
  /** The holder of each watched key, as its watchers last heard: a release names it. */
  private readonly watchedHolders = new Map<GlobalKey, { readonly holder: GlobalHolderWire; readonly token: number }>();

  constructor(
    private readonly options: GlobalServiceOptions,
    private readonly clock: Clock,
    private readonly peers: PaxosPeers,
    private readonly logger: Logger,
    /** The node's watch table (shared with the lock service): told of every grant and release of a watched key. */
    private readonly watches: LockWatches = new LockWatches(),
  ) {
    this.replica = new GlobalReplica(options.paxos, options.region);
    this.waiters = new GlobalWaiters(options.waitersMax);
    this.rng = new SeededRng(options.seed);
    this.view = {
      appliedInstance: (key) => this.replica.appliedInstance(key),
      promised: (key) => this.replica.promised(key),
      keysAfter: (after, limit) => this.replica.keysAfter(after, limit),
    };
    peers.attach(this);
  }

  /** The region's Raft node, through which Paxos commands are appended to the log. */
  attach(node: Pick<RegionNode, "propose">): void {
    this.node = node;
  }

  isLeader(): boolean {
    return this.role === "leader";
  }

  leaderPeer(): PeerId | undefined {
    return this.leaderId === NO_NODE ? undefined : this.options.peerNameOf(this.leaderId);
  }

  /** Proposes a client's command on the leader; resolves with the table's answer once applied here. */
  submit(request: GlobalRequest, timeoutMs: number): Promise<LockAnswer> {
    const lead = this.lead;
    if (lead === undefined || this.role !== "leader") {
      return Promise.reject(new RequestError("NOT_LEADER", `not the leader of ${this.options.region}`, this.leaderPeer()));
    }
    // A retry of a command this region has applied already: its remembered answer.
    const known = this.replica.lockTable.lookup(request.key, request.requestId);
    if (known !== undefined) return Promise.resolve(known);
    const { requestTimeoutMsMin, requestTimeoutMsMax, tickMs, applyGraceMs } = this.options;
    const deadlineMs = Math.min(requestTimeoutMsMax, Math.max(requestTimeoutMsMin, timeoutMs));
    const command = this.commandOf(request);
    const answer = this.waiters.wait(request.key, request.requestId, deadlineMs + applyGraceMs, () => {
      const result = lead.proposer.propose(request.key, command, Math.ceil(deadlineMs / tickMs));
      if (!result.ok) throw new RequestError(result.reason === "invalid" ? "INVALID_ARGUMENT" : "OVERLOADED", result.message);
      return result.id;
    });
    this.flush();
    return answer;
  }

  /** This region's applied view of a key; any node serves it. */
  status(key: GlobalKey): GlobalStatusView {
    const table = this.replica.lockTable;
    const lease = table.holder(key);
    return {
      name: key,
      scope: "global",
      region: this.options.region,
      applied: table.appliedInstance(key),
      token: lease?.token ?? null,
      holder: lease === null ? null : holderView(lease),
      nextToken: table.keyState(key).nextToken,
    };
  }

  /**
   * Starts a watch of a global key for `sink`: its status as this region has applied it, at
   * instance `index`, then a push for every grant and release of a later instance. Like
   * status, it is this region's view, not a linearizable read.
   */
  watch(sink: WatchSink, watchId: number, key: GlobalKey): { index: number; status: GlobalStatusView } {
    const status = this.status(key);
    // Grants after this one carry larger tokens; a grant answered again to a retry does not.
    this.watches.watch(sink, watchId, key, status.nextToken - 1);
    const h = status.holder;
    if (h === null) this.watchedHolders.delete(key);
    else this.watchedHolders.set(key, { holder: { region: h.region, clientId: h.clientId, owner: h.owner }, token: h.token });
    return { index: status.applied, status };
  }

  /** Applies one committed Paxos command (RegionApplication opened its envelope). Every node. */
  applyCommand(raw: unknown): void {
    const decoded = decodeReplicaCommand(raw, this.options.paxos);
    if (!decoded.ok) {
      // Every replica reads the same bytes, so every replica skips the same entry.
      this.logger.error({ error: decoded.error }, "skipping an undecodable paxos entry");
      return;
    }
    const command = decoded.value;
    const result = this.replica.apply(command);
    this.appliedCommands += 1;
    this.answerApplied(command, result.applied);
    if (this.watches.size > 0) this.tellWatches(command, result.applied);
    if (this.role !== "leader") return;
    // Only now, with the command committed and applied in the region, may its reply leave.
    if (result.reply !== null) this.dispatch(result.reply);
    this.flush();
  }

  /** A validated message from another region (via PaxosPeers), on the leader. */
  deliver(message: PaxosMessage): void {
    if (this.role !== "leader") return;
    this.receive(message);
    this.flush();
  }

  onLeadership(role: Role, leader: NodeId, term: Term): void {
    this.role = role;
    this.leaderId = leader;
    if (role === "leader" && this.lead === undefined) this.startLeading(term);
    else if (role !== "leader" && this.lead !== undefined) this.stopLeading();
  }

  snapshot(): ReplicaSnapshot {
    return this.replica.snapshot();
  }

  /** Replaces the replica by a snapshot's; throws (the node cannot go on) if it does not validate. */
  restore(raw: unknown): void {
    const decoded = decodeReplicaSnapshot(raw, this.options.paxos);
    if (!decoded.ok) throw new Error(`global replica snapshot refused: ${decoded.error}`);
    if (decoded.value.region !== this.options.region) throw new Error(`global replica snapshot of ${decoded.value.region} given to ${this.options.region}`);
    this.replica = GlobalReplica.restore(decoded.value, this.options.paxos);
  }

  stats(): GlobalStats {
    return {
      keys: this.replica.lockTable.keyCount,
      holders: this.lead?.leases.size ?? this.replica.holders().length,
      waiting: this.waiters.size,
      leading: this.lead !== undefined,
      proposer: this.lead?.proposer.stats() ?? null,
      applied: this.appliedCommands,
      appendsRefused: this.appendsRefused,
    };
  }

  stop(): void {
    if (this.lead !== undefined) clearInterval(this.lead.ticker);
    this.lead = undefined;
    this.waiters.failAll(new RequestError("UNAVAILABLE", "node is shutting down"));
  }

  private startLeading(term: Term): void {
    const { options } = this;
    const proposer = new Proposer({ ...options.proposer, paxos: options.paxos, region: options.region, epoch: asEpoch(term), rng: this.rng, view: this.view });
    const leases = new LeaseClock(options.region, options.paxos.regions, options.leaseClock);
    // Every lease counts afresh from now on this clock: never earlier than the old leader's.
    leases.reset(this.replica.holders(), this.clock.nowMs());
    const ticker = setInterval(() => this.tick(), options.tickMs);
    this.lead = { term, proposer, leases, ticker };
    this.logger.info({ term, keys: this.replica.lockTable.keyCount, leases: leases.size }, "leading the region's global proposer");
  }

  private stopLeading(): void {
    if (this.lead === undefined) return;
    clearInterval(this.lead.ticker);
    this.logger.info({ term: this.lead.term }, "stopped leading the region's global proposer");
    this.lead = undefined;
    // Their commands may still be chosen: a retry with the same requestId is exactly-once.
    this.waiters.failAll(new RequestError("NOT_LEADER", `${this.options.region} changed leader; the command may still take effect`, this.leaderPeer()));
  }

  private tick(): void {
    const lead = this.lead;
    if (lead === undefined) return;
    lead.proposer.tick();
    for (const { key, command } of lead.leases.due(this.clock.nowMs(), this.options.leaseExpiriesPerTickMax)) {
      const result = lead.proposer.propose(key, command);
      if (!result.ok) this.logger.debug({ key, reason: result.reason }, "expire not proposed; the lease clock offers it again");
    }
    this.flush();
  }

  /** Hands out what the proposer produced: messages (own region's handled here) and failures. */
  private flush(): void {
    for (let round = 0; round < FLUSH_ROUNDS_MAX; round++) {
      const lead = this.lead;
      if (lead === undefined) return;
      const { messages, outcomes } = lead.proposer.drain();
      if (messages.length === 0 && outcomes.length === 0) return;
      for (const outcome of outcomes) {
        if (outcome.kind !== "failed") continue; // chosen: the answer comes when the table applies it
        const why = outcome.code === "NO_QUORUM" ? `no majority of regions chose it in time; it may still take effect` : "a majority of regions refused the key";
        this.waiters.failProposal(outcome.id, new RequestError(outcome.code, `${outcome.key}: ${why}`));
      }
      for (const message of messages) this.dispatch(message);
    }
  }

  private dispatch(message: PaxosMessage): void {
    if (message.to === this.options.region) this.receive(message);
    else this.peers.send(message);
  }

  /** README step 3: acceptor and learner inputs go to the log, replies to the proposer. */
  private receive(message: PaxosMessage): void {
    if (message.kind === "chosen" && message.from === this.options.region) this.answerDecided(message);
    const action = routeInbound(message, this.replica);
    for (const command of action.log) this.append(command);
    if (action.toProposer && isProposerInbound(message)) this.lead?.proposer.step(message);
    if (action.answerCatchUp && message.kind === "catchUpRequest") {
      this.dispatch(this.replica.answerCatchUp(message, this.options.proposer.catchUpKeysMax));
    }
  }

  /**
   * The own proposer's value was chosen: when this region has applied the key up to the
   * instance before, the table's answers are already determined (a deterministic function
   * of the chosen prefix and the value), so the waiting clients get them now, on a scratch
   * copy of the key, one local Raft commit before the `learn` is applied here. A chosen
   * value is durable in a majority of regions' logs, so nothing answered here can be lost.
   */
  private answerDecided(chosen: ChosenMessage): void {
    if (this.waiters.size === 0 || this.replica.appliedInstance(chosen.key) !== chosen.instance - 1) return;
    const scratch = new GlobalLockTable(this.options.paxos);
    const state = this.replica.lockTable.keyState(chosen.key);
    if (state.applied > 0) scratch.install(chosen.key, state);
    for (const a of scratch.apply(chosen.key, chosen.instance, chosen.value)) {
      if (a.command.type !== "expire") this.waiters.answer(a.key, a.command.requestId, a.answer);
    }
  }

  private append(command: ReplicaCommand): void {
    const result = this.node?.propose(encodePaxosEntry(command));
    // A command not appended is a message lost: the proposer's retransmission recovers.
    if (result?.ok !== true) this.appendsRefused += 1;
  }

  private answerApplied(command: ReplicaCommand, applied: readonly AppliedCommand[]): void {
    for (const a of applied) {
      if (a.command.type !== "expire") this.waiters.answer(a.key, a.command.requestId, a.answer);
    }
    if (command.type !== "learn" && command.type !== "installKey") return;
    this.lead?.leases.observe(command.key, this.replica.lockTable.holder(command.key), this.clock.nowMs());
    // A key state installed by catch-up skips instances: the dedup records hold their answers.
    if (command.type === "installKey") {
      for (const requestId of this.waiters.waitingOn(command.key)) {
        const answer = this.replica.lockTable.lookup(command.key, requestId);
        if (answer !== undefined) this.waiters.answer(command.key, requestId, answer);
      }
    }
  }

  /** Grants and releases of watched keys, in the order the table applied them. */
  private tellWatches(command: ReplicaCommand, applied: readonly AppliedCommand[]): void {
    if (command.type === "installKey") {
      // Caught up past instances whose changes nobody was told of.
      this.watchedHolders.delete(command.key);
      this.watches.endName(command.key, "the region installed the key's state past skipped instances; watch again for the current status");
      return;
    }
    for (const a of applied) {
      if (!this.watches.watching(a.key)) {
        this.watchedHolders.delete(a.key);
        continue;
      }
      // A retry answered from the dedup record changed nothing.
      if (a.duplicate) continue;
      if (a.command.type === "acquire" && a.answer.kind === "granted") {
        const holder = holderWire(a.command.holder);
        // Its holder asked again: the new grant replaced the old one, which ends here.
        const replaced = this.watchedHolders.get(a.key);
        if (replaced !== undefined && replaced.token !== a.answer.token) this.watches.globalChanged(a.instance, a.key, replaced.holder, replaced.token, "released");
        this.watchedHolders.set(a.key, { holder, token: a.answer.token });
        this.watches.globalChanged(a.instance, a.key, holder, a.answer.token, undefined);
      } else if (a.answer.kind === "released" || a.answer.kind === "expired") {
        const last = this.watchedHolders.get(a.key);
        if (last === undefined || last.token !== a.answer.token) {
          // A bookkeeping slip here must not stop the node: the watchers start again.
          this.logger.error({ key: a.key, token: a.answer.token, known: last }, "a watched global key lost a holder its watchers did not know; ending its watches");
          this.watchedHolders.delete(a.key);
          this.watches.endName(a.key, "the node lost track of the key's holder; watch again for the current status");
          continue;
        }
        this.watchedHolders.delete(a.key);
        this.watches.globalChanged(a.instance, a.key, last.holder, a.answer.token, a.answer.kind);
      }
    }
  }

  private commandOf(request: GlobalRequest): LockCommand {
    switch (request.op) {
      case "acquire":
        return {
          type: "acquire",
          requestId: request.requestId,
          holder: { region: this.options.region, clientId: request.requestId.clientId, owner: request.owner },
          ttlMs: request.ttlMs,
        };
      case "renew":
        return { type: "renew", requestId: request.requestId, token: asFencingToken(request.token), ttlMs: request.ttlMs };
      case "release":
        return { type: "release", requestId: request.requestId, token: asFencingToken(request.token) };
    }
  }
}

function isProposerInbound(m: PaxosMessage): m is ProposerInbound {
  return m.kind === "promise" || m.kind === "accepted" || m.kind === "nack" || m.kind === "refused" || m.kind === "catchUpReply";
}

function holderWire(holder: HolderLease["holder"]): GlobalHolderWire {
  return { region: holder.region, clientId: holder.clientId, owner: holder.owner };
}

function holderView(lease: HolderLease): NonNullable<GlobalStatusView["holder"]> {
  const { holder } = lease;
  return { region: holder.region, clientId: holder.clientId, owner: holder.owner, token: lease.token, leaseVersion: lease.leaseVersion, ttlMs: lease.ttlMs };
}
